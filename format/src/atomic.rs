//! Crash-safe file creation: write under a temporary name, fsync, rename.
//!
//! A reader therefore sees either no file or the whole file under its final name. The
//! temporary name is the final name plus `.tmp`, in the same directory so that the rename
//! is atomic; a leftover `.tmp` from a killed process is simply overwritten next time.
//! That name is safe only for one writer at a time (a lock held, or one process): a file
//! that processes without a common lock may write at once (the spaCy record and chunks that
//! `prepare --part` runs share) is made with [`AtomicFile::create_shared`], whose temporary
//! name is the writer's own.

use std::{
    fs::{self, File},
    io::{self, BufWriter, Write},
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
};

use crate::{Error, Result};

/// A file being written under a temporary name; [`AtomicFile::commit`] publishes it.
/// Dropping it uncommitted deletes the temporary file.
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    writer: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Starts writing what will become `path`.
    pub fn create(path: impl Into<PathBuf>) -> Result<AtomicFile> {
        AtomicFile::with_suffix(path.into(), ".tmp")
    }

    /// Starts writing what will become `path`, which other processes or threads may be
    /// writing at the same time (with the same content): each writer has its own temporary
    /// name (`NAME.PID-N.tmp`), so none truncates or renames away another's, and the last
    /// rename wins. A killed writer's temporary file stays behind.
    pub fn create_shared(path: impl Into<PathBuf>) -> Result<AtomicFile> {
        static WRITERS: AtomicU64 = AtomicU64::new(0);
        let n = WRITERS.fetch_add(1, Ordering::Relaxed);
        AtomicFile::with_suffix(path.into(), &format!(".{}-{n}.tmp", std::process::id()))
    }

    fn with_suffix(path: PathBuf, suffix: &str) -> Result<AtomicFile> {
        let mut tmp = path.clone().into_os_string();
        tmp.push(suffix);
        let tmp = PathBuf::from(tmp);
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        Ok(AtomicFile {
            path,
            tmp,
            writer: Some(BufWriter::with_capacity(1 << 20, file)),
        })
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes all of `bytes`, naming the file in any error.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        let writer = self
            .writer
            .as_mut()
            .expect("AtomicFile is written only before commit");
        writer.write_all(bytes).map_err(|e| Error::io(&self.tmp, e))
    }

    /// Writes `bytes` and commits: the whole file in one call.
    pub fn write_whole(mut self, bytes: &[u8]) -> Result<()> {
        self.write_all(bytes)?;
        self.commit()
    }

    /// Flushes, fsyncs, renames to the final name and fsyncs the directory.
    pub fn commit(mut self) -> Result<()> {
        let writer = self.writer.take().expect("AtomicFile is committed once");
        let file = writer
            .into_inner()
            .map_err(|e| Error::io(&self.tmp, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&self.tmp, e))?;
        drop(file);
        fs::rename(&self.tmp, &self.path).map_err(|e| Error::io(&self.path, e))?;
        sync_parent(&self.path)
    }
}

/// Writes through to the temporary file (for writers that take an `io::Write`, such as
/// parquet's); [`AtomicFile::commit`] still publishes it.
impl Write for AtomicFile {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.writer
            .as_mut()
            .expect("AtomicFile is written only before commit")
            .write(bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer
            .as_mut()
            .expect("AtomicFile is written only before commit")
            .flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Removes `path` if it is there (a missing file is not an error).
pub fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io(path, e)),
        _ => Ok(()),
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: impl Into<PathBuf>, bytes: &[u8]) -> Result<()> {
    AtomicFile::create(path)?.write_whole(bytes)
}

/// Writes `bytes` to `path` atomically, where other writers may write it at once
/// ([`AtomicFile::create_shared`]).
pub fn write_atomic_shared(path: impl Into<PathBuf>, bytes: &[u8]) -> Result<()> {
    AtomicFile::create_shared(path)?.write_whole(bytes)
}

/// Makes a rename in `path`'s directory durable.
fn sync_parent(path: &Path) -> Result<()> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match File::open(parent).and_then(|dir| dir.sync_all()) {
        Ok(()) => Ok(()),
        // Some filesystems refuse fsync on directories; the rename itself has happened.
        Err(e) if e.kind() == io::ErrorKind::InvalidInput => Ok(()),
        Err(e) => Err(Error::io(parent, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_publishes_and_drop_discards() {
        let dir = tempfile::tempdir().unwrap();
        let kept = dir.path().join("kept.bin");
        write_atomic(&kept, b"whole").unwrap();
        assert_eq!(fs::read(&kept).unwrap(), b"whole");

        let dropped = dir.path().join("dropped.bin");
        {
            let mut file = AtomicFile::create(&dropped).unwrap();
            file.write_all(b"half").unwrap();
        }
        assert!(!dropped.exists());
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec!["kept.bin"]);
    }

    #[test]
    fn shared_writers_of_one_path_each_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shared.json");
        let mut first = AtomicFile::create_shared(&path).unwrap();
        let mut second = AtomicFile::create_shared(&path).unwrap();
        first.write_all(b"same").unwrap();
        second.write_all(b"same").unwrap();
        first.commit().unwrap();
        second.commit().unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"same");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary left"
        );
    }
}
