//! Robocorp's FileSecrets format: `{"name": {"key": "value"}}` as JSON, or
//! the same as YAML when the file ends in `.yaml`/`.yml`.
//!
//! The file is read on every lookup, so edits show up without a restart.
//! Writes go to a temporary file in the same directory that is synced and
//! renamed over the original: a crash leaves the old file or the new one,
//! never half of one.
//!
//! Several processes may write one file (a server and `rpa-mfa vault set`,
//! or many of either): each read-modify-write holds an advisory lock on a
//! lock file beside it (`.NAME.lock`), so no write is lost. A writer
//! killed mid-write leaves its temporary file, a full copy of every
//! secret; the next writer, holding the lock and so knowing no write is
//! under way, deletes it.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use zeroize::Zeroizing;

use super::{Secret, SecretStore, VaultError};

type Document = BTreeMap<String, BTreeMap<String, Zeroizing<String>>>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Yaml,
}

/// How versions before the lock named their temporary files.
const LEGACY_TEMP_PREFIX: &str = ".secrets-";
/// A legacy temporary file this old has no live writer: writes take
/// milliseconds.
const LEGACY_TEMP_AGE: Duration = Duration::from_secs(60);

pub struct FileStore {
    file: Arc<SecretsFile>,
    /// Serialises read-modify-write cycles within this process.
    write_lock: tokio::sync::Mutex<()>,
}

/// The file itself: shared with the blocking task that writes it.
struct SecretsFile {
    path: PathBuf,
    format: Format,
    /// Named explicitly (`--vault file:PATH`): a missing file is then a
    /// typo to report, not an empty vault. Writing still creates it.
    must_exist: bool,
}

impl FileStore {
    /// The default file: missing means empty, created on first write.
    pub fn new(path: PathBuf) -> FileStore {
        FileStore::open(path, false)
    }

    /// A file the user named: reading it fails with its path when it is
    /// missing, so a typo does not look like an undefined secret.
    pub fn named(path: PathBuf) -> FileStore {
        FileStore::open(path, true)
    }

