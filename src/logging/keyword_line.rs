//! The `info` line of every keyword call, written without tracing's
//! dispatch when that gives the same bytes: the text format without
//! colours and a filter that only names targets and levels (so whether
//! the line is written is known once, at start-up). The dispatch, the
//! filter and the field visitors cost about 5k instructions a call, more
//! than formatting the line; here it is one buffer, and one write per
//! line, or per burst of lines on a busy runtime worker
//! ([`batch_on_this_thread`]), by one thread at a time
//! ([`super::one_writer`]).
//!
//! Anything else — JSON logs, colours, a filter with field or span
//! directives, a value that needs escaping — goes through `tracing` as
//! before (`KeywordLine::Tracing`), and a test holds the two equal byte
//! for byte.

use std::cell::RefCell;
use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use super::one_writer::OneWriter;
use super::text::{plain, write_decimal, write_time};

/// The target of the keyword line: the module that logs it.
pub const TARGET: &str = "rpa_mfa::remote";

/// How the keyword line is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeywordLine {
    /// Through `tracing` (the default, and whenever the direct line could
    /// differ).
    Tracing,
    /// Straight to stderr by [`write`].
    Direct,
    /// Not at all: the filter leaves `info` of [`TARGET`] out.
    Off,
}

static MODE: AtomicU8 = AtomicU8::new(KeywordLine::Tracing as u8);

/// How the keyword line is written in this process.
pub fn mode() -> KeywordLine {
    match MODE.load(Ordering::Relaxed) {
        1 => KeywordLine::Direct,
        2 => KeywordLine::Off,
        _ => KeywordLine::Tracing,
    }
}

pub(super) fn set_mode(mode: KeywordLine) {
    MODE.store(mode as u8, Ordering::Relaxed);
}

/// Whether a filter such as `info` or `rpa_mfa=debug,warn` decides by
/// target and level alone: no `[span{field}]` directives.
pub(super) fn static_filter(filter: &str) -> bool {
    !filter.contains(['[', ']', '{', '}'])
}

/// The fields of one keyword line.
pub struct Fields<'a> {
    pub protocol: &'a str,
    pub namespace: &'a str,
    pub user: Option<&'a str>,
    pub keyword: &'a str,
    pub status: &'a str,
    pub duration_us: u64,
}

impl Fields<'_> {
    /// Whether every text field is written as it is (no escaping), as
    /// [`write`] requires. The protocol, keyword and status are the
    /// server's own plain names (a test holds every keyword name plain);
    /// the namespace and user come from outside.
    pub fn plain(&self) -> bool {
        plain(self.namespace) && self.user.is_none_or(plain)
    }
}

thread_local! {
    /// Lines a runtime worker wrote since it was last idle (see
    /// [`batch_on_this_thread`]); otherwise the line being written.
    static PENDING: RefCell<Pending> = const { RefCell::new(Pending { lines: String::new(), batching: false }) };
}

/// Lines waiting for their thread to go idle, written when it does,
/// before they would pass [`PENDING_BYTES`], or when the thread ends.
struct Pending {
    lines: String,
    batching: bool,
}

impl Pending {
    /// Adds one line, writing through `write` what must go now: the line
    /// when the thread does not batch, the batch before it when the two
    /// would pass [`PENDING_BYTES`]. The line is formatted at the end of
    /// the batch, so it is never copied.
    fn push(&mut self, second: u64, micros: u32, fields: &Fields<'_>, write: impl Fn(&[u8])) {
        let start = self.lines.len();
        if format(&mut self.lines, second, micros, fields).is_err() {
            self.lines.truncate(start);
            return;
        }
        if self.batching && self.lines.len() <= PENDING_BYTES {
            return;
        }
        let (earlier, line) = self.lines.as_bytes().split_at(start);
        if !earlier.is_empty() {
            write(earlier);
        }
        if !self.batching || line.len() > PENDING_BYTES {
            write(line);
            self.lines.clear();
        } else {
            self.lines.drain(..start);
        }
    }

    fn flush(&mut self, write: impl Fn(&[u8])) {
        if !self.lines.is_empty() {
            write(self.lines.as_bytes());
            self.lines.clear();
        }
    }
}

/// One thread writes at a time (see [`super::one_writer`]).
static ONE_WRITER: OneWriter = OneWriter::new();

