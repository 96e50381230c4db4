//! `memory:` — state in this process only, for tests and throwaway servers.
//!
//! One mutex over plain maps: every operation is a few map lookups, never
//! held across an await. Expiry follows tokio's clock, so tests on paused
//! time see records expire exactly.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::store::{Admit, Change, CounterSet, Expect, Space, StateResult, StateStore, Versioned};

struct Entry {
    value: Vec<u8>,
    version: u64,
    expires: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|t| now < t)
    }
}

/// A queue's items, oldest first, and when the queue expires.
type Queue = (VecDeque<Vec<u8>>, Instant);

#[derive(Default)]
struct Maps {
    records: HashMap<(Space, String), Entry>,
    counters: HashMap<String, u64>,
    /// Namespace name -> when it was last used and its idle expiry.
    namespaces: HashMap<String, (Instant, Option<Duration>)>,
    /// Queues and when each expires.
    queues: HashMap<(Space, String), Queue>,
}

/// The `memory:` store.
pub struct MemoryStore {
    maps: Mutex<Maps>,
    /// Bumped by every write: the cache stamp.
    writes: AtomicU64,
    changes: broadcast::Sender<Change>,
}

impl Default for MemoryStore {
    fn default() -> MemoryStore {
        MemoryStore::new()
    }
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore {
            maps: Mutex::new(Maps::default()),
            writes: AtomicU64::new(0),
            changes: broadcast::channel(256).0,
        }
    }

    fn maps(&self) -> MutexGuard<'_, Maps> {
        self.maps.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn changed(&self, change: Change) {
        self.writes.fetch_add(1, Ordering::Release);
        // No subscriber is fine.
        let _ = self.changes.send(change);
    }
}

fn expired(used: Instant, idle: Option<Duration>, now: Instant) -> bool {
    idle.is_some_and(|idle| now.saturating_duration_since(used) >= idle)
}

impl Maps {
    /// The namespaces the cap counts: those that expire.
    fn expiring_namespaces(&self) -> usize {
        self.namespaces
            .values()
            .filter(|(_, idle)| idle.is_some())
            .count()
    }

    /// Drops expired namespaces and their records.
    fn sweep_namespaces(&mut self, now: Instant) {
        let dead: Vec<String> = self
            .namespaces
            .iter()
            .filter(|(_, (used, idle))| expired(*used, *idle, now))
            .map(|(name, _)| name.clone())
            .collect();
        for name in dead {
            self.drop_namespace(&name);
        }
    }

    fn drop_namespace(&mut self, name: &str) {
        self.namespaces.remove(name);
        for space in Space::ALL.into_iter().filter(|s| s.is_per_namespace()) {
            self.records.remove(&(space, name.to_owned()));
        }
    }
}

#[async_trait]
impl StateStore for MemoryStore {
    fn is_shared(&self) -> bool {
        false
    }

    fn describe(&self) -> String {
        "memory:".to_owned()
    }

    async fn get(&self, space: Space, key: &str) -> StateResult<Option<Versioned>> {
        let now = Instant::now();
        let maps = self.maps();
        Ok(maps
            .records
            .get(&(space, key.to_owned()))
            .filter(|e| e.live(now))
            .map(|e| Versioned {
                value: e.value.clone(),
                version: e.version,
            }))
    }

    async fn put(
        &self,
        space: Space,
        key: &str,
        value: &[u8],
        expect: Expect,
        ttl: Option<Duration>,
    ) -> StateResult<Option<u64>> {
        let now = Instant::now();
        let mut maps = self.maps();
        let slot = (space, key.to_owned());
        let current = maps.records.get(&slot).filter(|e| e.live(now));
        let ok = match expect {
            Expect::Any => true,
            Expect::Absent => current.is_none(),
            Expect::Version(v) => current.is_some_and(|e| e.version == v),
        };
        if !ok {
            return Ok(None);
        }
        // Versions keep growing even past an expired record, so a stale
        // compare-and-swap can never match a newer record.
        let version = maps.records.get(&slot).map_or(0, |e| e.version) + 1;
        maps.records.insert(
            slot,
            Entry {
                value: value.to_vec(),
                version,
                expires: ttl.map(|t| now + t),
            },
        );
        drop(maps);
        self.changed(Change::Key(space, key.to_owned()));
        Ok(Some(version))
    }

    async fn delete(&self, space: Space, key: &str) -> StateResult<bool> {
        let now = Instant::now();
        let removed = self.maps().records.remove(&(space, key.to_owned()));
        let was_live = removed.is_some_and(|e| e.live(now));
        if was_live {
            self.changed(Change::Key(space, key.to_owned()));
        }
        Ok(was_live)
    }

    async fn next_counter(&self, key: &str) -> StateResult<u64> {
        let mut maps = self.maps();
        let counter = maps.counters.entry(key.to_owned()).or_insert(0);
        let handed = *counter;
        *counter = counter.saturating_add(1);
        drop(maps);
        self.changed(Change::Key(Space::Counter, key.to_owned()));
        Ok(handed)
    }

