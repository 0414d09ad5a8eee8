//! One writer per directory: an advisory lock on `DIR/.lock`, held while a build, a store or
//! a training run writes there. The kernel drops the lock when the process ends, however it
//! ends, so a killed job never leaves a stale lock behind.
//!
//! On Unix the file is removed when the lock is released, so a finished directory holds
//! nothing that differs between two identical runs (a killed run leaves it, unlocked, for the next to
//! take). Removing a lock file races with a process that opened it just before: whoever
//! locks a file checks that the path still names it, and starts again if not.

use std::{
    fs::{self, File, TryLockError},
    io::Write,
    path::{Path, PathBuf},
};

use crate::{Error, Result};

/// The lock file's name inside the locked directory.
pub const LOCK_FILE: &str = ".lock";

/// A held lock; released when dropped.
#[derive(Debug)]
pub struct DirLock {
    _file: File,
    path: PathBuf,
}

impl DirLock {
    /// Creates `dir` if needed and locks it for `what` (e.g. "pipeline build"), or fails at
    /// once, naming the process that holds it.
    pub fn acquire(dir: &Path, what: &str) -> Result<DirLock> {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(LOCK_FILE);
        for _ in 0..100 {
            if let Some(lock) = DirLock::try_acquire(dir, &path, what)? {
                return Ok(lock);
            }
        }
        // Only where the inode numbers of an open file and of its path never agree (a
        // filesystem such as CIFS mounted with noserverino).
        let unstable = std::io::Error::other(
            "the file locked is never the one the path names: write to a local filesystem",
        );
        Err(Error::Io {
            path,
            source: unstable,
        })
    }

    /// The lock, or `None` when the file locked was removed by its last holder meanwhile.
    fn try_acquire(dir: &Path, path: &Path, what: &str) -> Result<Option<DirLock>> {
        let mut file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = fs::read_to_string(path).unwrap_or_default();
                return Err(Error::Locked {
                    path: dir.to_path_buf(),
                    holder: holder.trim().to_string(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(Error::io(path, e)),
        }
        if !still_named_by(&file, path) {
            return Ok(None);
        }
        file.set_len(0).map_err(|e| Error::io(path, e))?;
        writeln!(file, "{what} (pid {})", std::process::id()).map_err(|e| Error::io(path, e))?;
        Ok(Some(DirLock {
            _file: file,
            path: path.to_path_buf(),
        }))
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DirLock {
    /// Removes the file while still holding the lock (the file closes after this). Only on
    /// Unix, where a writer can tell that the file it locked lost its name; elsewhere the
    /// file stays, as it did before.
    fn drop(&mut self) {
        #[cfg(unix)]
        let _ = fs::remove_file(&self.path);
    }
}

/// Whether `path` is still the file `file` is open on.
#[cfg(unix)]
fn still_named_by(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
        _ => false,
    }
}

/// Elsewhere lock files are never removed, so a name always stays with its file.
#[cfg(not(unix))]
fn still_named_by(_file: &File, _path: &Path) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(dir.path(), "test one").unwrap();
        let err = DirLock::acquire(dir.path(), "test two")
            .unwrap_err()
            .to_string();
        assert!(err.contains("is in use by test one (pid"), "{err}");
        drop(first);
        #[cfg(unix)]
        assert!(
            !dir.path().join(LOCK_FILE).exists(),
            "released: no file left"
        );
        let second = DirLock::acquire(dir.path(), "test two").unwrap();
        assert!(second.path().exists());
    }

    /// Many threads take and release one directory's lock: never two at once, though each
    /// release removes the file another may have opened.
    #[test]
    fn removing_the_file_never_lets_two_hold_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let holders = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..500 {
                        let Ok(_lock) = DirLock::acquire(dir.path(), "a thread") else {
                            continue;
                        };
                        let before = holders.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        assert_eq!(before, 0, "two holders at once");
                        holders.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                    }
                });
            }
        });
    }
}