/// As tracing's writer does: a log line that cannot be written is dropped.
fn write_or_drop(lines: &[u8]) {
    ONE_WRITER.write(lines, PENDING_BYTES, |piece| {
        let _ = write_to_stderr(piece);
    });
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.flush(write_or_drop);
    }
}

/// A batch is written before it grows past this (about 25 lines): Linux
/// writes up to this much to a pipe in one piece (`PIPE_BUF`), so lines
/// of several threads never mix.
const PENDING_BYTES: usize = 4096;

/// Makes this thread (a runtime worker) keep its keyword lines until
/// [`flush_this_thread`]: the runtime calls that when the worker runs out
/// of work, so one line is one `write` when calls come one at a time, and
/// a burst of calls is written in a few. A `write` per call was a tenth
/// of a busy server's time. A line comes a moment after its answer, never
/// later than the worker's next idle moment or about 25 lines later.
/// Blocking work goes to `spawn_blocking`, never `block_in_place`
/// (clippy.toml forbids it): a thread that blocks in place hands its worker
/// role to another and does not go idle as a worker, so its lines would
/// wait until the runtime reuses or stops it (`tests/gate.rs`,
/// `a_file_vault_write_has_its_keyword_line_at_once`).
pub fn batch_on_this_thread() {
    PENDING.with_borrow_mut(|pending| pending.batching = true);
}

/// Writes the lines this thread kept (see [`batch_on_this_thread`]).
pub fn flush_this_thread() {
    // `try_`: a thread being torn down may have dropped it already.
    let _ = PENDING.try_with(|pending| pending.borrow_mut().flush(write_or_drop));
}

/// Writes the line to stderr, now or with its worker's batch. Only for
/// [`KeywordLine::Direct`] and [`Fields::plain`] fields.
pub fn write(fields: &Fields<'_>) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    PENDING.with_borrow_mut(|pending| {
        pending.push(now.as_secs(), now.subsec_micros(), fields, write_or_drop);
    });
}

/// Writes `line` to standard error through a duplicate of its descriptor
/// (sharing its offset), without `Stderr`'s lock: two worker threads
/// logging at the same moment would otherwise queue on it, a futex wait
/// and wake for a lock held across a system call ([`ONE_WRITER`] keeps
/// them from queueing in the kernel instead). Each call is one `write` of
/// at most [`PENDING_BYTES`] (or of one longer line), so lines never mix
/// with tracing's other lines. If the duplicate cannot be made, through
/// `Stderr` as before.
fn write_to_stderr(line: &[u8]) -> std::io::Result<()> {
    use std::os::fd::AsFd;
    static DUPLICATE: OnceLock<Option<File>> = OnceLock::new();
    let duplicate = DUPLICATE.get_or_init(|| {
        let fd = std::io::stderr().as_fd().try_clone_to_owned().ok()?;
        Some(File::from(fd))
    });
    match duplicate {
        Some(file) => (&*file).write_all(line),
        None => std::io::stderr().write_all(line),
    }
}

