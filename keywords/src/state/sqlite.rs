//! `sqlite:PATH` — the embedded default: one file, safe for several
//! processes on one host (the server and the CLI, or two servers).
//!
//! WAL lets readers and one writer work at once; every change is one
//! `BEGIN IMMEDIATE` transaction, committed with `synchronous=FULL` before
//! the call returns, so a counter handed out survives a crash of the
//! process or the machine. SQLite blocks, so work runs on tokio's blocking
//! pool; a busy timeout below the 5 s bound turns a lock held elsewhere
//! into a clear `StateError`. The connection opens lazily and reopens after
//! a failure, so a broken file fails calls instead of the server, and a
//! repaired one is used again.
//!
//! The cache stamp is `PRAGMA data_version` of a second connection: it
//! changes whenever any other connection (this process's worker included)
//! commits, and reading it touches no disk.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use tokio::sync::broadcast;

use super::store::{
    Admit, Change, CounterSet, Expect, Space, StateError, StateResult, StateStore, Versioned,
};

/// How long a statement waits for a lock held by another connection.
const BUSY_TIMEOUT: Duration = Duration::from_millis(4_000);
/// How often other processes' commits are looked for, to tell subscribers.
const POLL: Duration = Duration::from_millis(500);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS records (
    space TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
    version INTEGER NOT NULL, expires_at INTEGER,
    PRIMARY KEY (space, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (
    key TEXT PRIMARY KEY, next INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS namespaces (
    name TEXT PRIMARY KEY, used_at INTEGER NOT NULL, idle_ms INTEGER) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS queue_items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, space TEXT NOT NULL, key TEXT NOT NULL,
    item BLOB NOT NULL, expires_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS queue_items_by_key ON queue_items (space, key, seq);
";

/// The `sqlite:PATH` store.
pub struct SqliteStore {
    path: PathBuf,
    worker: Arc<Mutex<Option<Connection>>>,
    stamp: Mutex<Option<Connection>>,
    changes: broadcast::Sender<Change>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl SqliteStore {
    /// A store on the file at `path`, made (with its directory) on first
    /// use. Opening never fails: problems show when the store is used.
    pub fn new(path: &Path) -> Arc<SqliteStore> {
        let store = Arc::new(SqliteStore {
            path: path.to_owned(),
            worker: Arc::new(Mutex::new(None)),
            stamp: Mutex::new(None),
            changes: broadcast::channel(256).0,
        });
        if tokio::runtime::Handle::try_current().is_ok() {
            // The baseline is taken now, not when the watcher first runs:
            // a commit made between the two would otherwise become the
            // baseline and never be told.
            let seen = store.stamp().ok().flatten();
            tokio::spawn(watch_other_processes(Arc::downgrade(&store), seen));
        }
        store
    }

    fn error(&self, e: impl std::fmt::Display) -> StateError {
        StateError::new(format!("SQLite at {}: {e}", self.path.display()))
    }

    fn connect(&self) -> Result<Connection, StateError> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| self.error(e))?;
        }
        let conn = Connection::open(&self.path).map_err(|e| self.error(e))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| self.error(e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .and_then(|_| conn.pragma_update(None, "synchronous", "FULL"))
            .and_then(|_| conn.execute_batch(SCHEMA))
            .map_err(|e| self.error(e))?;
        Ok(conn)
    }

    /// Runs `work` in one immediate transaction on the blocking pool.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T> + Send + 'static,
    ) -> StateResult<T> {
        let worker = self.worker.clone();
        let path = self.path.clone();
        let opened = {
            let mut slot = lock(&worker);
            if slot.is_none() {
                *slot = Some(self.connect()?);
            }
            drop(slot);
            Ok::<(), StateError>(())
        };
        opened?;
        let result = tokio::task::spawn_blocking(move || {
            let mut slot = lock(&worker);
            let conn = slot.as_mut().expect("opened above");
            let outcome = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .and_then(|tx| {
                    let value = work(&tx)?;
                    tx.commit()?;
                    Ok(value)
                });
            if outcome.is_err() {
                // Start afresh next time: the file may have been replaced.
                *slot = None;
            }
            outcome
        })
        .await
        .map_err(|e| StateError::new(format!("SQLite at {}: {e}", path.display())))?;
        result.map_err(|e| self.error(e))
    }

    fn told(&self, change: Change) {
        let _ = self.changes.send(change);
    }
}

/// Tells subscribers when another process committed, by watching the
/// stamp; stops when the store is dropped.
async fn watch_other_processes(store: std::sync::Weak<SqliteStore>, seen: Option<u64>) {
    let mut last = seen;
    loop {
        // The first look is at once: a commit made before the first poll
        // must change the stamp from what was seen, not set the baseline.
        {
            let Some(store) = store.upgrade() else { return };
            let stamp = store.stamp().ok().flatten();
            if stamp.is_some() && last.is_some() && stamp != last {
                store.told(Change::Any);
            }
            last = stamp.or(last);
        }
        tokio::time::sleep(POLL).await;
    }
}

fn live(expires_at: Option<i64>, now: i64) -> bool {
    expires_at.is_none_or(|t| now < t)
}

/// The row at (space, key): its version and whether it is live.
fn current(
    tx: &rusqlite::Transaction<'_>,
    space: Space,
    key: &str,
) -> rusqlite::Result<Option<(u64, bool)>> {
    let now = now_ms();
    tx.query_row(
        "SELECT version, expires_at FROM records WHERE space = ?1 AND key = ?2",
        params![space.as_str(), key],
        |row| Ok((row.get::<_, i64>(0)? as u64, live(row.get(1)?, now))),
    )
    .optional()
}

fn write(
    tx: &rusqlite::Transaction<'_>,
    space: Space,
    key: &str,
    value: &[u8],
    version: u64,
    ttl: Option<Duration>,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO records (space, key, value, version, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (space, key) DO UPDATE SET value = ?3, version = ?4, expires_at = ?5",
        params![
            space.as_str(),
            key,
            value,
            version as i64,
            ttl.map(|t| now_ms().saturating_add(ms(t)))
        ],
    )?;
    Ok(())
}

fn drop_namespace(tx: &rusqlite::Transaction<'_>, name: &str) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM namespaces WHERE name = ?1", [name])?;
    for space in Space::ALL.into_iter().filter(|s| s.is_per_namespace()) {
        tx.execute(
            "DELETE FROM records WHERE space = ?1 AND key = ?2",
            params![space.as_str(), name],
        )?;
    }
    Ok(())
}

fn sweep_namespaces(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    let now = now_ms();
    let dead: Vec<String> = tx
        .prepare(
            "SELECT name FROM namespaces WHERE idle_ms IS NOT NULL AND used_at + idle_ms <= ?1",
        )?
        .query_map([now], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for name in dead {
        drop_namespace(tx, &name)?;
    }
    tx.execute(
        "DELETE FROM records WHERE expires_at IS NOT NULL AND expires_at <= ?1",
        [now],
    )?;
    Ok(())
}

fn count_namespaces(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<usize> {
    tx.query_row("SELECT count(*) FROM namespaces", [], |row| {
        row.get::<_, i64>(0)
    })
    .map(|n| n as usize)
}

/// The namespaces the cap counts: those that expire.
fn count_expiring_namespaces(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<usize> {
    tx.query_row(
        "SELECT count(*) FROM namespaces WHERE idle_ms IS NOT NULL",
        [],
        |row| row.get::<_, i64>(0),
    )
    .map(|n| n as usize)
}

#[async_trait]
impl StateStore for SqliteStore {
    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }

    async fn get(&self, space: Space, key: &str) -> StateResult<Option<Versioned>> {
        let key = key.to_owned();
        self.run(move |tx| {
            let now = now_ms();
            tx.query_row(
                "SELECT value, version, expires_at FROM records WHERE space = ?1 AND key = ?2",
                params![space.as_str(), key],
                |row| {
                    Ok((
                        row.get::<_, Vec<u8>>(0)?,
                        row.get::<_, i64>(1)? as u64,
                        row.get::<_, Option<i64>>(2)?,
                    ))
                },
            )
            .optional()
            .map(|row| {
                row.filter(|(_, _, expires)| live(*expires, now))
                    .map(|(value, version, _)| Versioned { value, version })
            })
        })
        .await
    }

    async fn put(
        &self,
        space: Space,
        key: &str,
        value: &[u8],
        expect: Expect,
        ttl: Option<Duration>,
    ) -> StateResult<Option<u64>> {
        let (owned_key, value) = (key.to_owned(), value.to_vec());
        let written = self
            .run(move |tx| {
                let row = current(tx, space, &owned_key)?;
                let live_version = row.filter(|(_, live)| *live).map(|(v, _)| v);
                let ok = match expect {
                    Expect::Any => true,
                    Expect::Absent => live_version.is_none(),
                    Expect::Version(v) => live_version == Some(v),
                };
                if !ok {
                    return Ok(None);
                }
                let version = row.map_or(0, |(v, _)| v) + 1;
                write(tx, space, &owned_key, &value, version, ttl)?;
                Ok(Some(version))
            })
            .await?;
        if written.is_some() {
            self.told(Change::Key(space, key.to_owned()));
        }
        Ok(written)
    }

    async fn delete(&self, space: Space, key: &str) -> StateResult<bool> {
        let owned_key = key.to_owned();
        let was_live = self
            .run(move |tx| {
                let row = current(tx, space, &owned_key)?;
                tx.execute(
                    "DELETE FROM records WHERE space = ?1 AND key = ?2",
                    params![space.as_str(), owned_key],
                )?;
                Ok(row.is_some_and(|(_, live)| live))
            })
            .await?;
        if was_live {
            self.told(Change::Key(space, key.to_owned()));
        }
        Ok(was_live)
    }

    async fn next_counter(&self, key: &str) -> StateResult<u64> {
        let owned_key = key.to_owned();
        let handed = self
            .run(move |tx| {
                tx.query_row(
                    "INSERT INTO counters (key, next) VALUES (?1, 1)
                     ON CONFLICT (key) DO UPDATE SET next = next + 1 RETURNING next - 1",
                    [owned_key],
                    |row| row.get::<_, i64>(0),
                )
            })
            .await?;
        self.told(Change::Key(Space::Counter, key.to_owned()));
        Ok(handed as u64)
    }

    async fn peek_counter(&self, key: &str) -> StateResult<Option<u64>> {
        let key = key.to_owned();
        self.run(move |tx| {
            tx.query_row("SELECT next FROM counters WHERE key = ?1", [key], |row| {
                row.get::<_, i64>(0)
            })
            .optional()
            .map(|n| n.map(|n| n as u64))
        })
        .await
    }

    async fn set_counter(&self, key: &str, value: u64, force: bool) -> StateResult<CounterSet> {
        let Ok(stored) = i64::try_from(value) else {
            return Err(StateError::new(format!(
                "counters kept in SQLite go up to {}, got {value}",
                i64::MAX
            )));
        };
        let owned_key = key.to_owned();
        let outcome = self
            .run(move |tx| {
                let current: Option<i64> = tx
                    .query_row(
                        "SELECT next FROM counters WHERE key = ?1",
                        [&owned_key],
                        |row| row.get(0),
                    )
                    .optional()?;
                if let Some(current) = current.filter(|c| *c > stored && !force) {
                    return Ok(CounterSet::Below {
                        current: current as u64,
                    });
                }
                tx.execute(
                    "INSERT INTO counters (key, next) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET next = ?2",
                    params![owned_key, stored],
                )?;
                Ok(CounterSet::Set)
            })
            .await?;
        if outcome == CounterSet::Set {
            self.told(Change::Key(Space::Counter, key.to_owned()));
        }
        Ok(outcome)
    }

    async fn lock(&self, name: &str, owner: &str, ttl: Duration) -> StateResult<bool> {
        let (owned_name, owner) = (name.to_owned(), owner.to_owned());
        let taken = self
            .run(move |tx| {
                let now = now_ms();
                let row: Option<(Vec<u8>, i64, Option<i64>)> = tx
                    .query_row(
                        "SELECT value, version, expires_at FROM records WHERE space = ?1 AND key = ?2",
                        params![Space::Lock.as_str(), owned_name],
                        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                    )
                    .optional()?;
                if let Some((holder, _, expires)) = &row {
                    if live(*expires, now) && holder != owner.as_bytes() {
                        return Ok(false);
                    }
                }
                let version = row.map_or(0, |(_, v, _)| v as u64) + 1;
                write(tx, Space::Lock, &owned_name, owner.as_bytes(), version, Some(ttl))?;
                Ok(true)
            })
            .await?;
        if taken {
            self.told(Change::Key(Space::Lock, name.to_owned()));
        }
        Ok(taken)
    }

    async fn unlock(&self, name: &str, owner: &str) -> StateResult<bool> {
        let (owned_name, owner) = (name.to_owned(), owner.to_owned());
        let released = self
            .run(move |tx| {
                let deleted = tx.execute(
                    "DELETE FROM records WHERE space = ?1 AND key = ?2 AND value = ?3
                     AND (expires_at IS NULL OR expires_at > ?4)",
                    params![Space::Lock.as_str(), owned_name, owner.as_bytes(), now_ms()],
                )?;
                Ok(deleted == 1)
            })
            .await?;
        if released {
            self.told(Change::Key(Space::Lock, name.to_owned()));
        }
        Ok(released)
    }

    async fn touch_namespace(
        &self,
        name: &str,
        idle: Option<Duration>,
        cap: Option<usize>,
    ) -> StateResult<Admit> {
        let name = name.to_owned();
        self.run(move |tx| {
            let now = now_ms();
            let row: Option<(i64, Option<i64>)> = tx
                .query_row(
                    "SELECT used_at, idle_ms FROM namespaces WHERE name = ?1",
                    [&name],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .optional()?;
            let admit = match row {
                Some((used, idle)) if idle.is_none_or(|i| now < used.saturating_add(i)) => {
                    Admit::Existing
                }
                Some(_) => {
                    drop_namespace(tx, &name)?;
                    Admit::Created
                }
                None => Admit::Created,
            };
            if admit == Admit::Created {
                if let Some(cap) = cap {
                    if count_expiring_namespaces(tx)? >= cap {
                        sweep_namespaces(tx)?;
                        if count_expiring_namespaces(tx)? >= cap {
                            return Ok(Admit::Full);
                        }
                    }
                }
            }
            tx.execute(
                "INSERT INTO namespaces (name, used_at, idle_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET used_at = ?2, idle_ms = ?3",
                params![name, now, idle.map(ms)],
            )?;
            Ok(admit)
        })
        .await
    }

    async fn namespace_count(&self) -> StateResult<usize> {
        self.run(|tx| {
            sweep_namespaces(tx)?;
            count_namespaces(tx)
        })
        .await
    }

    async fn queue_push(
        &self,
        space: Space,
        key: &str,
        item: &[u8],
        cap: usize,
        ttl: Duration,
    ) -> StateResult<usize> {
        let (owned_key, item) = (key.to_owned(), item.to_vec());
        let cap = i64::try_from(cap).unwrap_or(i64::MAX);
        let dropped = self
            .run(move |tx| {
                let now = now_ms();
                let expires = now.saturating_add(ms(ttl));
                let name = space.as_str();
                tx.execute(
                    "DELETE FROM queue_items WHERE expires_at <= ?1",
                    [now],
                )?;
                tx.execute(
                    "INSERT INTO queue_items (space, key, item, expires_at) VALUES (?1, ?2, ?3, ?4)",
                    params![name, owned_key, item, expires],
                )?;
                tx.execute(
                    "UPDATE queue_items SET expires_at = ?3 WHERE space = ?1 AND key = ?2",
                    params![name, owned_key, expires],
                )?;
                tx.execute(
                    "DELETE FROM queue_items WHERE seq IN (SELECT seq FROM queue_items
                     WHERE space = ?1 AND key = ?2 ORDER BY seq DESC LIMIT -1 OFFSET ?3)",
                    params![name, owned_key, cap],
                )
            })
            .await?;
        self.told(Change::Key(space, key.to_owned()));
        Ok(dropped)
    }

    async fn queue_items(&self, space: Space, key: &str) -> StateResult<Vec<Vec<u8>>> {
        let key = key.to_owned();
        self.run(move |tx| {
            tx.prepare_cached(
                "SELECT item FROM queue_items WHERE space = ?1 AND key = ?2 AND expires_at > ?3
                 ORDER BY seq",
            )?
            .query_map(params![space.as_str(), key, now_ms()], |row| row.get(0))?
            .collect()
        })
        .await
    }

    async fn queue_remove(&self, space: Space, key: &str, item: &[u8]) -> StateResult<bool> {
        let (key, item) = (key.to_owned(), item.to_vec());
        self.run(move |tx| {
            let removed = tx.execute(
                "DELETE FROM queue_items WHERE seq = (SELECT seq FROM queue_items
                 WHERE space = ?1 AND key = ?2 AND item = ?3 AND expires_at > ?4
                 ORDER BY seq LIMIT 1)",
                params![space.as_str(), key, item, now_ms()],
            )?;
            Ok(removed == 1)
        })
        .await
    }

    fn stamp(&self) -> StateResult<Option<u64>> {
        let mut slot = lock(&self.stamp);
        if slot.is_none() {
            *slot = Some(self.connect()?);
        }
        let conn = slot.as_ref().expect("opened above");
        // Asked on every call: the statement is prepared once and kept.
        let version = conn
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut statement| statement.query_row([], |row| row.get::<_, i64>(0)));
        match version {
            Ok(v) => Ok(Some(v as u64)),
            Err(e) => {
                *slot = None;
                Err(self.error(e))
            }
        }
    }

    fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    async fn ping(&self) -> StateResult<()> {
        self.run(|tx| tx.query_row("SELECT count(*) FROM counters", [], |_| Ok(())))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_store_conforms() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::new(&dir.path().join("sub/state.db"));
        super::super::conformance::all(store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_connections_share_counters_and_see_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let (a, b) = (SqliteStore::new(&path), SqliteStore::new(&path));
        let before = b.stamp().unwrap();
        assert_eq!(a.next_counter("k").await.unwrap(), 0);
        assert_ne!(b.stamp().unwrap(), before, "b sees a's commit");
        assert_eq!(b.next_counter("k").await.unwrap(), 1);
        assert_eq!(a.next_counter("k").await.unwrap(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_broken_file_fails_calls_with_a_state_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        std::fs::write(&path, vec![0x5a; 8192]).unwrap();
        let store = SqliteStore::new(&path);
        let err = store.next_counter("k").await.unwrap_err().0;
        assert!(
            err.starts_with(&format!("SQLite at {}: ", path.display())),
            "{err}"
        );
        assert!(store.ping().await.is_err());
        // Repaired: the store is used again without a restart.
        std::fs::remove_file(&path).unwrap();
        assert_eq!(store.next_counter("k").await.unwrap(), 0);
    }
}
