//! One writer per directory: an advisory lock on `DIR/.lock`, held while a build, a store or
//! a training run writes there. The kernel drops the lock when the process ends, however it
//! ends, so a killed job never leaves a stale lock behind.

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
        let mut file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = fs::read_to_string(&path).unwrap_or_default();
                return Err(Error::Locked {
                    path: dir.to_path_buf(),
                    holder: holder.trim().to_string(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        }
        file.set_len(0).map_err(|e| Error::io(&path, e))?;
        writeln!(file, "{what} (pid {})", std::process::id()).map_err(|e| Error::io(&path, e))?;
        Ok(DirLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
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
        DirLock::acquire(dir.path(), "test two").unwrap();
    }
}