    async fn peek_counter(&self, key: &str) -> StateResult<Option<u64>> {
        Ok(self.maps().counters.get(key).copied())
    }

    async fn set_counter(&self, key: &str, value: u64, force: bool) -> StateResult<CounterSet> {
        let mut maps = self.maps();
        let counter = maps.counters.entry(key.to_owned()).or_insert(0);
        if *counter > value && !force {
            return Ok(CounterSet::Below { current: *counter });
        }
        *counter = value;
        drop(maps);
        self.changed(Change::Key(Space::Counter, key.to_owned()));
        Ok(CounterSet::Set)
    }

    async fn lock(&self, name: &str, owner: &str, ttl: Duration) -> StateResult<bool> {
        let now = Instant::now();
        let mut maps = self.maps();
        let slot = (Space::Lock, name.to_owned());
        let held_by_other = maps
            .records
            .get(&slot)
            .is_some_and(|e| e.live(now) && e.value != owner.as_bytes());
        if held_by_other {
            return Ok(false);
        }
        let version = maps.records.get(&slot).map_or(0, |e| e.version) + 1;
        maps.records.insert(
            slot,
            Entry {
                value: owner.as_bytes().to_vec(),
                version,
                expires: Some(now + ttl),
            },
        );
        drop(maps);
        self.changed(Change::Key(Space::Lock, name.to_owned()));
        Ok(true)
    }

    async fn unlock(&self, name: &str, owner: &str) -> StateResult<bool> {
        let now = Instant::now();
        let mut maps = self.maps();
        let slot = (Space::Lock, name.to_owned());
        let mine = maps
            .records
            .get(&slot)
            .is_some_and(|e| e.live(now) && e.value == owner.as_bytes());
        if mine {
            maps.records.remove(&slot);
            drop(maps);
            self.changed(Change::Key(Space::Lock, name.to_owned()));
        }
        Ok(mine)
    }

    async fn touch_namespace(
        &self,
        name: &str,
        idle: Option<Duration>,
        cap: Option<usize>,
    ) -> StateResult<Admit> {
        let now = Instant::now();
        let mut maps = self.maps();
        let admit = match maps.namespaces.get(name) {
            Some((used, old_idle)) if !expired(*used, *old_idle, now) => Admit::Existing,
            Some(_) => {
                maps.drop_namespace(name);
                Admit::Created
            }
            None => Admit::Created,
        };
        if admit == Admit::Created {
            if let Some(cap) = cap {
                if maps.expiring_namespaces() >= cap {
                    maps.sweep_namespaces(now);
                    if maps.expiring_namespaces() >= cap {
                        return Ok(Admit::Full);
                    }
                }
            }
        }
        maps.namespaces.insert(name.to_owned(), (now, idle));
        Ok(admit)
    }

    async fn namespace_count(&self) -> StateResult<usize> {
        let mut maps = self.maps();
        maps.sweep_namespaces(Instant::now());
        Ok(maps.namespaces.len())
    }

    async fn queue_push(
        &self,
        space: Space,
        key: &str,
        item: &[u8],
        cap: usize,
        ttl: Duration,
    ) -> StateResult<usize> {
        let now = Instant::now();
        let mut maps = self.maps();
        // Expired queues go when any queue is pushed to, so the map holds
        // only live ones.
        maps.queues.retain(|_, (_, expires)| now < *expires);
        let (items, expires) = maps
            .queues
            .entry((space, key.to_owned()))
            .or_insert_with(|| (VecDeque::new(), now));
        items.push_back(item.to_vec());
        let dropped = items.len().saturating_sub(cap);
        items.drain(..dropped);
        *expires = now + ttl;
        drop(maps);
        self.changed(Change::Key(space, key.to_owned()));
        Ok(dropped)
    }

    async fn queue_items(&self, space: Space, key: &str) -> StateResult<Vec<Vec<u8>>> {
        let now = Instant::now();
        let maps = self.maps();
        Ok(maps
            .queues
            .get(&(space, key.to_owned()))
            .filter(|(_, expires)| now < *expires)
            .map(|(items, _)| items.iter().cloned().collect())
            .unwrap_or_default())
    }

    async fn queue_remove(&self, space: Space, key: &str, item: &[u8]) -> StateResult<bool> {
        let now = Instant::now();
        let mut maps = self.maps();
        let Some((items, expires)) = maps.queues.get_mut(&(space, key.to_owned())) else {
            return Ok(false);
        };
        if now >= *expires {
            return Ok(false);
        }
        let Some(at) = items.iter().position(|i| i == item) else {
            return Ok(false);
        };
        items.remove(at);
        Ok(true)
    }

    fn stamp(&self) -> StateResult<Option<u64>> {
        Ok(Some(self.writes.load(Ordering::Acquire)))
    }

    fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    async fn ping(&self) -> StateResult<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    #[tokio::test]
    async fn memory_store_conforms() {
        super::super::conformance::all(Arc::new(super::MemoryStore::new())).await;
    }
}
