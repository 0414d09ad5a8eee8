//! [`ShardWriter`]: streams examples into one shard file.
//!
//! Records are gathered into blocks of `examples_per_block`; each block becomes one zstd
//! frame (with zstd's content checksum, so a reader notices bit rot even without the
//! manifest). The payload hash is computed on the uncompressed bytes as they go by.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

use crate::{
    AtomicFile, Error, Example, PayloadHash, Result,
    invalid::{Invalid, at_least},
    shard::{BlockEntry, ShardHeader, ShardStats, StatsAccumulator, encode_index},
};

/// Physical layout choices for writing shards. None of them changes a shard's payload
/// except `examples_per_shard`, which decides where shards begin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardLayout {
    /// Examples per shard (the last shard may hold fewer).
    pub examples_per_shard: u64,
    /// Examples per zstd frame: the unit of random access.
    pub examples_per_block: u32,
    /// zstd compression level.
    pub zstd_level: i32,
}

impl Default for ShardLayout {
    /// 200,000 examples of on average ~300 tokens make a shard of roughly 120 MB of payload.
    fn default() -> Self {
        ShardLayout {
            examples_per_shard: 200_000,
            examples_per_block: 1024,
            zstd_level: 3,
        }
    }
}

impl ShardLayout {
    /// Checks the values are usable.
    pub fn validate(&self) -> Result<(), Invalid> {
        at_least("examples_per_shard", self.examples_per_shard, 1)?;
        at_least("examples_per_block", self.examples_per_block.into(), 1)?;
        let levels = zstd::compression_level_range();
        if !levels.contains(&self.zstd_level) {
            return Err(Invalid::out_of_range(
                "zstd_level",
                self.zstd_level,
                format!("{}..={}", levels.start(), levels.end()),
            ));
        }
        Ok(())
    }
}

/// Writes one shard: exactly `example_count` examples, then [`ShardWriter::finish`].
pub struct ShardWriter {
    file: AtomicFile,
    compressor: zstd::bulk::Compressor<'static>,
    zstd_level: i32,
    examples_per_block: u32,
    header: ShardHeader,
    block: Vec<u8>,
    block_examples: u32,
    compressed: Vec<u8>,
    index: Vec<BlockEntry>,
    hasher: Xxh3,
    payload_bytes: u64,
    stats: StatsAccumulator,
}

impl ShardWriter {
    /// Creates `path` (under a temporary name until `finish`) for the examples
    /// `first_example .. first_example + example_count` of a build.
    pub fn create(
        path: impl Into<PathBuf>,
        first_example: u64,
        example_count: u64,
        layout: &ShardLayout,
    ) -> Result<ShardWriter> {
        let file = AtomicFile::create(path)?;
        let compressor =
            block_compressor(layout.zstd_level).map_err(|e| Error::io(file.path(), e))?;
        let mut writer = ShardWriter {
            file,
            compressor,
            zstd_level: layout.zstd_level,
            examples_per_block: layout.examples_per_block,
            header: ShardHeader {
                example_count,
                first_example,
            },
            block: Vec::new(),
            block_examples: 0,
            compressed: Vec::new(),
            index: Vec::new(),
            hasher: Xxh3::new(),
            payload_bytes: 0,
            stats: StatsAccumulator::default(),
        };
        writer.block.extend_from_slice(&writer.header.encode());
        writer.flush_block()?;
        Ok(writer)
    }

    /// The final path of the shard.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Appends one example.
    pub fn push(&mut self, example: &Example) -> Result<()> {
        let index = self.header.first_example + self.stats.examples;
        if self.stats.examples == self.header.example_count {
            return Err(Error::InvalidExample {
                index,
                reason: format!(
                    "shard '{}' is full ({} examples)",
                    self.path().display(),
                    self.header.example_count
                ),
            });
        }
        example
            .validate()
            .map_err(|reason| Error::InvalidExample { index, reason })?;
        example.encode_into(&mut self.block);
        self.block_examples += 1;
        self.stats.add(example);
        if self.block_examples == self.examples_per_block {
            self.flush_block()?;
        }
        Ok(())
    }

