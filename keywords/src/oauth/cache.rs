//! How long discovery documents and key sets are trusted: an identity
//! provider that rotates or removes a key must be believed within a
//! bounded time, and a token naming an unknown key must not make every
//! call fetch the key set again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// A provider may ask for a shorter lifetime (`Cache-Control: max-age`),
/// but not below this (or the configured lifetime, when that is less):
/// `no-cache` must not turn every call into a fetch.
const MIN_LIFETIME: Duration = Duration::from_secs(60);

/// A key set is fetched again for an unknown key at most once in this
/// time, so tokens with made-up key ids cannot hammer the provider
/// through us; the first unknown key after a fetch refetches at once, so a
/// key rotated in is found without delay.
const MIN_REFETCH: Duration = Duration::from_secs(10);

/// Issuers and key set URLs come from callers: beyond this many, the
/// oldest entries make room.
const MAX_ENTRIES: usize = 256;

struct Entry<T> {
    value: Arc<T>,
    fetched: Instant,
    expires: Instant,
    /// When an unknown key last made us fetch again.
    refetched: Option<Instant>,
}

/// Fetched documents by URL, each with its lifetime.
pub struct TimedCache<T> {
    lifetime: Duration,
    entries: Mutex<HashMap<String, Entry<T>>>,
}

impl<T> TimedCache<T> {
    /// A cache trusting entries `lifetime` at most.
    pub fn new(lifetime: Duration) -> TimedCache<T> {
        TimedCache {
            lifetime,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The entry for `key` while its lifetime lasts.
    pub fn fresh(&self, key: &str) -> Option<Arc<T>> {
        let now = Instant::now();
        self.lock()
            .get(key)
            .filter(|e| now < e.expires)
            .map(|e| e.value.clone())
    }

    /// Whether `key` may be fetched again before its lifetime ends (a
    /// token names a key id the set lacks); a yes is recorded, so the next
    /// one comes [`MIN_REFETCH`] later at the earliest.
    pub fn claim_refetch(&self, key: &str) -> bool {
        let now = Instant::now();
        let mut entries = self.lock();
        let Some(entry) = entries.get_mut(key) else {
            return true;
        };
        let allowed = entry
            .refetched
            .is_none_or(|t| now.duration_since(t) >= MIN_REFETCH.min(self.lifetime));
        if allowed {
            entry.refetched = Some(now);
        }
        allowed
    }

    /// Keeps a freshly fetched `value`; `max_age` is what the provider's
    /// `Cache-Control` asked for, bounded by the configured lifetime.
    pub fn insert(&self, key: &str, value: Arc<T>, max_age: Option<Duration>) {
        let now = Instant::now();
        let lifetime = max_age.map_or(self.lifetime, |asked| {
            asked.clamp(MIN_LIFETIME.min(self.lifetime), self.lifetime)
        });
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(key) {
            entries.retain(|_, e| now < e.expires);
            if entries.len() >= MAX_ENTRIES {
                let oldest = entries
                    .iter()
                    .min_by_key(|(_, e)| e.fetched)
                    .map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    entries.remove(&oldest);
                }
            }
        }
        // The refetch limit outlives the entry it was claimed on.
        let refetched = entries.get(key).and_then(|e| e.refetched);
        entries.insert(
            key.to_owned(),
            Entry {
                value,
                fetched: now,
                expires: now + lifetime,
                refetched,
            },
        );
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry<T>>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The lifetime a `Cache-Control` header asks for: `max-age` seconds,
/// nothing for `no-cache`/`no-store`, None when it does not say.
pub fn max_age(cache_control: &str) -> Option<Duration> {
    let mut asked = None;
    for directive in cache_control.split(',') {
        let directive = directive.trim().to_ascii_lowercase();
        if directive == "no-cache" || directive == "no-store" {
            return Some(Duration::ZERO);
        }
        if let Some(seconds) = directive.strip_prefix("max-age=") {
            asked = seconds
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    asked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn advance(seconds: u64) -> impl std::future::Future<Output = ()> {
        tokio::time::advance(Duration::from_secs(seconds))
    }

    #[tokio::test(start_paused = true)]
    async fn an_entry_lives_its_lifetime_then_is_fetched_again() {
        let cache = TimedCache::new(Duration::from_secs(300));
        cache.insert("jwks", Arc::new("k1"), None);
        advance(299).await;
        assert_eq!(cache.fresh("jwks").as_deref(), Some(&"k1"));
        advance(1).await;
        assert_eq!(
            cache.fresh("jwks"),
            None,
            "a removed key is not trusted past 300 s"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn max_age_shortens_the_lifetime_within_bounds() {
        let cache = TimedCache::new(Duration::from_secs(300));
        cache.insert("short", Arc::new(1), Some(Duration::from_secs(90)));
        cache.insert("none", Arc::new(2), Some(Duration::ZERO));
        cache.insert("long", Arc::new(3), Some(Duration::from_secs(86_400)));
        advance(59).await;
        assert!(
            cache.fresh("none").is_some(),
            "no-cache still lasts a minute"
        );
        advance(1).await;
        assert!(cache.fresh("none").is_none());
        advance(30).await;
        assert!(cache.fresh("short").is_none(), "max-age=90 is honoured");
        advance(210).await;
        assert!(
            cache.fresh("long").is_none(),
            "max-age beyond the setting is cut"
        );
        // A zero setting trusts nothing.
        let never = TimedCache::new(Duration::ZERO);
        never.insert("k", Arc::new(1), Some(Duration::from_secs(60)));
        assert!(never.fresh("k").is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn unknown_keys_refetch_at_most_every_ten_seconds() {
        let cache = TimedCache::new(Duration::from_secs(300));
        assert!(cache.claim_refetch("jwks"), "nothing fetched yet");
        cache.insert("jwks", Arc::new(1), None);
        assert!(
            cache.claim_refetch("jwks"),
            "a rotated key is looked for at once"
        );
        cache.insert("jwks", Arc::new(2), None);
        assert!(!cache.claim_refetch("jwks"), "but only once");
        advance(9).await;
        assert!(!cache.claim_refetch("jwks"));
        advance(1).await;
        assert!(cache.claim_refetch("jwks"));
        assert!(!cache.claim_refetch("jwks"));
    }

    #[tokio::test(start_paused = true)]
    async fn the_number_of_entries_is_capped() {
        let cache = TimedCache::new(Duration::from_secs(300));
        for i in 0..MAX_ENTRIES + 5 {
            cache.insert(&format!("https://issuer-{i}"), Arc::new(i), None);
            advance(1).await;
        }
        assert_eq!(cache.lock().len(), MAX_ENTRIES);
        assert!(
            cache.fresh("https://issuer-0").is_none(),
            "the oldest made room"
        );
        assert!(cache
            .fresh(&format!("https://issuer-{}", MAX_ENTRIES + 4))
            .is_some());
    }

    #[test]
    fn cache_control_is_read() {
        assert_eq!(
            max_age("public, max-age=120"),
            Some(Duration::from_secs(120))
        );
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("max-age=60, no-cache"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }
}
