//! The one directory whose images keywords may read and write by path
//! (`--qr-dir`): every other file of the server stays out of reach of
//! clients, whatever `..` or symbolic links a path holds.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use crate::KeywordError;

/// Files larger than this are refused before they are read: no PNG or
/// JPEG of a screen is this big, and the pixel bound comes later.
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// The configured QR directory, canonical (no `..`, no symbolic links),
/// so that "inside it" is a plain prefix test on canonical paths.
#[derive(Debug, Clone)]
pub struct QrDir {
    root: PathBuf,
}

impl QrDir {
    /// Opens the directory, which must exist.
    pub fn open(path: &Path) -> Result<QrDir, String> {
        let root = path
            .canonicalize()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if !root.is_dir() {
            return Err(format!("{}: not a directory", path.display()));
        }
        Ok(QrDir { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// An existing file under the directory: `given` is relative to it or
    /// absolute; it is refused when its canonical form (every link and
    /// `..` resolved) lies outside.
    pub fn existing(&self, given: &str) -> Result<PathBuf, KeywordError> {
        let joined = self.root.join(given);
        let real = joined.canonicalize().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                // Said only once the path is known to be ours to talk about.
                match self.within_lexically(&joined) {
                    true => KeywordError::new(
                        "FileNotFoundError",
                        format!("No file '{given}' in the QR directory."),
                    ),
                    false => outside(given),
                }
            } else {
                KeywordError::new("OSError", format!("Cannot open '{given}': {e}"))
            }
        })?;
        if !real.starts_with(&self.root) {
            return Err(outside(given));
        }
        if !real.is_file() {
            return Err(KeywordError::new(
                "IsADirectoryError",
                format!("'{given}' is not a file."),
            ));
        }
        Ok(real)
    }

    /// Reads a file under the directory, refusing one over
    /// [`MAX_FILE_BYTES`] (checked on the open file, and again while
    /// reading, since a file may grow).
    pub fn read(&self, given: &str) -> Result<Vec<u8>, KeywordError> {
        let path = self.existing(given)?;
        let io =
            |e: std::io::Error| KeywordError::new("OSError", format!("Cannot read '{given}': {e}"));
        let file = std::fs::File::open(&path).map_err(io)?;
        let too_large = || {
            KeywordError::value_error(format!(
                "'{given}' is larger than {MAX_FILE_BYTES} bytes; it is no screenshot."
            ))
        };
        if file.metadata().map_err(io)?.len() > MAX_FILE_BYTES {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(too_large());
        }
        Ok(bytes)
    }

    /// Writes `bytes` to a file under the directory, whole or not at all:
    /// a temporary file beside it is renamed over it. The parent must
    /// exist inside the directory; a link at the target is replaced, not
    /// followed.
    pub fn write(&self, given: &str, bytes: &[u8]) -> Result<PathBuf, KeywordError> {
        let joined = self.root.join(given);
        let Some(Component::Normal(name)) = joined.components().next_back() else {
            return Err(KeywordError::value_error(format!(
                "'{given}' does not name a file."
            )));
        };
        let parent = joined.parent().unwrap_or(&self.root);
        let parent = parent.canonicalize().map_err(|_| {
            if self.within_lexically(&joined) {
                KeywordError::new(
                    "FileNotFoundError",
                    format!("The folder of '{given}' does not exist in the QR directory."),
                )
            } else {
                outside(given)
            }
        })?;
        if !parent.starts_with(&self.root) {
            return Err(outside(given));
        }
        let target = parent.join(name);
        let io = |e: std::io::Error| {
            KeywordError::new("OSError", format!("Cannot write '{given}': {e}"))
        };
        let mut tmp = tempfile::Builder::new()
            .prefix(".qr-")
            .tempfile_in(&parent)
            .map_err(io)?;
        std::io::Write::write_all(&mut tmp, bytes).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(&target).map_err(|e| io(e.error))?;
        Ok(target)
    }