    fn open(path: PathBuf, must_exist: bool) -> FileStore {
        let yaml = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
        FileStore {
            file: Arc::new(SecretsFile {
                path,
                format: if yaml { Format::Yaml } else { Format::Json },
                must_exist,
            }),
            write_lock: tokio::sync::Mutex::new(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.file.path
    }

    /// Runs one read-modify-write ([`SecretsFile::update`]) on a blocking
    /// thread, one writer of this process at a time. Not `block_in_place`:
    /// a runtime worker keeps its keyword log lines until it goes idle, and
    /// a thread that blocked in place leaves the runtime's workers without
    /// going idle as one (`rpa_mfa::logging::keyword_line`).
    async fn update(
        &self,
        change: impl FnOnce(&mut Document) -> Result<(), VaultError> + Send + 'static,
    ) -> Result<(), VaultError> {
        // Waiting writers wait here, not each on a blocking thread.
        let _guard = self.write_lock.lock().await;
        let file = Arc::clone(&self.file);
        tokio::task::spawn_blocking(move || file.update(change))
            .await
            // Without the join error's text: a panic's message could
            // quote what was being written.
            .map_err(|_| self.file.error("its writer stopped unexpectedly".into()))?
    }
}

impl SecretsFile {
    /// Reads the whole document; a missing file is empty when `missing_ok`.
    async fn load(&self, missing_ok: bool) -> Result<Document, VaultError> {
        let text = tokio::fs::read_to_string(&self.path).await;
        self.parse(text, missing_ok)
    }

    /// The document in what reading the file gave.
    fn parse(
        &self,
        read: std::io::Result<String>,
        missing_ok: bool,
    ) -> Result<Document, VaultError> {
        let text = match read {
            Ok(text) => Zeroizing::new(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && missing_ok => {
                return Ok(Document::new())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(self.error(format!(
                    "no such file; check the path, or create it with \
                     `rpa-mfa vault --vault file:{} set NAME KEY`",
                    self.path.display()
                )))
            }
            Err(e) => return Err(self.error(format!("cannot read it: {e}"))),
        };
        if text.trim().is_empty() {
            return Ok(Document::new());
        }
        // Parser messages can quote the text they choke on, and that text is
        // a secret: report only where the problem is.
        let parsed: serde_json::Value = match self.format {
            Format::Json => serde_json::from_str(&text).map_err(|e| {
                self.error(format!(
                    "not valid JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ))
            })?,
            Format::Yaml => serde_norway::from_str(&text).map_err(|e| {
                let at = e
                    .location()
                    .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
                    .unwrap_or_default();
                self.error(format!("not valid YAML{at}"))
            })?,
        };
        let serde_json::Value::Object(secrets) = parsed else {
            return Err(self.error("the top level must map secret names to secrets".into()));
        };
        let mut doc = Document::new();
        for (name, secret) in secrets {
            let serde_json::Value::Object(values) = secret else {
                return Err(self.error(format!("secret '{name}' must map keys to values")));
            };
            doc.insert(name, super::values_from_json(values));
        }
        Ok(doc)
    }

    fn error(&self, what: String) -> VaultError {
        VaultError::Backend(format!("secrets file '{}': {what}", self.path.display()))
    }

    /// The directory the file, its lock and its temporary files live in.
    fn dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "secrets".into())
    }

    /// What this file's temporary copies are called: `.NAME.tmp-XXXXXX`.
    fn temp_prefix(&self) -> String {
        format!(".{}.tmp-", self.file_name())
    }

    /// One read-modify-write under the cross-process lock. Blocking.
    fn update(
        &self,
        change: impl FnOnce(&mut Document) -> Result<(), VaultError>,
    ) -> Result<(), VaultError> {
        let dir = self.dir();
        std::fs::create_dir_all(&dir)
            .map_err(|e| self.error(format!("cannot create its directory: {e}")))?;
        let _lock = self.lock_exclusively(&dir)?;
        self.remove_stale_temp_files(&dir);
        let mut doc = self.parse(std::fs::read_to_string(&self.path), true)?;
        change(&mut doc)?;
        self.store(&doc, &dir)
    }

    /// Takes the advisory lock beside the file, waiting for other writers;
    /// the kernel releases it when the returned file closes, also when the
    /// process dies. The lock file stays: removing it would let two writers
    /// lock two different files.
    fn lock_exclusively(&self, dir: &Path) -> Result<File, VaultError> {
        let path = dir.join(format!(".{}.lock", self.file_name()));
        let mut options = OpenOptions::new();
        options.create(true).truncate(false).write(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options
            .open(&path)
            .map_err(|e| self.error(format!("cannot open its lock file: {e}")))?;
        file.lock()
            .map_err(|e| self.error(format!("cannot lock it: {e}")))?;
        Ok(file)
    }

    /// Deletes temporary copies left by writers that died mid-write. Only
    /// called with the lock held: every live writer holds it while its
    /// temporary file exists, so each one found now is a dead writer's.
    /// Copies named the way older versions named them (`.secrets-XXXXXX`,
    /// with no lock to tell) go once they are a minute old.
    fn remove_stale_temp_files(&self, dir: &Path) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let ours = self.temp_prefix();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let stale = name.starts_with(&ours)
                || (name.starts_with(LEGACY_TEMP_PREFIX)
                    && entry
                        .metadata()
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > LEGACY_TEMP_AGE));
            if stale && std::fs::remove_file(entry.path()).is_ok() {
                tracing::warn!(
                    file = %entry.path().display(),
                    "removed a temporary secrets file a killed writer left behind"
                );
            }
        }
    }

    /// Writes the whole document atomically: temp file, fsync, rename.
    fn store(&self, doc: &Document, dir: &Path) -> Result<(), VaultError> {
        let plain: BTreeMap<&str, BTreeMap<&str, &str>> = doc
            .iter()
            .map(|(n, s)| {
                (
                    n.as_str(),
                    s.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
                )
            })
            .collect();
        let text = Zeroizing::new(match self.format {
            Format::Json => serde_json::to_string_pretty(&plain)
                .map(|s| s + "\n")
                .map_err(|e| self.error(e.to_string()))?,
            Format::Yaml => {
                serde_norway::to_string(&plain).map_err(|e| self.error(e.to_string()))?
            }
        });
        let mut tmp = tempfile::Builder::new()
            .prefix(&self.temp_prefix())
            .tempfile_in(dir)
            .map_err(|e| self.error(format!("cannot write next to it: {e}")))?;
        // tempfile creates the file 0600, which is what a secrets file wants.
        tmp.write_all(text.as_bytes())
            .and_then(|_| tmp.as_file().sync_all())
            .map_err(|e| self.error(format!("cannot write it: {e}")))?;
        tmp.persist(&self.path)
            .map_err(|e| self.error(format!("cannot replace it: {}", e.error)))?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all(); // make the rename itself durable
        }
        Ok(())
    }
}

#[async_trait]
impl SecretStore for FileStore {
    async fn get(&self, name: &str) -> Result<Secret, VaultError> {
        self.file
            .load(!self.file.must_exist)
            .await?
            .remove(name)
            .map(Secret::new)
            .ok_or_else(|| VaultError::UndefinedSecret(name.to_owned()))
    }

    async fn set(&self, name: &str, key: &str, value: &str) -> Result<(), VaultError> {
        let (name, key) = (name.to_owned(), key.to_owned());
        let value = Zeroizing::new(value.to_owned());
        self.update(move |doc| {
            doc.entry(name).or_default().insert(key, value);
            Ok(())
        })
        .await
    }

    /// Check-and-set under the same locks as `set`: the value is compared
    /// and replaced in one read-modify-write no other writer (in this
    /// process or another) can come between.
    async fn replace(
        &self,
        name: &str,
        key: &str,
        expected: Option<&str>,
        new: &str,
    ) -> Result<(), VaultError> {
        let (name, key) = (name.to_owned(), key.to_owned());
        let expected = expected.map(|e| Zeroizing::new(e.to_owned()));
        let new = Zeroizing::new(new.to_owned());
        self.update(move |doc| {
            let current = doc.get(&name).and_then(|s| s.get(&key));
            if current.map(|v| v.as_str()) != expected.as_deref().map(String::as_str) {
                return Err(VaultError::Conflict(name));
            }
            doc.entry(name).or_default().insert(key, new);
            Ok(())
        })
        .await
    }

