//! Choosing a store (`--state SPEC`) and its state key (`--state-key`).
//!
//! | spec | store |
//! |---|---|
//! | none | `sqlite:` on `state.db` in the user's data directory |
//! | `sqlite:PATH` | SQLite at PATH (`sqlite:` alone: the default file) |
//! | `memory:` | this process only |
//! | `redis://HOST:PORT/DB`, `rediss://...` | a Redis shared by a fleet (TLS with `rediss`) |
//! | `redis+cluster://HOST:PORT,HOST:PORT` | a Redis Cluster, from some of its masters |
//!
//! The state key comes from the vault when `--state-key NAME:KEY` is
//! given; Redis needs it (every server of a fleet seals with the same
//! key). Otherwise a SQLite store keeps one beside its file (`state.key`
//! for `state.db`, mode 0600, made on first start), and `memory:` makes a
//! throwaway one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use zeroize::Zeroizing;

use super::redis::{is_redis_spec, RedisSpec};
use super::sqlite::SqliteStore;
use super::{MemoryStore, StateError, StateKey, StateStore};
use crate::vault::SecretStore;

/// A parsed `--state` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateSpec {
    Memory,
    Sqlite(PathBuf),
    Redis(RedisSpec),
}

impl StateSpec {
    /// Reads a spec; None or empty is the embedded default.
    pub fn parse(spec: Option<&str>) -> Result<StateSpec, StateError> {
        let spec = spec.map(str::trim).filter(|s| !s.is_empty());
        match spec {
            None => Ok(StateSpec::Sqlite(default_path()?)),
            Some("memory:") | Some("memory") => Ok(StateSpec::Memory),
            Some(s) if s.starts_with("sqlite:") => match &s["sqlite:".len()..] {
                "" => Ok(StateSpec::Sqlite(default_path()?)),
                path => Ok(StateSpec::Sqlite(PathBuf::from(path))),
            },
            Some(s) if is_redis_spec(s) => Ok(StateSpec::Redis(RedisSpec::parse(s)?)),
            Some(other) => Err(StateError::new(format!(
                "unknown state store '{}': use sqlite:PATH, memory: or redis://HOST:PORT/DB",
                other.split(['/', '@']).next().unwrap_or(other)
            ))),
        }
    }

    /// Adds `--state-redis-prefix` and `--state-redis-ca`, which only a
    /// Redis store takes.
    pub fn with_redis_settings(
        self,
        prefix: Option<String>,
        ca: Option<PathBuf>,
    ) -> Result<StateSpec, StateError> {
        match self {
            StateSpec::Redis(redis) => Ok(StateSpec::Redis(redis.with_settings(prefix, ca))),
            _ if prefix.is_some() || ca.is_some() => Err(StateError::new(
                "--state-redis-prefix and --state-redis-ca are for a redis:// --state",
            )),
            other => Ok(other),
        }
    }
}

/// `state.db` in the user's data directory.
pub fn default_path() -> Result<PathBuf, StateError> {
    dirs::data_dir()
        .map(|d| d.join("rpa-mfa").join("state.db"))
        .ok_or_else(|| StateError::new("no user data directory; pass --state sqlite:PATH"))
}

