//! The text log line, cheap enough for a line on every keyword call:
//! the same output as `tracing_subscriber`'s default, without its costs.
//! A timestamp's date and time of day are formatted once a second per
//! thread, and plain field values (printable ASCII, numbers, booleans)
//! are written as they are rather than through `Debug`. Anything else
//! (the message, values that need escaping, ANSI colours) goes through
//! the default visitor, so it reads exactly as before.

use std::cell::RefCell;
use std::fmt::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing_subscriber::field::{RecordFields, VisitOutput};
use tracing_subscriber::fmt::format::{DefaultVisitor, Writer};
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::FormatFields;

/// Fields as `name=value` separated by spaces, as the default formatter
/// writes them.
pub struct PlainFields;

impl<'w> FormatFields<'w> for PlainFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut visitor = PlainVisitor {
            writer,
            empty: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct PlainVisitor<'w> {
    writer: Writer<'w>,
    /// No field written yet: no space before the next one.
    empty: bool,
    result: fmt::Result,
}

/// Whether `Debug` would print `value` as itself between quotes.
pub(super) fn plain(value: &str) -> bool {
    value
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

impl PlainVisitor<'_> {
    /// Whether a field named `name` can be written here: not the message,
    /// not a name the default visitor treats specially, no colours.
    fn fast(&self, name: &str) -> bool {
        self.result.is_ok()
            && !self.writer.has_ansi_escapes()
            && name != "message"
            && !name.starts_with("r#")
            && !name.starts_with("log.")
    }

    fn write_name(&mut self, name: &str) -> fmt::Result {
        if !std::mem::take(&mut self.empty) {
            self.writer.write_char(' ')?;
        }
        self.writer.write_str(name)?;
        self.writer.write_char('=')
    }

    /// One field through the default visitor.
    fn default(&mut self, record: impl FnOnce(&mut DefaultVisitor<'_>)) {
        if self.result.is_err() {
            return;
        }
        let mut visitor = DefaultVisitor::new(self.writer.by_ref(), self.empty);
        record(&mut visitor);
        self.result = visitor.finish();
        // The default visitor skips `log.` fields without writing.
        self.empty = false;
    }
}

impl Visit for PlainVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.fast(field.name()) && plain(value) {
            self.result = self.write_name(field.name()).and_then(|()| {
                self.writer.write_char('"')?;
                self.writer.write_str(value)?;
                self.writer.write_char('"')
            });
        } else {
            self.default(|v| v.record_str(field, value));
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.fast(field.name()) {
            self.result = self
                .write_name(field.name())
                .and_then(|()| write_decimal(&mut self.writer, value, 1));
        } else {
            self.default(|v| v.record_u64(field, value));
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.fast(field.name()) {
            self.result = self
                .write_name(field.name())
                .and_then(|()| self.writer.write_str(if value { "true" } else { "false" }));
        } else {
            self.default(|v| v.record_bool(field, value));
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.default(|v| v.record_error(field, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.default(|v| v.record_debug(field, value));
    }
}

/// `value` in decimal, zero-padded to at least `width` digits (itoa's
/// digit pairs: the keyword line writes two numbers per call).
pub(super) fn write_decimal(out: &mut impl Write, value: u64, width: usize) -> fmt::Result {
    const ZEROS: &str = "00000000000000000000";
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(value);
    if let Some(padding) = width.checked_sub(digits.len()).filter(|&n| n > 0) {
        out.write_str(&ZEROS[..padding.min(ZEROS.len())])?;
    }
    out.write_str(digits)
}

/// UTC time as `2026-11-30T01:02:03.456789Z`, as the default timer writes
/// it (for the years 1970 to 9999 it serves).
pub struct CachedSecondTime;

thread_local! {
    /// The last second formatted on this thread, and its text up to the dot.
    static LAST_SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

impl FormatTime for CachedSecondTime {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        write_time(w, since_epoch.as_secs(), since_epoch.subsec_micros())
    }
}

pub(super) fn write_time(w: &mut impl Write, second: u64, micros: u32) -> fmt::Result {
    LAST_SECOND.with_borrow_mut(|(cached, text)| {
        if *cached != second {
            text.clear();
            write_date_time(text, second)?;
            *cached = second;
        }
        w.write_str(text)
    })?;
    w.write_char('.')?;
    write_decimal(w, micros.into(), 6)?;
    w.write_char('Z')
}

/// `YYYY-MM-DDTHH:MM:SS` of a Unix time (days to a civil date by Howard
/// Hinnant's `civil_from_days`).
fn write_date_time(out: &mut String, unix_seconds: u64) -> fmt::Result {
    let days = (unix_seconds / 86_400) as i64;
    let of_day = unix_seconds % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    let parts = [
        (year as u64, 4, '-'),
        (month as u64, 2, '-'),
        (day as u64, 2, 'T'),
        (of_day / 3_600, 2, ':'),
        (of_day / 60 % 60, 2, ':'),
    ];
    for (value, width, separator) in parts {
        write_decimal(out, value, width)?;
        out.write_char(separator)?;
    }
    write_decimal(out, of_day % 60, 2)
}

#[cfg(test)]
pub(super) mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// Text written by a subscriber, kept for the test to read.
    #[derive(Clone, Default)]
    pub(in crate::logging) struct Captured(pub(in crate::logging) Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What `emit` logs through the default text layer (`plain` false) or
    /// through this one, both without the time.
    fn line(plain: bool, emit: impl Fn()) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .without_time();
        if plain {
            let subscriber = tracing_subscriber::registry().with(layer.fmt_fields(PlainFields));
            tracing::subscriber::with_default(subscriber, emit);
        } else {
            tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), emit);
        }
        let bytes = captured.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn fields_read_as_the_default_formatter_writes_them() {
        let events: [fn(); 4] = [
            || {
                let user: Option<&str> = None;
                tracing::info!(
                    protocol = "xmlrpc",
                    namespace = "",
                    user,
                    keyword = "Get Time Based OTP",
                    status = "PASS",
                    duration_us = 17u64,
                    "keyword"
                )
            },
            || {
                tracing::info!(
                    user = Some("robot"),
                    namespace = "Suite \"A\"",
                    path = "C:\\robots",
                    name = "ünï \u{1b}[31m",
                    ok = true,
                    n = -3i64,
                    "a \u{1b} message {}",
                    7
                )
            },
            || tracing::warn!(error = %"shown", debug = ?"quoted", zero = 0u64, "x"),
            || tracing::info!(max = u64::MAX, "only a number"),
        ];
        for emit in events {
            let default = line(false, emit);
            assert!(default.contains("INFO") || default.contains("WARN"));
            assert_eq!(line(true, emit), default);
        }
    }

    #[test]
    fn times_read_as_utc() {
        // Each from `date -u -d @SECONDS +%Y-%m-%dT%H:%M:%S`.
        let cases = [
            (0, 0, "1970-01-01T00:00:00.000000Z"),
            (951_782_400, 5, "2000-02-29T00:00:00.000005Z"),
            (1_700_000_000, 123_456, "2023-11-14T22:13:20.123456Z"),
            (1_700_000_000, 999_999, "2023-11-14T22:13:20.999999Z"),
            (4_107_542_399, 10, "2100-02-28T23:59:59.000010Z"),
            (253_402_300_799, 1, "9999-12-31T23:59:59.000001Z"),
        ];
        for (second, micros, expected) in cases {
            let mut text = String::new();
            write_time(&mut text, second, micros).unwrap();
            assert_eq!(text, expected);
        }
    }
}
