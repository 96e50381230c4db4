//! Rate limiting of failed logins per client address: after
//! [`MAX_FAILURES`] failures within [`WINDOW`], the address is refused
//! until that window ends, so passwords cannot be guessed at line speed.
//! Uses tokio's clock so tests can move time without sleeping.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Failures allowed per address and window.
pub const MAX_FAILURES: u32 = 5;
/// How long failures are remembered (from the first one in a window).
pub const WINDOW: Duration = Duration::from_secs(60);
/// Past this many addresses, expired entries are swept on each failure.
const SWEEP_ABOVE: usize = 1024;

struct Failures {
    count: u32,
    since: Instant,
}

pub struct LoginLimiter {
    max_failures: u32,
    window: Duration,
    clients: Mutex<HashMap<IpAddr, Failures>>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter::new(MAX_FAILURES, WINDOW)
    }
}

impl LoginLimiter {
    pub fn new(max_failures: u32, window: Duration) -> LoginLimiter {
        LoginLimiter {
            max_failures,
            window,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// How long `ip` must wait before trying again, if it is refused now.
    pub fn blocked(&self, ip: IpAddr) -> Option<Duration> {
        let now = Instant::now();
        let clients = self.clients.lock().expect("limiter lock");
        let failures = clients.get(&ip)?;
        let ends = failures.since + self.window;
        (failures.count >= self.max_failures && now < ends).then(|| ends - now)
    }

    /// Counts a failed login from `ip`.
    pub fn failed(&self, ip: IpAddr) {
        let now = Instant::now();
        let window = self.window;
        let mut clients = self.clients.lock().expect("limiter lock");
        if clients.len() > SWEEP_ABOVE {
            clients.retain(|_, f| now < f.since + window);
        }
        let failures = clients.entry(ip).or_insert(Failures {
            count: 0,
            since: now,
        });
        if now >= failures.since + window {
            *failures = Failures {
                count: 0,
                since: now,
            };
        }
        failures.count += 1;
    }

    /// A successful login forgets the address's failures.
    pub fn succeeded(&self, ip: IpAddr) {
        self.clients.lock().expect("limiter lock").remove(&ip);
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.clients.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[tokio::test(start_paused = true)]
    async fn refuses_after_max_failures_until_the_window_ends() {
        let limiter = LoginLimiter::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert_eq!(limiter.blocked(A), None);
            limiter.failed(A);
        }
        assert_eq!(limiter.blocked(A), Some(Duration::from_secs(60)));
        assert_eq!(limiter.blocked(B), None, "other addresses are not affected");

        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(limiter.blocked(A), Some(Duration::from_secs(1)));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(limiter.blocked(A), None, "the window ended");

        // A new window starts with the next failure.
        limiter.failed(A);
        assert_eq!(limiter.blocked(A), None);
    }

    #[tokio::test(start_paused = true)]
    async fn failures_spread_over_windows_do_not_add_up() {
        let limiter = LoginLimiter::new(3, Duration::from_secs(60));
        limiter.failed(A);
        limiter.failed(A);
        tokio::time::advance(Duration::from_secs(61)).await;
        limiter.failed(A);
        limiter.failed(A);
        assert_eq!(limiter.blocked(A), None);
        limiter.failed(A);
        assert!(limiter.blocked(A).is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn success_forgets_and_old_entries_are_swept() {
        let limiter = LoginLimiter::new(2, Duration::from_secs(60));
        limiter.failed(A);
        limiter.succeeded(A);
        limiter.failed(A);
        assert_eq!(
            limiter.blocked(A),
            None,
            "the count restarted after a success"
        );

        for i in 0..=SWEEP_ABOVE as u32 {
            limiter.failed(IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i)));
        }
        tokio::time::advance(Duration::from_secs(61)).await;
        limiter.failed(B);
        assert_eq!(limiter.tracked(), 1, "expired addresses are forgotten");
    }
}