    /// Whether a path stays inside the directory by its text alone, for
    /// choosing between "not found" and "outside" without touching files.
    fn within_lexically(&self, path: &Path) -> bool {
        let mut depth = 0usize;
        let Ok(rest) = path.strip_prefix(&self.root) else {
            return false;
        };
        for part in rest.components() {
            match part {
                Component::Normal(_) => depth += 1,
                Component::CurDir => {}
                Component::ParentDir if depth > 0 => depth -= 1,
                _ => return false,
            }
        }
        true
    }
}

fn outside(given: &str) -> KeywordError {
    KeywordError::new(
        "PermissionError",
        format!("'{given}' is outside the QR directory (--qr-dir); only files in it can be read or written."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, QrDir) {
        let base = tempfile::tempdir().unwrap();
        std::fs::create_dir(base.path().join("qr")).unwrap();
        std::fs::create_dir(base.path().join("qr/sub")).unwrap();
        std::fs::write(base.path().join("qr/code.png"), b"png").unwrap();
        std::fs::write(base.path().join("secret.txt"), b"private").unwrap();
        let dir = QrDir::open(&base.path().join("qr")).unwrap();
        (base, dir)
    }

    #[test]
    fn files_inside_are_read_by_relative_or_absolute_path() {
        let (base, dir) = setup();
        assert_eq!(dir.read("code.png").unwrap(), b"png");
        assert_eq!(dir.read("sub/../code.png").unwrap(), b"png");
        let absolute = base.path().join("qr/code.png");
        assert_eq!(dir.read(absolute.to_str().unwrap()).unwrap(), b"png");
    }

    #[test]
    fn dot_dot_and_absolute_paths_outside_are_refused() {
        let (base, dir) = setup();
        for given in [
            "../secret.txt".to_owned(),
            "sub/../../secret.txt".to_owned(),
            base.path().join("secret.txt").display().to_string(),
            "/etc/passwd".to_owned(),
            "../nothing-here.png".to_owned(),
        ] {
            let err = dir.read(&given).unwrap_err();
            assert_eq!(err.name, "PermissionError", "{given}: {err}");
        }
        let err = dir.read("missing.png").unwrap_err();
        assert_eq!(err.name, "FileNotFoundError", "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn symbolic_links_cannot_lead_out() {
        let (base, dir) = setup();
        std::os::unix::fs::symlink(base.path().join("secret.txt"), base.path().join("qr/link"))
            .unwrap();
        std::os::unix::fs::symlink(base.path(), base.path().join("qr/up")).unwrap();
        assert_eq!(dir.read("link").unwrap_err().name, "PermissionError");
        assert_eq!(
            dir.read("up/secret.txt").unwrap_err().name,
            "PermissionError"
        );
        let err = dir.write("up/new.png", b"x").unwrap_err();
        assert_eq!(err.name, "PermissionError");
        assert!(!base.path().join("new.png").exists());
        // A link at the target is replaced, and its target left alone.
        dir.write("link", b"new").unwrap();
        assert_eq!(
            std::fs::read(base.path().join("secret.txt")).unwrap(),
            b"private"
        );
        assert_eq!(dir.read("link").unwrap(), b"new");
    }

    #[test]
    fn writes_land_inside_whole() {
        let (base, dir) = setup();
        dir.write("sub/out.png", b"image").unwrap();
        assert_eq!(
            std::fs::read(base.path().join("qr/sub/out.png")).unwrap(),
            b"image"
        );
        assert_eq!(
            dir.write("../out.png", b"x").unwrap_err().name,
            "PermissionError"
        );
        assert_eq!(dir.write("sub/..", b"x").unwrap_err().name, "ValueError");
        assert_eq!(
            dir.write("nowhere/out.png", b"x").unwrap_err().name,
            "FileNotFoundError"
        );
        let leftovers = std::fs::read_dir(base.path().join("qr/sub"))
            .unwrap()
            .count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }

    #[test]
    fn oversized_files_are_refused_before_reading() {
        let (base, dir) = setup();
        let big = std::fs::File::create(base.path().join("qr/big.png")).unwrap();
        big.set_len(MAX_FILE_BYTES + 1).unwrap();
        let err = dir.read("big.png").unwrap_err();
        assert!(err.message.contains("larger than"), "{err}");
    }
}
