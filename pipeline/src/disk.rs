//! Disk space, checked before a build stage writes: a build that cannot fit says so at the
//! start, with how much more it needs, rather than hours later on a full disk.
//!
//! The needs are upper estimates from measured ratios (docs/PERFORMANCE.md, "Rehearsal"):
//! a store takes about half the bytes of the text it holds (u16 token ids and an offset and
//! document per sentence), shards about 2.1 bytes per token of their examples (ids, masks,
//! labels, zstd), the provenance index 20 bytes an example.

use std::{fs, path::Path};

use crate::{Error, Result};

/// Store bytes per byte of input text (measured 0.52 on generated and real text).
pub const STORE_PER_TEXT_BYTE: f64 = 0.6;
/// Shard bytes per token of the examples (measured 2.1).
pub const SHARD_PER_TOKEN: f64 = 2.4;

/// Bytes free to an unprivileged writer on the filesystem of `dir` (or of its nearest
/// existing ancestor); `None` where the system does not say.
pub fn free_bytes(dir: &Path) -> Option<u64> {
    let existing = dir.ancestors().find(|d| d.exists())?;
    statvfs_free(existing)
}

#[cfg(unix)]
fn statvfs_free(dir: &Path) -> Option<u64> {
    use std::{ffi::CString, os::unix::ffi::OsStrExt};
    let path = CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a NUL-terminated string and `stat` is written by statvfs on success.
    #[allow(unsafe_code)]
    let stat = unsafe {
        if libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) != 0 {
            return None;
        }
        stat.assume_init()
    };
    Some((stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64))
}

#[cfg(not(unix))]
fn statvfs_free(_dir: &Path) -> Option<u64> {
    None
}

/// Bytes of the files under `dir` (what a stage that resumes has already written).
pub fn used_bytes(dir: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(t) if t.is_dir() => used_bytes(&entry.path()),
            Ok(_) => entry.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

/// Refuses to start `stage`, which has about `left` bytes still to write into `dir`, where
/// its disk has not the room.
pub fn check(dir: &Path, stage: &'static str, left: u64) -> Result<()> {
    match free_bytes(dir) {
        Some(free) if free < left => Err(Error::DiskFull {
            dir: dir.to_path_buf(),
            stage,
            need: left,
            free,
        }),
        _ => Ok(()),
    }
}

/// `12.3 GB`, `456 MB`, `7 kB`.
pub fn size_text(bytes: u64) -> String {
    let b = bytes as f64;
    match bytes {
        0..1_000_000 => format!("{:.0} kB", (b / 1e3).ceil()),
        1_000_000..1_000_000_000 => format!("{:.0} MB", (b / 1e6).ceil()),
        _ => format!("{:.1} GB", b / 1e9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_a_person_writes_them() {
        assert_eq!(size_text(1), "1 kB");
        assert_eq!(size_text(456_000_001), "457 MB");
        assert_eq!(size_text(12_345_678_901), "12.3 GB");
    }

    #[test]
    fn a_directory_not_yet_made_is_measured_on_its_parent() {
        let dir = std::env::temp_dir().join("earlyberts-disk-test/not/yet");
        assert!(free_bytes(&dir).is_some_and(|free| free > 0));
        assert_eq!(used_bytes(&dir), 0);
        assert!(check(&dir, "store", 0).is_ok());
        let err = check(&dir, "store", u64::MAX).unwrap_err().to_string();
        assert!(err.contains("the store stage needs about"), "{err}");
    }
}
