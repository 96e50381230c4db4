//! Prometheus metrics: what was called, how often it failed, how long it
//! took, by keyword and protocol. Labels are only ever protocol, method
//! and keyword names from the library (an unknown name becomes
//! `(unknown)`), never arguments, user names or namespaces, so no secret
//! and no client-chosen text reaches `/metrics`.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, describe_counter, describe_histogram, histogram, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

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
            handle
        })
        .clone()
}

/// The Prometheus text exposition of everything recorded so far.
pub fn render() -> String {
    let handle = install();
    handle.run_upkeep();
    handle.render()
}

/// Counts one remote method call.
pub fn method_call(protocol: &'static str, method: &'static str) {
    counter!(METHOD_CALLS, "protocol" => protocol, "method" => method).increment(1);
}

/// Counts one keyword run and its time.
pub fn keyword_call(protocol: &'static str, keyword: &'static str, failed: bool, took: Duration) {
    counter!(KEYWORD_CALLS, "protocol" => protocol, "keyword" => keyword).increment(1);
    if failed {
        counter!(KEYWORD_FAILURES, "protocol" => protocol, "keyword" => keyword).increment(1);
    }
    histogram!(KEYWORD_DURATION, "protocol" => protocol, "keyword" => keyword)
        .record(took.as_secs_f64());
}

/// Counts a refused login or call.
pub fn auth_failure(reason: &'static str) {
    counter!(AUTH_FAILURES, "reason" => reason).increment(1);
}