/// The line as tracing's default text format writes it, without colours.
fn format(out: &mut String, second: u64, micros: u32, fields: &Fields<'_>) -> std::fmt::Result {
    use std::fmt::Write;
    write_time(out, second, micros)?;
    out.push_str("  INFO ");
    out.push_str(TARGET);
    out.push_str(": keyword protocol=\"");
    out.push_str(fields.protocol);
    out.push_str("\" namespace=\"");
    out.push_str(fields.namespace);
    if let Some(user) = fields.user {
        out.push_str("\" user=\"");
        out.push_str(user);
    }
    out.push_str("\" keyword=\"");
    out.push_str(fields.keyword);
    out.push_str("\" status=\"");
    out.push_str(fields.status);
    out.push_str("\" duration_us=");
    write_decimal(out, fields.duration_us, 1)?;
    out.write_char('\n')
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::fmt::format::Writer;
    use tracing_subscriber::fmt::time::FormatTime;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;
    use crate::logging::text::tests::Captured;
    use crate::logging::text::PlainFields;

    /// A clock stopped at one moment, written as the server's timer
    /// writes it.
    struct Stopped(u64, u32);

    impl FormatTime for Stopped {
        fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
            write_time(w, self.0, self.1)
        }
    }

    /// What the server's tracing layer (as `logging::init` sets it up for
    /// text without colours) writes for the keyword event.
    fn through_tracing(second: u64, micros: u32, fields: &Fields<'_>) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .fmt_fields(PlainFields)
            .with_timer(Stopped(second, micros));
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            // The event exactly as `RemoteApi::call` logs it.
            crate::remote::log_keyword_through_tracing(fields)
        });
        let bytes = captured.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn the_direct_line_is_tracings_line_byte_for_byte() {
        let cases = [
            Fields {
                protocol: "xmlrpc",
                namespace: "",
                user: None,
                keyword: "Get Time Based OTP",
                status: "PASS",
                duration_us: 17,
            },
            Fields {
                protocol: "jsonrpc",
                namespace: "Suite A",
                user: Some("robot"),
                keyword: "(unknown)",
                status: "FAULT",
                duration_us: 0,
            },
            Fields {
                protocol: "xmlrpc",
                namespace: "ns",
                user: Some(""),
                keyword: "Get Counter Based OTP",
                status: "FAIL",
                duration_us: u64::MAX,
            },
        ];
        for (second, micros) in [(1_700_000_000, 123_456), (0, 0)] {
            for fields in &cases {
                assert!(fields.plain());
                let mut direct = String::new();
                format(&mut direct, second, micros, fields).unwrap();
                let traced = through_tracing(second, micros, fields);
                assert!(traced.contains(" INFO "), "{traced}");
                assert_eq!(direct, traced);
            }
        }
    }

    /// A batch is written before the line that would take it past
    /// `PENDING_BYTES`, every write holds whole lines, and nothing is lost
    /// or reordered.
    #[test]
    fn a_batch_is_written_in_whole_lines_of_at_most_pipe_buf() {
        let writes = RefCell::new(Vec::<String>::new());
        let write = |bytes: &[u8]| {
            writes
                .borrow_mut()
                .push(String::from_utf8(bytes.to_vec()).unwrap())
        };
        let mut pending = Pending {
            lines: String::new(),
            batching: true,
        };
        const LINES: u64 = 100;
        for duration_us in 0..LINES {
            let fields = Fields {
                protocol: "xmlrpc",
                namespace: "",
                user: None,
                keyword: "Get Time Based OTP",
                status: "PASS",
                duration_us,
            };
            pending.push(1_700_000_000, 5, &fields, write);
        }
        pending.flush(write);
        let writes = writes.into_inner();
        assert!(writes.len() > 1, "{} writes", writes.len());
        for written in &writes {
            assert!(written.len() <= PENDING_BYTES, "{}", written.len());
            assert!(written.ends_with('\n'));
        }
        let durations: Vec<u64> = writes
            .concat()
            .lines()
            .map(|line| line.rsplit_once("duration_us=").unwrap().1.parse().unwrap())
            .collect();
        assert_eq!(durations, (0..LINES).collect::<Vec<_>>());
    }

    #[test]
    fn values_that_need_escaping_are_not_plain() {
        let mut fields = Fields {
            protocol: "xmlrpc",
            namespace: "Suite \"A\"",
            user: None,
            keyword: "Get Time Based OTP",
            status: "PASS",
            duration_us: 1,
        };
        assert!(!fields.plain());
        fields.namespace = "ünï";
        assert!(!fields.plain());
        fields.namespace = "";
        fields.user = Some("a\\b");
        assert!(!fields.plain());
    }

    #[test]
    fn the_servers_own_names_need_no_escaping() {
        let library = crate::server::library(
            std::sync::Arc::new(rpa_mfa_keywords::Services::offline()),
            &crate::stop::StopSwitch::new(false),
        );
        let names = library.keywords().iter().map(|k| k.name);
        let statuses = ["PASS", "FAIL", "FAULT", "(unknown)", "xmlrpc", "jsonrpc"];
        for name in names.chain(statuses) {
            assert!(plain(name), "{name}");
        }
    }

    #[test]
    fn only_target_and_level_filters_are_static() {
        assert!(static_filter("info"));
        assert!(static_filter("rpa_mfa=debug,warn"));
        assert!(!static_filter("rpa_mfa[keyword{status=FAIL}]=info"));
    }
}
