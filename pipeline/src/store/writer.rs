//! [`StoreWriter`]: appends sentences, rolling over to a new shard every
//! `sentences_per_shard` sentences.

use std::path::{Path, PathBuf};

use earlyberts_format::{AtomicFile, PayloadHash};
use xxhash_rust::xxh3::Xxh3;

use super::{StoreShard, shard_stem};
use crate::{Error, Result};

/// One of a shard's three files, written and hashed as it goes.
struct Column {
    file: AtomicFile,
    hasher: Xxh3,
}

impl Column {
    fn create(path: PathBuf) -> Result<Column> {
        Ok(Column {
            file: AtomicFile::create(path)?,
            hasher: Xxh3::new(),
        })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.hasher.update(bytes);
        Ok(self.file.write_all(bytes)?)
    }

    fn commit(self) -> Result<u128> {
        let hash = self.hasher.digest128();
        self.file.commit()?;
        Ok(hash)
    }
}

struct OpenShard {
    tokens: Column,
    offsets: Column,
    docs: Column,
    sentences: u64,
    token_count: u64,
}

/// Writes a store's shards.
pub struct StoreWriter {
    dir: PathBuf,
    sentences_per_shard: u64,
    open: Option<OpenShard>,
    shards: Vec<StoreShard>,
    buffer: Vec<u8>,
}

impl StoreWriter {
    /// Prepares `dir/sentences/`.
    pub fn new(dir: &Path, sentences_per_shard: u64) -> Result<StoreWriter> {
        let sentences = dir.join("sentences");
        std::fs::create_dir_all(&sentences).map_err(|e| Error::io(&sentences, e))?;
        Ok(StoreWriter {
            dir: dir.to_path_buf(),
            sentences_per_shard: sentences_per_shard.max(1),
            open: None,
            shards: Vec::new(),
            buffer: Vec::new(),
        })
    }

    /// Goes on writing the store in `dir` after its committed `shards` (an interrupted
    /// `prepare`'s).
    pub fn resume(
        dir: &Path,
        sentences_per_shard: u64,
        shards: Vec<StoreShard>,
    ) -> Result<StoreWriter> {
        let mut writer = StoreWriter::new(dir, sentences_per_shard)?;
        writer.shards = shards;
        Ok(writer)
    }

    /// The shards committed so far.
    pub fn shards(&self) -> &[StoreShard] {
        &self.shards
    }

    /// Appends one sentence of document `document`; true when it completed a shard (which
    /// is then committed: on disk, fsynced, under its final name).
    pub fn push(&mut self, tokens: &[u16], document: u32) -> Result<bool> {
        if self.open.is_none() {
            let stem = self.dir.join(shard_stem(self.shards.len()));
            let column = |ext: &str| Column::create(stem.with_extension(ext));
            let mut offsets = column("offsets")?;
            offsets.write(&0u64.to_le_bytes())?;
            self.open = Some(OpenShard {
                tokens: column("tokens")?,
                offsets,
                docs: column("docs")?,
                sentences: 0,
                token_count: 0,
            });
        }
        let shard = self.open.as_mut().expect("opened above");
        self.buffer.clear();
        self.buffer
            .extend(tokens.iter().flat_map(|t| t.to_le_bytes()));
        shard.tokens.write(&self.buffer)?;
        shard.token_count += tokens.len() as u64;
        shard.offsets.write(&shard.token_count.to_le_bytes())?;
        shard.docs.write(&document.to_le_bytes())?;
        shard.sentences += 1;
        if shard.sentences == self.sentences_per_shard {
            self.close_shard()?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Closes the last shard and returns all shards.
    pub fn finish(mut self) -> Result<Vec<StoreShard>> {
        self.close_shard()?;
        Ok(self.shards)
    }

    fn close_shard(&mut self) -> Result<()> {
        let Some(shard) = self.open.take() else {
            return Ok(());
        };
        let mut hashes = Vec::with_capacity(48);
        for column in [shard.tokens, shard.offsets, shard.docs] {
            hashes.extend_from_slice(&column.commit()?.to_le_bytes());
        }
        self.shards.push(StoreShard {
            stem: shard_stem(self.shards.len()),
            sentences: shard.sentences,
            tokens: shard.token_count,
            hash: shard_hash(&hashes),
        });
        Ok(())
    }
}

/// A shard's hash: xxh3-128 over its three files' xxh3-128 hashes (docs/FORMAT.md).
fn shard_hash(file_hashes: &[u8]) -> PayloadHash {
    PayloadHash::of(file_hashes)
}

impl StoreShard {
    /// Whether the shard's files in store `dir` are there, whole, with its hash.
    pub fn is_intact(&self, dir: &Path) -> bool {
        let stem = dir.join(&self.stem);
        let mut hashes = Vec::with_capacity(48);
        for ext in ["tokens", "offsets", "docs"] {
            match PayloadHash::of_file(&stem.with_extension(ext)) {
                Ok(hash) => hashes.extend_from_slice(&hash.0.to_le_bytes()),
                Err(_) => return false,
            }
        }
        shard_hash(&hashes) == self.hash
    }
}
