//! Rate limiting of failed logins per (client address, user name): after
//! `max_failures` failures within `window`, that user is refused from that
//! address until the window ends, so passwords cannot be guessed at line
//! speed, while other users behind the same NAT or proxy keep working.
//! Guessing user names is limited too: once `max_users` distinct names
//! have failed from one address within a window, names not yet counted
//! there are refused. Memory is bounded: at most [`MAX_TRACKED`] pairs and
//! addresses, expired ones swept first, then the oldest.
//!
//! User names are kept as keyed hashes (random keys per process): no name
//! is stored, and entries have a fixed size. Uses tokio's clock so tests
//! can move time without sleeping.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// How many (address, user) pairs and addresses are remembered at most.
pub const MAX_TRACKED: usize = 10_000;

/// The limiter's settings (`--login-max-failures`, `--login-window`,
/// `--login-max-users`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoginLimits {
    /// Failures allowed per (address, user) and window.
    pub max_failures: u32,
    /// How long failures are remembered (from the first one in a window).
    pub window: Duration,
    /// Distinct failing user names allowed per address and window.
    pub max_users: u32,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits {
            max_failures: 5,
            window: Duration::from_secs(60),
            max_users: 10,
        }
    }
}

/// A count within a window that started at `since`.
struct Window {
    count: u32,
    since: Instant,
}

#[derive(Default)]
struct Tables {
    /// Failures per (address, keyed hash of the lower-cased user name).
    users: HashMap<(IpAddr, u64), Window>,
    /// Distinct failing user names per address.
    addresses: HashMap<IpAddr, Window>,
}

pub struct LoginLimiter {
    limits: LoginLimits,
    names: RandomState,
    tables: Mutex<Tables>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter::new(LoginLimits::default())
    }
}

impl LoginLimiter {
    pub fn new(limits: LoginLimits) -> LoginLimiter {
        LoginLimiter {
            limits,
            names: RandomState::new(),
            tables: Mutex::new(Tables::default()),
        }
    }

    /// User names match ignoring ASCII case, as logins do.
    fn key(&self, ip: IpAddr, user: &str) -> (IpAddr, u64) {
        let mut hasher = self.names.build_hasher();
        for byte in user.bytes() {
            hasher.write_u8(byte.to_ascii_lowercase());
        }
        (ip, hasher.finish())
    }

    fn live(&self, window: &Window, now: Instant) -> Option<Instant> {
        let ends = window.since + self.limits.window;
        (now < ends).then_some(ends)
    }

    /// How long `user` must wait before trying again from `ip`, if it is
    /// refused now (`user` is "" when the credentials name none).
    pub fn blocked(&self, ip: IpAddr, user: &str) -> Option<Duration> {
        let now = Instant::now();
        let key = self.key(ip, user);
        let tables = self.tables.lock().expect("limiter lock");
        if let Some(failures) = tables.users.get(&key) {
            if let Some(ends) = self.live(failures, now) {
                return (failures.count >= self.limits.max_failures).then(|| ends - now);
            }
        }
        // A name not counted at this address yet: limited by the address's
        // number of distinct failing names.
        let names = tables.addresses.get(&ip)?;
        let ends = self.live(names, now)?;
        (names.count >= self.limits.max_users).then(|| ends - now)
    }

    /// Counts a failed login of `user` from `ip`.
    pub fn failed(&self, ip: IpAddr, user: &str) {
        let now = Instant::now();
        let key = self.key(ip, user);
        let mut tables = self.tables.lock().expect("limiter lock");
        let tables = &mut *tables;
        let window = self.limits.window;
        make_room(&mut tables.users, &key, now, window);
        let failures = tables.users.entry(key).or_insert(Window {
            count: 0,
            since: now,
        });
        let new_name = failures.count == 0 || self.live(failures, now).is_none();
        if new_name {
            *failures = Window {
                count: 0,
                since: now,
            };
            make_room(&mut tables.addresses, &ip, now, window);
            let names = tables.addresses.entry(ip).or_insert(Window {
                count: 0,
                since: now,
            });
            if self.live(names, now).is_none() {
                *names = Window {
                    count: 0,
                    since: now,
                };
            }
            names.count += 1;
        }
        failures.count += 1;
    }

