//! The namespaces this thread opened last, so that a call on a namespace
//! in use finds it without the server-wide map's lock.
//!
//! Why: every call opens its namespace. Two runtime workers taking the one
//! lock of [`super::Namespaces`]' map on every call pass its cache line
//! back and forth between their cores; under load that cost rpa-mfa more
//! than the map lookup itself (bench/README.md, "Issue 13, seventh
//! round"). A hit here reads the map's generation, which changes only when
//! a namespace leaves the map, and writes only this thread's memory and
//! the namespace's reference count.
//!
//! Slots hold [`Weak`] handles: a thread's slots never keep a namespace,
//! or the store behind it, alive after its server has let go of it.

use std::cell::RefCell;
use std::hash::BuildHasher;
use std::sync::{Arc, Weak};

use foldhash::fast::FixedState;

use super::{Namespace, Shared};

/// Namespaces remembered per thread: a robot's calls, or a few robots'
/// interleaved, hit; many more fall back to the map, as before.
const SLOTS: usize = 4;

struct Slot {
    /// The server the namespace belongs to: its [`Shared`]'s address. A
    /// namespace that still upgrades keeps its `Shared` alive, so no other
    /// server's can have that address meanwhile.
    owner: usize,
    /// The name's hash, not the name: remembering costs no allocation,
    /// which a thread whose calls spread over many namespaces pays on
    /// every call. A hit is checked against the namespace's own name.
    name_hash: u64,
    /// The map's generation when the namespace was remembered.
    generation: u64,
    ns: Weak<Namespace>,
}

#[derive(Default)]
struct Recent {
    slots: [Option<Slot>; SLOTS],
    /// The slot replaced next.
    next: usize,
}

thread_local! {
    static RECENT: RefCell<Recent> = RefCell::default();
}

fn owner(shared: &Arc<Shared>) -> usize {
    Arc::as_ptr(shared) as usize
}

fn name_hash(name: &str) -> u64 {
    FixedState::with_seed(0).hash_one(name)
}

/// The namespace `name` of the server whose namespaces share `shared`, if
/// this thread remembered it at the map's current `generation`.
pub(super) fn find(shared: &Arc<Shared>, name: &str, generation: u64) -> Option<Arc<Namespace>> {
    let owner = owner(shared);
    let hash = name_hash(name);
    RECENT
        .try_with(|recent| {
            let recent = recent.borrow();
            let slot = recent.slots.iter().flatten().find(|slot| {
                slot.owner == owner && slot.generation == generation && slot.name_hash == hash
            })?;
            slot.ns.upgrade().filter(|ns| ns.name == name)
        })
        .ok()
        .flatten()
}

/// Remembers `ns`, opened from the map at `generation`, in place of the
/// namespace remembered longest ago (or of its own older entry).
pub(super) fn remember(ns: &Arc<Namespace>, generation: u64) {
    let owner = owner(&ns.shared);
    let hash = name_hash(&ns.name);
    let _ = RECENT.try_with(|recent| {
        let mut recent = recent.borrow_mut();
        let same = recent.slots.iter().position(|s| {
            s.as_ref()
                .is_some_and(|s| s.owner == owner && s.name_hash == hash)
        });
        let at = same.unwrap_or(recent.next);
        if same.is_none() {
            recent.next = (recent.next + 1) % SLOTS;
        }
        recent.slots[at] = Some(Slot {
            owner,
            name_hash: hash,
            generation,
            ns: Arc::downgrade(ns),
        });
    });
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use std::sync::atomic::Ordering;

    use super::super::{MemoryStore, NamespaceLimits, Namespaces, StateKey, StateStore};
    use super::*;

    fn namespaces(store: Arc<dyn StateStore>, limits: NamespaceLimits) -> Namespaces {
        Namespaces::new(store, StateKey::generate().0, limits)
    }

    #[tokio::test]
    async fn a_namespace_is_found_again_on_its_thread() {
        let namespaces = namespaces(Arc::new(MemoryStore::new()), NamespaceLimits::default());
        let first = namespaces.get("robot").await.unwrap();
        let generation = namespaces.generation.load(Ordering::Acquire);
        let found = find(&namespaces.shared, "robot", generation).expect("remembered");
        assert!(Arc::ptr_eq(&first, &found));
        assert!(find(&namespaces.shared, "other", generation).is_none());
        assert!(Arc::ptr_eq(&first, &namespaces.get("robot").await.unwrap()));
    }

    /// Two names of one hash: the slot's namespace is checked by name.
    #[tokio::test]
    async fn a_name_of_the_same_hash_is_not_mistaken() {
        let namespaces = namespaces(Arc::new(MemoryStore::new()), NamespaceLimits::default());
        let _b = namespaces.get("b").await.unwrap();
        let generation = namespaces.generation.load(Ordering::Acquire);
        RECENT.with_borrow_mut(|recent| {
            for slot in recent.slots.iter_mut().flatten() {
                slot.name_hash = name_hash("a");
            }
        });
        assert!(find(&namespaces.shared, "a", generation).is_none());
    }

    /// Each server's own: two servers in one process (tests, or a library
    /// embedding two) never get each other's namespace of the same name.
    #[tokio::test]
    async fn another_servers_namespace_of_the_same_name_is_not_found() {
        let a = namespaces(Arc::new(MemoryStore::new()), NamespaceLimits::default());
        let b = namespaces(Arc::new(MemoryStore::new()), NamespaceLimits::default());
        let in_a = a.get("robot").await.unwrap();
        let in_b = b.get("robot").await.unwrap();
        assert!(!Arc::ptr_eq(&in_a, &in_b));
        assert!(Arc::ptr_eq(&in_a.shared, &a.shared));
        assert!(Arc::ptr_eq(&in_b.shared, &b.shared));
    }

    /// A namespace dropped from the map as idle is made again, in the map,
    /// even while a call still holds the old handle.
    #[tokio::test(start_paused = true)]
    async fn a_namespace_that_left_the_map_is_not_found_again() {
        let limits = NamespaceLimits {
            idle: Duration::from_secs(3600),
            max_count: 2,
            ..NamespaceLimits::default()
        };
        let namespaces = namespaces(Arc::new(MemoryStore::new()), limits);
        let old = namespaces.get("a").await.unwrap();
        namespaces.get("b").await.unwrap();
        tokio::time::advance(Duration::from_secs(2 * 3600)).await;
        // A third namespace takes the map past the cap: the idle two go.
        namespaces.get("c").await.unwrap();
        assert_eq!(namespaces.len(), 1);
        let new = namespaces.get("a").await.unwrap();
        assert!(!Arc::ptr_eq(&old, &new), "the old handle came back");
        assert_eq!(namespaces.len(), 2);
    }

    /// What a thread remembers does not keep a server's namespaces, nor
    /// its store, once the server has dropped them.
    #[tokio::test]
    async fn a_remembered_namespace_does_not_keep_the_store() {
        let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
        let namespaces = namespaces(store.clone(), NamespaceLimits::default());
        drop(namespaces.get("robot").await.unwrap());
        drop(namespaces);
        assert_eq!(Arc::strong_count(&store), 1);
    }
}