    async fn list(&self) -> Result<Vec<String>, VaultError> {
        Ok(self
            .file
            .load(!self.file.must_exist)
            .await?
            .into_keys()
            .collect())
    }

    async fn check(&self) -> Result<(), VaultError> {
        self.file.load(!self.file.must_exist).await.map(|_| ())
    }

    fn describe(&self) -> String {
        format!("file:{}", self.file.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread")]
    async fn replace_is_check_and_set_across_writers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        std::fs::write(&path, r#"{"crm": {"refresh": "r1", "other": "x"}}"#).unwrap();
        let store = Arc::new(FileStore::named(path.clone()));
        store
            .replace("crm", "refresh", Some("r1"), "r2")
            .await
            .unwrap();
        assert_eq!(*store.get_value("crm", "refresh").await.unwrap(), "r2");
        assert_eq!(*store.get_value("crm", "other").await.unwrap(), "x");
        // A stale expectation writes nothing.
        let err = store
            .replace("crm", "refresh", Some("r1"), "r3")
            .await
            .unwrap_err();
        assert!(
            matches!(err, VaultError::Conflict(ref n) if n == "crm"),
            "{err}"
        );
        assert_eq!(*store.get_value("crm", "refresh").await.unwrap(), "r2");
        // None expects the key absent.
        store.replace("new", "k", None, "v").await.unwrap();
        assert!(store.replace("new", "k", None, "w").await.is_err());
        // Many writers (two stores on one file, as two processes) all
        // expecting the same value: exactly one wins.
        let second = Arc::new(FileStore::named(path.clone()));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let store = if i % 2 == 0 {
                    store.clone()
                } else {
                    second.clone()
                };
                tokio::spawn(async move {
                    store
                        .replace("crm", "refresh", Some("r2"), &format!("w{i}"))
                        .await
                })
            })
            .collect();
        let mut won = 0;
        for task in tasks {
            won += usize::from(task.await.unwrap().is_ok());
        }
        assert_eq!(won, 1);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn json_round_trip_and_rpa_mfa_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        std::fs::write(
            &path,
            r#"{"mfa": {"otpsecret": "JBSWY3DPEHPK3PXP", "n": 5}}"#,
        )
        .unwrap();
        let store = FileStore::new(path.clone());
        let secret = store.get("mfa").await.unwrap();
        assert_eq!(
            secret.value("otpsecret").unwrap().as_str(),
            "JBSWY3DPEHPK3PXP"
        );
        assert_eq!(secret.value("n").unwrap().as_str(), "5");
        assert_eq!(
            store.get("nope").await.unwrap_err().to_string(),
            "KeyError: 'Undefined secret: nope'"
        );
        assert_eq!(secret.value("k").unwrap_err().to_string(), "KeyError: 'k'");
        assert!(!format!("{secret:?}").contains("JBSW"));

        store.set("mfa", "other", "VALUE").await.unwrap();
        store.set("new", "k", "v").await.unwrap();
        let reread: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(reread["mfa"]["otpsecret"], "JBSWY3DPEHPK3PXP");
        assert_eq!(reread["mfa"]["other"], "VALUE");
        assert_eq!(reread["new"]["k"], "v");
        // Only the secrets file and its lock file are left: no temporary files.
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [".secrets.json.lock", "secrets.json"]);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn yaml_is_read_and_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.yaml");
        std::fs::write(&path, "mfa:\n  otpsecret: JBSWY3DPEHPK3PXP\n").unwrap();
        let store = FileStore::new(path.clone());
        store.set("mfa", "b", "x").await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let doc: serde_json::Value = serde_norway::from_str(&text).unwrap();
        assert_eq!(doc["mfa"]["otpsecret"], "JBSWY3DPEHPK3PXP");
        assert_eq!(doc["mfa"]["b"], "x");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn broken_files_fail_without_quoting_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(&path, r#"{"mfa": "TOPSECRETVALUE"}"#).unwrap();
        let err = FileStore::new(path.clone())
            .get("mfa")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("must map keys to values"), "{err}");
        std::fs::write(&path, r#"{"mfa": {"k": TOPSECRETVALUE}}"#).unwrap();
        let err = FileStore::new(path.clone())
            .get("mfa")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("not valid JSON (line 1"), "{err}");
        assert!(!err.contains("TOPSECRET"));
        // A failed write leaves the broken file as it was.
        assert!(FileStore::new(path.clone())
            .set("a", "b", "c")
            .await
            .is_err());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            r#"{"mfa": {"k": TOPSECRETVALUE}}"#
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn missing_file_is_an_empty_vault() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("sub").join("s.json"));
        assert!(store.list().await.unwrap().is_empty());
        store.set("a", "b", "c").await.unwrap();
        assert_eq!(store.list().await.unwrap(), vec!["a".to_owned()]);
    }
}
