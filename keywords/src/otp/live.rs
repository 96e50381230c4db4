//! Live TOTP codes: a namespace's code as each period begins, for
//! dashboards and bots that hold a connection open instead of polling.
//!
//! [`TotpFeed`] yields the current code at once, then the next one at
//! every period boundary, and at once again whenever the namespace's
//! secret is replaced. Time comes from the [`Clock`] seam and waits from
//! tokio's timer, so a test on tokio's paused clock sees boundaries pass
//! instantly and exactly.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::broadcast;

use super::keywords::current_key;
use super::{Kind, OtpKey};
use crate::clock::Clock;
use crate::state::{Change, Namespace, Space};
use crate::KeywordError;

/// One code and the period it belongs to.
#[derive(Clone, PartialEq, Serialize)]
pub struct TotpTick {
    /// The code, with its leading zeros.
    pub code: String,
    /// Seconds per code.
    pub period: u64,
    /// Unix time the code became valid.
    pub period_start: u64,
    /// Unix time the code stops being valid (the next period's start).
    pub period_end: u64,
    /// Seconds the code stays valid from when it was computed.
    pub seconds_left: f64,
}

/// Debug output ends up in logs and panics: the code is left out.
impl fmt::Debug for TotpTick {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TotpTick(code hidden, {}..{}, {:.3} s left)",
            self.period_start, self.period_end, self.seconds_left
        )
    }
}

impl TotpTick {
    /// The tick for `key` at Unix time `now`.
    pub fn at(key: &OtpKey, now: f64) -> TotpTick {
        let second = now.max(0.0).floor() as u64;
        let period_start = second - second % key.period;
        TotpTick {
            code: key.code_at_time(second),
            period: key.period,
            period_start,
            period_end: period_start + key.period,
            // Milliseconds are plenty for a countdown.
            seconds_left: (((period_start + key.period) as f64 - now) * 1000.0)
                .round()
                .max(0.0)
                / 1000.0,
        }
    }
}

/// A namespace's TOTP codes as they change.
pub struct TotpFeed {
    ns: Arc<Namespace>,
    clock: Arc<dyn Clock>,
    /// The store's changes: a secret set through any server sharing the
    /// store reaches this feed.
    changes: broadcast::Receiver<Change>,
    /// The key the last code came from.
    key: Arc<OtpKey>,
    /// When the code sent last expires; None before the first.
    expires: Option<u64>,
}

impl TotpFeed {
    /// Starts a feed; fails with RPA.MFA's `TOTPNotSetError` when the
    /// namespace has no TOTP secret.
    pub async fn new(ns: Arc<Namespace>, clock: Arc<dyn Clock>) -> Result<TotpFeed, KeywordError> {
        let changes = ns.subscribe();
        let key = current_key(&ns, Kind::Totp).await?;
        Ok(TotpFeed {
            ns,
            clock,
            changes,
            key,
            expires: None,
        })
    }

    /// The current code the first time; then waits for the next period
    /// boundary or a new secret, whichever comes first, and returns the
    /// code valid from then.
    pub async fn next(&mut self) -> Result<TotpTick, KeywordError> {
        if let Some(expires) = self.expires {
            // Loops because a timer may fire a hair before the wall clock
            // reaches the boundary; a code is never sent before its period.
            loop {
                let wait = expires as f64 - self.clock.now();
                if wait <= 0.0 {
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs_f64(wait)) => {}
                    _ = self.ns.changed(&mut self.changes, Space::Namespace) => {
                        // Stores that cannot say what changed wake every
                        // feed: only a new secret ends the wait.
                        let key = current_key(&self.ns, Kind::Totp).await?;
                        if !key.same_as(&self.key) {
                            break;
                        }
                    }
                }
            }
        }
        let now = self.clock.now();
        self.key = current_key(&self.ns, Kind::Totp).await?;
        let tick = TotpTick::at(&self.key, now);
        self.expires = Some(tick.period_end);
        Ok(tick)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::TokioClock;
    use crate::otp::record::OtpState;
    use crate::otp::Options;
    use crate::state::Namespaces;

    // RFC 6238 Appendix B: the SHA1 and SHA256 seeds, 8 digits, 30 s.
    const SHA1_SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
    const SHA256_SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA";

    fn key(secret: &str, algorithm: &str) -> Arc<OtpKey> {
        let options = Options {
            algorithm: super::super::Algorithm::parse(algorithm),
            digits: Some(8),
            period: Some(30),
        };
        Arc::new(OtpKey::parse(secret, Kind::Totp, options).unwrap())
    }

    async fn namespace() -> Arc<Namespace> {
        Namespaces::in_memory().get("dash").await.unwrap()
    }

    async fn set(ns: &Namespace, key: Arc<OtpKey>) {
        ns.update(|s: &OtpState| Some(s.with(key.clone())))
            .await
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn codes_arrive_at_each_boundary() {
        let ns = namespace().await;
        set(&ns, key(SHA1_SEED, "SHA1")).await;
        // 1111111109 and 1111111111 straddle a boundary at 1111111110.
        let clock = Arc::new(TokioClock::starting_at(1_111_111_100.5));
        let mut feed = TotpFeed::new(ns, clock).await.unwrap();
        let started = tokio::time::Instant::now();

        let first = feed.next().await.unwrap();
        assert_eq!(first.code, "07081804");
        assert_eq!(
            (first.period_start, first.period_end),
            (1_111_111_080, 1_111_111_110)
        );
        assert_eq!(first.seconds_left, 9.5);
        assert_eq!(started.elapsed(), Duration::ZERO);

        let second = feed.next().await.unwrap();
        assert_eq!(second.code, "14050471");
        assert_eq!(second.period_start, 1_111_111_110);
        assert_eq!(second.seconds_left, 30.0);
        assert_eq!(started.elapsed(), Duration::from_millis(9_500));

        let third = feed.next().await.unwrap();
        assert_eq!(third.period_start, 1_111_111_140);
        assert_eq!(started.elapsed(), Duration::from_millis(39_500));
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_secret_is_followed_at_once() {
        let ns = namespace().await;
        set(&ns, key(SHA1_SEED, "SHA1")).await;
        let clock = Arc::new(TokioClock::starting_at(1_111_111_100.0));
        let mut feed = TotpFeed::new(ns.clone(), clock).await.unwrap();
        assert_eq!(feed.next().await.unwrap().code, "07081804");

        let started = tokio::time::Instant::now();
        let waiting = tokio::spawn(async move { feed.next().await });
        tokio::time::sleep(Duration::from_secs(2)).await;
        set(&ns, key(SHA256_SEED, "SHA256")).await;
        let changed = waiting.await.unwrap().unwrap();
        // RFC 6238's SHA256 code for 1111111109, sent two seconds in.
        assert_eq!(changed.code, "68084774");
        assert_eq!(changed.seconds_left, 8.0);
        assert_eq!(started.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test]
    async fn no_secret_is_rpa_mfas_error() {
        let clock = Arc::new(TokioClock::starting_at(0.0));
        let err = TotpFeed::new(namespace().await, clock).await.err().unwrap();
        assert_eq!(err.name, "TOTPNotSetError");
    }

    #[test]
    fn debug_hides_the_code() {
        let tick = TotpTick::at(&key(SHA1_SEED, "SHA1"), 59.0);
        assert_eq!(tick.code, "94287082");
        assert!(!format!("{tick:?}").contains("94287082"));
    }
}
