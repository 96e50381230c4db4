//! Prometheus metrics: what was called, how often it failed, how long it
//! took, by keyword and protocol. Labels are only ever protocol, method
//! and keyword names from the library (an unknown name becomes
//! `(unknown)`), never arguments, user names or namespaces, so no secret
//! and no client-chosen text reaches `/metrics`.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, describe_counter, describe_histogram, histogram, Counter, Histogram, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::remote::{Protocol, METHODS};

/// Every remote method call (`get_library_information`, `run_keyword`, ...).
pub const METHOD_CALLS: &str = "rpa_mfa_method_calls_total";
/// Every `run_keyword`, by keyword.
pub const KEYWORD_CALLS: &str = "rpa_mfa_keyword_calls_total";
/// `run_keyword`s whose status was FAIL, or that faulted.
pub const KEYWORD_FAILURES: &str = "rpa_mfa_keyword_failures_total";
/// How long `run_keyword`s took.
pub const KEYWORD_DURATION: &str = "rpa_mfa_keyword_duration_seconds";
/// Refused logins and calls, by reason.
pub const AUTH_FAILURES: &str = "rpa_mfa_auth_failures_total";

/// Text messages the SMS webhooks queued, by gateway.
pub const SMS_RECEIVED: &str = "rpa_mfa_sms_received_total";
/// Queued messages dropped because their number's queue was full.
pub const SMS_DROPPED: &str = "rpa_mfa_sms_dropped_total";
/// SMS webhook calls refused, by gateway and reason.
pub const SMS_REFUSED: &str = "rpa_mfa_sms_refused_total";

/// Histogram buckets: OTP keywords take microseconds; vault reads and
/// `min_validity` waits take up to a period.
const BUCKETS: &[f64] = &[
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder (once) and returns its handle.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets(BUCKETS)
                .expect("buckets are not empty")
                .install_recorder()
                .expect("no other metrics recorder is installed");
            describe_counter!(METHOD_CALLS, "Remote method calls, by protocol and method.");
            describe_counter!(KEYWORD_CALLS, "Keyword runs, by protocol and keyword.");
            describe_counter!(
                KEYWORD_FAILURES,
                "Keyword runs that failed or faulted, by protocol and keyword."
            );
            describe_histogram!(
                KEYWORD_DURATION,
                Unit::Seconds,
                "Keyword run time, by protocol and keyword."
            );
            describe_counter!(AUTH_FAILURES, "Refused logins and calls, by reason.");
            describe_counter!(
                SMS_RECEIVED,
                "Text messages queued by the SMS webhooks, by gateway."
            );
            describe_counter!(
                SMS_DROPPED,
                "Queued text messages dropped because their number's queue was full."
            );
            describe_counter!(
                SMS_REFUSED,
                "SMS webhook calls refused, by gateway and reason."
            );
            handle
        })
        .clone()
}

/// How often the samples histograms queue up are folded into their
/// buckets. The recorder keeps every sample (about 8 bytes) until then:
/// at 60,000 calls a second, 5 s let the queues grow by some 5 MB, a
/// third of the server's memory; a quarter of a second keeps them near
/// 250 KB for the same work (each sample is folded once either way).
const UPKEEP_EVERY: Duration = Duration::from_millis(250);

/// Installs the recorder, and folds the samples histograms queue up into
/// their buckets every [`UPKEEP_EVERY`]: a server that is never scraped
/// would otherwise grow with each call.
pub fn spawn_upkeep() {
    let handle = install();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(UPKEEP_EVERY);
        loop {
            every.tick().await;
            handle.run_upkeep();
        }
    });
}

/// The Prometheus text exposition of everything recorded so far.
pub fn render() -> String {
    let handle = install();
    handle.run_upkeep();
    handle.render()
}

/// The method and keyword metric handles of one API, each in a slot
/// found by index (the protocol, and the method's or keyword's place):
/// every call counts without a lock or a hash, and a handle is made, with
/// its labels, on its first use.
pub struct CallMetrics {
    /// Per protocol, each of [`METHODS`] and then "(unknown)".
    methods: Box<[OnceLock<Counter>]>,
    /// Per protocol, each keyword of the library and then "(unknown)".
    keywords: Box<[OnceLock<(Counter, Histogram)>]>,
    keyword_count: usize,
}

/// Slots per method or keyword: one per [`Protocol`].
const PROTOCOLS: usize = Protocol::JsonRpc as usize + 1;

impl CallMetrics {
    /// Slots for a library of `keyword_count` keywords.
    pub fn new(keyword_count: usize) -> CallMetrics {
        fn slots<T>(n: usize) -> Box<[OnceLock<T>]> {
            (0..n * PROTOCOLS).map(|_| OnceLock::new()).collect()
        }
        CallMetrics {
            methods: slots(METHODS.len() + 1),
            keywords: slots(keyword_count + 1),
            keyword_count,
        }
    }

    /// Counts a call of `method`, the method at `index` in [`METHODS`]
    /// (`None`: one that is not, counted as "(unknown)").
    pub fn method_call(&self, protocol: Protocol, index: Option<usize>) {
        let (index, method) = match index.and_then(|i| Some((i, *METHODS.get(i)?))) {
            Some(found) => found,
            None => (METHODS.len(), UNKNOWN),
        };
        let slot = &self.methods[protocol as usize * (METHODS.len() + 1) + index];
        let protocol = protocol.as_str();
        slot.get_or_init(|| counter!(METHOD_CALLS, "protocol" => protocol, "method" => method))
            .increment(1);
    }

    /// Counts and times a keyword run: `keyword` is the library's keyword
    /// at `index` (`None`: no keyword of that name, "(unknown)").
    pub fn keyword_call(
        &self,
        protocol: Protocol,
        index: Option<usize>,
        keyword: &'static str,
        failed: bool,
        took: Duration,
    ) {
        let (index, keyword) = match index.filter(|i| *i < self.keyword_count) {
            Some(i) => (i, keyword),
            None => (self.keyword_count, UNKNOWN),
        };
        let slot = &self.keywords[protocol as usize * (self.keyword_count + 1) + index];
        let protocol = protocol.as_str();
        let (calls, duration) = slot.get_or_init(|| {
            (
                counter!(KEYWORD_CALLS, "protocol" => protocol, "keyword" => keyword),
                histogram!(KEYWORD_DURATION, "protocol" => protocol, "keyword" => keyword),
            )
        });
        calls.increment(1);
        duration.record(took.as_secs_f64());
        if failed {
            counter!(KEYWORD_FAILURES, "protocol" => protocol, "keyword" => keyword).increment(1);
        }
    }
}

/// The label of a method or keyword the server does not have.
pub const UNKNOWN: &str = "(unknown)";

/// Counts a refused login or call.
pub fn auth_failure(reason: &'static str) {
    counter!(AUTH_FAILURES, "reason" => reason).increment(1);
}

/// Counts a message an SMS webhook queued, and the old ones it pushed out.
pub fn sms_received(gateway: &'static str, dropped: usize) {
    counter!(SMS_RECEIVED, "gateway" => gateway).increment(1);
    // Created at 0 with the first message, so a scrape sees the series.
    counter!(SMS_DROPPED).increment(dropped as u64);
}

/// Counts an SMS webhook call refused.
pub fn sms_refused(gateway: &'static str, reason: &'static str) {
    counter!(SMS_REFUSED, "gateway" => gateway, "reason" => reason).increment(1);
}