    /// A successful login forgets the user's failures at this address, and
    /// no longer counts the name among the address's failing names: a user
    /// who knows the password was not a guess.
    pub fn succeeded(&self, ip: IpAddr, user: &str) {
        let mut tables = self.tables.lock().expect("limiter lock");
        if tables.users.is_empty() {
            return;
        }
        let key = self.key(ip, user);
        if tables.users.remove(&key).is_some() {
            if let Some(names) = tables.addresses.get_mut(&ip) {
                names.count = names.count.saturating_sub(1);
            }
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> (usize, usize) {
        let tables = self.tables.lock().unwrap();
        (tables.users.len(), tables.addresses.len())
    }
}

/// Keeps a table under [`MAX_TRACKED`] before `key` is added: expired
/// entries go first, then the oldest one.
fn make_room<K: std::hash::Hash + Eq + Clone>(
    table: &mut HashMap<K, Window>,
    key: &K,
    now: Instant,
    window: Duration,
) {
    if table.len() < MAX_TRACKED || table.contains_key(key) {
        return;
    }
    table.retain(|_, w| now < w.since + window);
    if table.len() >= MAX_TRACKED {
        let oldest = table
            .iter()
            .min_by_key(|(_, w)| w.since)
            .map(|(k, _)| k.clone());
        if let Some(oldest) = oldest {
            table.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    fn limiter(max_failures: u32, max_users: u32) -> LoginLimiter {
        LoginLimiter::new(LoginLimits {
            max_failures,
            window: Duration::from_secs(60),
            max_users,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn refuses_a_user_after_max_failures_until_the_window_ends() {
        let limiter = limiter(3, 10);
        for _ in 0..3 {
            assert_eq!(limiter.blocked(A, "mallory"), None);
            limiter.failed(A, "mallory");
        }
        assert_eq!(limiter.blocked(A, "mallory"), Some(Duration::from_secs(60)));
        assert_eq!(limiter.blocked(A, "MALLORY"), Some(Duration::from_secs(60)));
        assert_eq!(
            limiter.blocked(A, "alice"),
            None,
            "other users at A are not"
        );
        assert_eq!(limiter.blocked(B, "mallory"), None, "nor is B");

        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(limiter.blocked(A, "mallory"), Some(Duration::from_secs(1)));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(limiter.blocked(A, "mallory"), None, "the window ended");

        // A new window starts with the next failure.
        limiter.failed(A, "mallory");
        assert_eq!(limiter.blocked(A, "mallory"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn failures_spread_over_windows_do_not_add_up() {
        let limiter = limiter(3, 10);
        limiter.failed(A, "bob");
        limiter.failed(A, "bob");
        tokio::time::advance(Duration::from_secs(61)).await;
        limiter.failed(A, "bob");
        limiter.failed(A, "bob");
        assert_eq!(limiter.blocked(A, "bob"), None);
        limiter.failed(A, "bob");
        assert!(limiter.blocked(A, "bob").is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn guessing_names_is_capped_per_address() {
        let limiter = limiter(5, 3);
        for name in ["u1", "u2", "u3"] {
            assert_eq!(limiter.blocked(A, name), None);
            limiter.failed(A, name);
        }
        assert_eq!(
            limiter.blocked(A, "u4"),
            Some(Duration::from_secs(60)),
            "a fourth name"
        );
        assert_eq!(limiter.blocked(A, "u1"), None, "counted names keep trying");
        assert_eq!(limiter.blocked(B, "u4"), None, "other addresses are not");
        // A name that then logs in was no guess: it stops counting.
        limiter.succeeded(A, "u2");
        assert_eq!(limiter.blocked(A, "u4"), None);
        limiter.failed(A, "u4");
        assert!(limiter.blocked(A, "u5").is_some());
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(limiter.blocked(A, "u5"), None, "the window ended");
    }

    #[tokio::test(start_paused = true)]
    async fn success_forgets_the_users_failures() {
        let limiter = limiter(2, 10);
        limiter.failed(A, "alice");
        limiter.succeeded(A, "Alice");
        limiter.failed(A, "alice");
        assert_eq!(
            limiter.blocked(A, "alice"),
            None,
            "the count restarted after a success"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn memory_is_bounded_expired_first_then_oldest() {
        let limiter = limiter(5, u32::MAX);
        let many = |n: u32| IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + n));
        for i in 0..MAX_TRACKED as u32 {
            limiter.failed(many(i), "x");
        }
        assert_eq!(limiter.tracked(), (MAX_TRACKED, MAX_TRACKED));
        // Full and nothing expired: the oldest entry makes room.
        tokio::time::advance(Duration::from_secs(1)).await;
        limiter.failed(A, "x");
        assert_eq!(limiter.tracked(), (MAX_TRACKED, MAX_TRACKED));
        // Full with everything expired but A's: one sweep frees the rest.
        tokio::time::advance(Duration::from_secs(59)).await;
        limiter.failed(B, "x");
        assert_eq!(limiter.tracked(), (2, 2), "expired entries are forgotten");
        // One address guessing many names is bounded the same way.
        let limiter = limiter_one_address();
        assert_eq!(limiter.tracked().0, MAX_TRACKED);
    }

    fn limiter_one_address() -> LoginLimiter {
        let limiter = limiter(5, u32::MAX);
        for i in 0..MAX_TRACKED + 100 {
            limiter.failed(A, &format!("name{i}"));
        }
        limiter
    }
}
