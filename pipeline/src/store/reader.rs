//! [`SentenceStore`]: random access to the sentences of a store, memory-mapped.

use std::{
    fs::File,
    path::{Path, PathBuf},
};

use memmap2::Mmap;

use super::{STORE_MANIFEST, StoreManifest, UnreadableManifest};
use crate::{Error, Result};

struct MappedShard {
    first: u64,
    len: u64,
    tokens: Mmap,
    offsets: Mmap,
    docs: Mmap,
}

/// An opened sentence store.
pub struct SentenceStore {
    dir: PathBuf,
    manifest: StoreManifest,
    shards: Vec<MappedShard>,
}

impl SentenceStore {
    /// Opens `dir`, mapping every shard and checking its file sizes against the manifest.
    pub fn open(dir: &Path) -> Result<SentenceStore> {
        let path = dir.join(STORE_MANIFEST);
        let bad = |reason: String| Error::Store {
            path: dir.to_path_buf(),
            reason,
        };
        let text = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let manifest = StoreManifest::parse(&text).map_err(|e| match e {
            UnreadableManifest::OtherFormat { .. } => {
                bad(format!("{e}: `pipeline build` makes it again"))
            }
            UnreadableManifest::Syntax(_) => bad(e.to_string()),
        })?;
        let mut shards = Vec::with_capacity(manifest.shards.len());
        let mut first = 0;
        for shard in &manifest.shards {
            let stem = dir.join(&shard.stem);
            let map = |ext: &str, len: u64| -> Result<Mmap> {
                let path = stem.with_extension(ext);
                let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
                // SAFETY: store files are written once under a temporary name and renamed;
                // nothing modifies them while a store is open (a concurrent writer would be
                // a misuse that the size check below and the hashes would reveal).
                #[allow(unsafe_code)]
                let mapped = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(&path, e))?;
                if mapped.len() as u64 != len {
                    return Err(bad(format!(
                        "'{}' has {} bytes, expected {len} (truncated?)",
                        path.display(),
                        mapped.len()
                    )));
                }
                Ok(mapped)
            };
            shards.push(MappedShard {
                first,
                len: shard.sentences,
                tokens: map("tokens", 2 * shard.tokens)?,
                offsets: map("offsets", 8 * (shard.sentences + 1))?,
                docs: map("docs", 4 * shard.sentences)?,
            });
            first += shard.sentences;
        }
        Ok(SentenceStore {
            dir: dir.to_path_buf(),
            manifest,
            shards,
        })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The store's manifest.
    pub fn manifest(&self) -> &StoreManifest {
        &self.manifest
    }

    /// Number of sentences.
    pub fn len(&self) -> u64 {
        self.manifest.totals.sentences
    }

    /// Whether the store holds no sentence.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn locate(&self, index: u64) -> (&MappedShard, usize) {
        let s = self.shards.partition_point(|s| s.first + s.len <= index);
        let shard = self.shards.get(s).unwrap_or_else(|| {
            panic!(
                "sentence {index} is outside the store ({} sentences)",
                self.len()
            )
        });
        (shard, (index - shard.first) as usize)
    }

    /// The number of tokens of sentence `index`.
    ///
    /// # Panics
    /// If `index >= len()`.
    pub fn sentence_len(&self, index: u64) -> usize {
        let (shard, i) = self.locate(index);
        let offset = |k: usize| {
            u64::from_le_bytes(shard.offsets[8 * k..8 * k + 8].try_into().expect("8 bytes"))
        };
        (offset(i + 1) - offset(i)) as usize
    }

    /// Appends the ids of sentence `index` to `out`.
    ///
    /// # Panics
    /// If `index >= len()`.
    pub fn sentence_into(&self, index: u64, out: &mut Vec<u16>) {
        let (shard, i) = self.locate(index);
        let offset = |k: usize| {
            u64::from_le_bytes(shard.offsets[8 * k..8 * k + 8].try_into().expect("8 bytes"))
                as usize
        };
        let (start, end) = (offset(i), offset(i + 1));
        out.extend(
            shard.tokens[2 * start..2 * end]
                .chunks_exact(2)
                .map(|b| u16::from_le_bytes([b[0], b[1]])),
        );
    }

    /// The document index of sentence `index`.
    pub fn document(&self, index: u64) -> u32 {
        let (shard, i) = self.locate(index);
        u32::from_le_bytes(shard.docs[4 * i..4 * i + 4].try_into().expect("4 bytes"))
    }
}
