//! Bounded waits: every keyword that waits (for a redirect, a device
//! login, the next TOTP period) waits through [`Call::wait`], which ends
//! the wait when the server is stopping or when the call's deadline
//! passes, whichever comes first. So a call whose client has gone ends
//! with its wait, and a stopping server is never held up by one.
//!
//! [`Call::wait`]: crate::Call::wait

use std::time::Duration;

use tokio::sync::watch;

use crate::KeywordError;

/// Added to `--max-wait` (`Services::max_wait`) for a call's deadline, so
/// a wait of the longest allowed `timeout` ends by its own timeout, not by
/// the deadline.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(60);

/// The text a wait ended by a stopping server fails with.
pub const SERVER_STOPPING: &str = "server is stopping";

/// Tells waiting keywords that the server is stopping. Cheap to clone;
/// the default never fires (for the command-line tools and tests).
#[derive(Clone, Debug)]
pub struct Stopping(watch::Receiver<bool>);

/// The sending side, held by the server: [`StopWaits::stop`] ends every wait.
#[derive(Debug)]
pub struct StopWaits(watch::Sender<bool>);

impl Stopping {
    /// A signal and the switch that fires it.
    pub fn channel() -> (StopWaits, Stopping) {
        let (tx, rx) = watch::channel(false);
        (StopWaits(tx), Stopping(rx))
    }

    /// Whether the server is stopping.
    pub fn is_stopping(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once the server is stopping; never, when the switch was
    /// dropped without firing.
    pub async fn stopped(&self) {
        let mut rx = self.0.clone();
        if rx.wait_for(|stopping| *stopping).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Default for Stopping {
    fn default() -> Stopping {
        let (tx, rx) = watch::channel(false);
        // Kept alive so the receiver never sees a closed channel as a stop.
        std::mem::forget(tx);
        Stopping(rx)
    }
}

impl StopWaits {
    /// Ends every wait in progress and every wait begun from now on.
    pub fn stop(&self) {
        self.0.send_replace(true);
    }
}

/// Runs `wait` until it completes, the server stops or `deadline` passes.
pub async fn bounded<T>(
    stopping: &Stopping,
    deadline: tokio::time::Instant,
    wait: impl std::future::Future<Output = T>,
) -> Result<T, KeywordError> {
    if stopping.is_stopping() {
        return Err(stopping_error());
    }
    tokio::select! {
        done = wait => Ok(done),
        _ = stopping.stopped() => Err(stopping_error()),
        _ = tokio::time::sleep_until(deadline) => Err(KeywordError::new(
            "TimeoutError",
            "The call reached its deadline (--max-wait plus a margin).",
        )),
    }
}

fn stopping_error() -> KeywordError {
    KeywordError::new("ServerStoppingError", SERVER_STOPPING)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_wait_ends_when_the_server_stops() {
        let (switch, stopping) = Stopping::channel();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3600);
        let waiter = tokio::spawn({
            let stopping = stopping.clone();
            async move { bounded(&stopping, deadline, std::future::pending::<()>()).await }
        });
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!waiter.is_finished());
        switch.stop();
        let error = waiter.await.unwrap().unwrap_err();
        assert_eq!(error.to_string(), "ServerStoppingError: server is stopping");
        // A wait begun after the stop ends at once.
        let late = bounded(&stopping, deadline, std::future::pending::<()>()).await;
        assert!(late.is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_ends_at_its_deadline_and_a_finished_one_passes() {
        let stopping = Stopping::default();
        let start = tokio::time::Instant::now();
        let deadline = start + Duration::from_secs(10);
        let error = bounded(&stopping, deadline, std::future::pending::<()>())
            .await
            .unwrap_err();
        assert_eq!(error.name, "TimeoutError");
        assert_eq!(start.elapsed(), Duration::from_secs(10));
        let done = bounded(&stopping, deadline + Duration::from_secs(10), async { 7 }).await;
        assert_eq!(done.unwrap(), 7);
    }

    #[tokio::test(start_paused = true)]
    async fn the_default_never_stops() {
        let stopping = Stopping::default();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        assert_eq!(
            bounded(&stopping, deadline, std::future::pending::<()>())
                .await
                .unwrap_err()
                .name,
            "TimeoutError"
        );
    }
}
