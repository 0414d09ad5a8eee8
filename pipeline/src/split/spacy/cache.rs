//! The spaCy stage's results on disk: the sentences of each chunk of documents of each
//! input file, so that a killed `prepare` loses at most the chunks in flight, and parts of
//! the work can run on other machines (`prepare --part K/N`) before one `prepare` assembles
//! the store from them.
//!
//! ```text
//! STORE/rows/
//! ├── parts.json                 where parts ran: N and their setup (`parts.rs`)
//! └── {config}/                  12 hex digits of xxh3 over the spaCy setup (spacy::SpacyKey)
//!     ├── spacy.json             the spaCy and model versions that made them (SpacyInfo)
//!     └── {input sha256, 16}/
//!         └── {chunk:06}.rows.zst  zstd (with checksum) of: "EBROWS1\n", u32 documents,
//!                                  per document u32 sentences, per sentence u32 bytes + UTF-8
//! ```
//!
//! Integers are little-endian. A file is written under a temporary name of its writer's own
//! (parts share the directory) and renamed; one that does not read back whole (its zstd
//! checksum, its structure) is made again.

use std::path::{Path, PathBuf};

use earlyberts_format::{AtomicFile, write_atomic_shared};

use super::wire::{self, Sentences, SpacyInfo};
use crate::{Error, Result};

const MAGIC: &[u8] = b"EBROWS1\n";
/// The spaCy the results of a directory were made by.
const SPACY_FILE: &str = "spacy.json";

/// Where the chunks of one spaCy setup live.
#[derive(Clone, Debug)]
pub struct RowCache {
    dir: PathBuf,
}

impl RowCache {
    /// The cache of setup `config` (a fingerprint) under the store `store`.
    pub fn new(store: &Path, config: &str) -> RowCache {
        RowCache {
            dir: store.join("rows").join(config),
        }
    }

    /// Records that results here are made by `info`, or checks that those already here
    /// were: parts that run on different machines must run the same spaCy.
    pub fn claim(&self, info: &SpacyInfo) -> Result<()> {
        let path = self.dir.join(SPACY_FILE);
        if path.exists() {
            let theirs = self.claimed()?;
            if theirs != *info {
                return Err(Error::SpacyMixed {
                    path: self.dir.clone(),
                    theirs: theirs.describe(),
                    ours: info.describe(),
                });
            }
            return Ok(());
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let json = serde_json::to_string_pretty(info).expect("spaCy info serialises");
        Ok(write_atomic_shared(&path, format!("{json}\n").as_bytes())?)
    }

    /// The spaCy the results here were made by.
    pub fn claimed(&self) -> Result<SpacyInfo> {
        let path = self.dir.join(SPACY_FILE);
        let text = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        serde_json::from_slice(&text).map_err(|e| Error::Store {
            path: path.clone(),
            reason: format!("not a spaCy record: {e}"),
        })
    }

    /// The file of chunk `chunk` of the input with sha256 `input`.
    pub fn path(&self, input: &str, chunk: usize) -> PathBuf {
        let prefix = &input[..input.len().min(16)];
        self.dir.join(prefix).join(format!("{chunk:06}.rows.zst"))
    }

    /// The chunk's sentences, if a whole file of `documents` documents is there.
    pub fn load(&self, path: &Path, documents: usize) -> Option<Sentences> {
        let compressed = std::fs::read(path).ok()?;
        let bytes = zstd::stream::decode_all(&compressed[..]).ok()?;
        let (count, block) = wire::split_u32(bytes.strip_prefix(MAGIC)?)?;
        (count == documents).then(|| wire::decode(block, documents))?
    }

    /// Writes the chunk's sentences (atomically).
    pub fn save(&self, path: &Path, sentences: &Sentences) -> Result<()> {
        let parent = path.parent().expect("chunk files live in a directory");
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        let mut raw = MAGIC.to_vec();
        wire::push_u32(&mut raw, sentences.len());
        wire::encode(sentences, &mut raw);
        let mut encoder = zstd::bulk::Compressor::new(3).map_err(|e| Error::io(path, e))?;
        encoder
            .include_checksum(true)
            .map_err(|e| Error::io(path, e))?;
        let compressed = encoder.compress(&raw).map_err(|e| Error::io(path, e))?;
        // A part run twice, or an assembly beside a running part, may write it too.
        Ok(AtomicFile::create_shared(path)?.write_whole(&compressed)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_round_trip_and_damage_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = RowCache::new(dir.path(), "abc");
        let path = cache.path("0123456789abcdef0123", 7);
        assert!(path.ends_with("rows/abc/0123456789abcdef/000007.rows.zst"));
        let sentences = vec![vec!["One.".to_string(), "Two\nlines.".into()], vec![]];
        cache.save(&path, &sentences).unwrap();
        assert_eq!(cache.load(&path, 2), Some(sentences));
        assert_eq!(cache.load(&path, 3), None, "another chunk's size");
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n / 2] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(cache.load(&path, 2), None);
    }

    /// Parts started at once on one store all claim its spaCy record and may save the same
    /// chunk (a part run twice): every writer must succeed and every reader see a whole file.
    #[test]
    fn writers_without_a_common_lock_do_not_collide() {
        let info = SpacyInfo {
            spacy: "3.8.0".into(),
            model: "en_core_web_sm".into(),
            model_version: "3.8.0".into(),
            components: vec!["tok2vec".into(), "parser".into()],
            max_length: 1_000_000,
        };
        let sentences = vec![vec!["One.".to_string(); 2_000]];
        for round in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let cache = RowCache::new(dir.path(), "abc");
            let path = cache.path("0123456789abcdef", round);
            let barrier = std::sync::Barrier::new(4);
            std::thread::scope(|s| {
                for _ in 0..4 {
                    s.spawn(|| {
                        barrier.wait();
                        cache.claim(&info).unwrap();
                        assert_eq!(cache.claimed().unwrap(), info);
                        cache.save(&path, &sentences).unwrap();
                        assert_eq!(cache.load(&path, 1).as_ref(), Some(&sentences));
                    });
                }
            });
        }
    }
}