/// Opens the store a spec names and its state key. `key_ref` is
/// `--state-key NAME:KEY`, read from `vault`.
pub async fn open(
    spec: &StateSpec,
    key_ref: Option<(&str, &str)>,
    vault: &dyn SecretStore,
) -> Result<(Arc<dyn StateStore>, StateKey), String> {
    let key = match key_ref {
        Some((name, key)) => {
            let text = Zeroizing::new(
                vault
                    .get_value(name, key)
                    .await
                    .map_err(|e| format!("--state-key {name}:{key}: {e}"))?,
            );
            Some(
                StateKey::from_base64(&text)
                    .map_err(|e| format!("--state-key {name}:{key}: {e}"))?,
            )
        }
        None => None,
    };
    match spec {
        StateSpec::Memory => Ok((
            Arc::new(MemoryStore::new()),
            key.unwrap_or_else(|| StateKey::generate().0),
        )),
        StateSpec::Sqlite(path) => {
            let key = match key {
                Some(key) => key,
                None => key_beside(path).map_err(|e| e.to_string())?,
            };
            Ok((SqliteStore::new(path), key))
        }
        StateSpec::Redis(redis) => {
            let key = key.ok_or(
                "--state-key NAME:KEY is required with redis://: every server of a fleet \
seals secrets with the same key, kept in the vault",
            )?;
            Ok((Arc::new(redis.open().map_err(|e| e.to_string())?), key))
        }
    }
}

/// Where the generated key of a SQLite file lives: `state.key` beside
/// `state.db`.
pub fn key_path(db: &Path) -> PathBuf {
    db.with_extension("key")
}

/// The key kept beside `db`, made on first use. Two processes starting
/// at once agree: the key is written to a private temporary file and
/// linked into place only if no key is there yet.
pub fn key_beside(db: &Path) -> Result<StateKey, StateError> {
    let path = key_path(db);
    let fail = |e: std::io::Error| StateError::new(format!("state key {}: {e}", path.display()));
    if !path.exists() {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(fail)?;
        let (_, text) = StateKey::generate();
        // tempfile makes the file with mode 0600.
        let mut file = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
        file.write_all(text.as_bytes())
            .and_then(|_| file.as_file().sync_all())
            .map_err(fail)?;
        match std::fs::hard_link(file.path(), &path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(fail(e)),
        }
    }
    let text = Zeroizing::new(std::fs::read_to_string(&path).map_err(fail)?);
    StateKey::from_base64(&text)
        .map_err(|e| StateError::new(format!("state key {}: {}", path.display(), e.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        assert_eq!(
            StateSpec::parse(Some("memory:")).unwrap(),
            StateSpec::Memory
        );
        assert_eq!(
            StateSpec::parse(Some("sqlite:/tmp/x.db")).unwrap(),
            StateSpec::Sqlite("/tmp/x.db".into())
        );
        assert!(matches!(
            StateSpec::parse(None).unwrap(),
            StateSpec::Sqlite(p) if p.ends_with("rpa-mfa/state.db")
        ));
        let err = StateSpec::parse(Some("postgres://u:pw@h/db"))
            .unwrap_err()
            .0;
        assert!(err.contains("unknown state store 'postgres:'"), "{err}");
        assert!(!err.contains("pw"));
    }

    #[test]
    fn redis_specs_parse_and_keep_their_password_out_of_debug() {
        let spec = StateSpec::parse(Some("rediss://:pw-Zq8@redis.internal:6380/1"))
            .unwrap()
            .with_redis_settings(Some("fleet".into()), None)
            .unwrap();
        let shown = format!("{spec:?}");
        assert!(shown.contains("rediss://redis.internal:6380/1"), "{shown}");
        assert!(
            shown.contains("fleet") && !shown.contains("pw-Zq8"),
            "{shown}"
        );
        let err = StateSpec::parse(Some("redis://:pw-Zq8@h:port/0"))
            .unwrap_err()
            .0;
        assert!(
            err.starts_with("a bad port;") && !err.contains("pw-Zq8"),
            "{err}"
        );
        let err = StateSpec::Memory
            .with_redis_settings(Some("fleet".into()), None)
            .unwrap_err()
            .0;
        assert!(err.contains("are for a redis:// --state"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn the_generated_key_is_private_and_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("state.db");
        let first = key_beside(&db).unwrap();
        let mode = std::fs::metadata(key_path(&db))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = key_beside(&db).unwrap();
        assert_eq!(first.fingerprint(&[b"x"]), again.fingerprint(&[b"x"]));
        // Only the key file is left beside the database.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("state.key")]);
    }
}