    /// Appends `examples`, encoding and compressing whole blocks in parallel: the same
    /// bytes as pushing them one by one, on every core even for a single shard.
    pub fn push_parallel(&mut self, examples: &[Example]) -> Result<()> {
        let per = self.examples_per_block as usize;
        // The block already begun is finished in order first.
        let begun = match self.block_examples {
            0 => 0,
            n => (per - n as usize).min(examples.len()),
        };
        let (head, rest) = examples.split_at(begun);
        head.iter().try_for_each(|e| self.push(e))?;
        let left = self.header.example_count - self.stats.examples;
        let full = (rest.len().min(left as usize) / per) * per;
        let (whole, tail) = rest.split_at(full);
        let first = self.header.first_example + self.stats.examples;
        let level = self.zstd_level;
        let path = self.file.path().to_path_buf();
        let blocks: Vec<(Vec<u8>, Vec<u8>)> = whole
            .par_chunks(per)
            .enumerate()
            .map(|(i, block)| {
                let mut payload = Vec::new();
                for (j, e) in block.iter().enumerate() {
                    let index = first + (i * per + j) as u64;
                    e.validate()
                        .map_err(|reason| Error::InvalidExample { index, reason })?;
                    e.encode_into(&mut payload);
                }
                let mut compressor = block_compressor(level).map_err(|e| Error::io(&path, e))?;
                let compressed = compressor
                    .compress(&payload)
                    .map_err(|e| Error::io(&path, e))?;
                Ok((payload, compressed))
            })
            .collect::<Result<_>>()?;
        for (block, (payload, compressed)) in whole.chunks(per).zip(blocks) {
            block.iter().for_each(|e| self.stats.add(e));
            self.write_block(&payload, &compressed, block.len() as u32)?;
        }
        tail.iter().try_for_each(|e| self.push(e))
    }

    /// Writes the last block and the index, and publishes the file.
    pub fn finish(mut self) -> Result<ShardStats> {
        if self.stats.examples != self.header.example_count {
            return Err(Error::InvalidExample {
                index: self.header.first_example + self.stats.examples,
                reason: format!(
                    "shard '{}' was promised {} examples but got {}",
                    self.path().display(),
                    self.header.example_count,
                    self.stats.examples
                ),
            });
        }
        if self.block_examples > 0 {
            self.flush_block()?;
        }
        let index = encode_index(&self.index);
        self.file.write_all(&index)?;
        let hash = PayloadHash(self.hasher.digest128());
        let stats = self.stats.finish(self.payload_bytes, hash);
        self.file.commit()?;
        Ok(stats)
    }

    fn flush_block(&mut self) -> Result<()> {
        let mut compressed = std::mem::take(&mut self.compressed);
        compressed.clear();
        compressed.reserve(zstd::zstd_safe::compress_bound(self.block.len()));
        self.compressor
            .compress_to_buffer(&self.block, &mut compressed)
            .map_err(|e| Error::io(self.file.path(), e))?;
        let block = std::mem::take(&mut self.block);
        self.write_block(&block, &compressed, self.block_examples)?;
        (self.block, self.compressed) = (block, compressed);
        self.block.clear();
        self.block_examples = 0;
        Ok(())
    }

    /// Appends one compressed block of `examples` records, its hash and its index entry.
    fn write_block(&mut self, payload: &[u8], compressed: &[u8], examples: u32) -> Result<()> {
        let too_big = |what: &str| Error::InvalidExample {
            index: self.header.first_example + self.stats.examples,
            reason: format!(
                "a block's {what} exceeds the format's limit; lower examples_per_block"
            ),
        };
        if payload.len() as u64 > crate::reader::MAX_BLOCK_PAYLOAD {
            return Err(too_big("payload (256 MiB)"));
        }
        let payload_len = u32::try_from(payload.len()).map_err(|_| too_big("payload"))?;
        let compressed_len =
            u32::try_from(compressed.len()).map_err(|_| too_big("compressed size"))?;
        self.file.write_all(compressed)?;
        self.hasher.update(payload);
        self.payload_bytes += payload.len() as u64;
        self.index.push(BlockEntry {
            compressed_len,
            payload_len,
            examples,
        });
        Ok(())
    }
}

/// A zstd context as every block is compressed: the layout's level, a checksum, the size.
fn block_compressor(level: i32) -> std::io::Result<zstd::bulk::Compressor<'static>> {
    let mut compressor = zstd::bulk::Compressor::new(level)?;
    compressor.include_checksum(true)?;
    compressor.include_contentsize(true)?;
    Ok(compressor)
}
