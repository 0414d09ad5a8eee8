//! [`ShardReader`]: reads one shard, streaming or from any example on.
//!
//! Memory stays bounded by one block (about `examples_per_block` records) whatever the
//! shard size. Read from the start, the reader also recomputes the payload hash and the
//! statistics the manifest records ([`ShardReader::finish`]); after a [`ShardReader::seek`]
//! it only decodes.

use std::{
    fs::File,
    io::{self, Read, Seek, SeekFrom},
    path::{Path, PathBuf},
};

use xxhash_rust::xxh3::Xxh3;

use crate::{
    Error, Example, PayloadHash, Result,
    shard::{
        BlockEntry, FORMAT_VERSION, HEADER_LEN, HeaderError, INDEX_ENTRY_LEN, INDEX_MAGIC,
        INDEX_TAIL_LEN, SKIPPABLE_MAGIC, ShardHeader, ShardStats, StatsAccumulator,
    },
};

/// A record block's place in the file and in the shard.
#[derive(Clone, Copy, Debug)]
struct BlockLocation {
    offset: u64,
    entry: BlockEntry,
    first_example: u64,
}

/// Reads the examples of one shard in order.
pub struct ShardReader {
    path: PathBuf,
    file: File,
    header: ShardHeader,
    blocks: Vec<BlockLocation>,
    decompressor: zstd::bulk::Decompressor<'static>,
    compressed: Vec<u8>,
    block: Vec<u8>,
    cursor: usize,
    left_in_block: u32,
    next_block: usize,
    next_example: u64,
    /// Present while the reader has read every byte from the start.
    hasher: Option<Xxh3>,
    payload_bytes: u64,
    stats: StatsAccumulator,
}

impl ShardReader {
    /// Opens a shard: checks its index and header, reads no records yet.
    pub fn open(path: impl AsRef<Path>) -> Result<ShardReader> {
        let path = path.as_ref().to_path_buf();
        let mut file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
        let (header_entry, entries) = read_index(&path, &mut file, len)?;
        let decompressor = zstd::bulk::Decompressor::new().map_err(|e| Error::io(&path, e))?;
        let mut reader = ShardReader {
            path,
            file,
            header: ShardHeader {
                example_count: 0,
                first_example: 0,
            },
            blocks: Vec::with_capacity(entries.len()),
            decompressor,
            compressed: Vec::new(),
            block: Vec::new(),
            cursor: 0,
            left_in_block: 0,
            next_block: 0,
            next_example: 0,
            hasher: Some(Xxh3::new()),
            payload_bytes: 0,
            stats: StatsAccumulator::default(),
        };
        let header_block = BlockLocation {
            offset: 0,
            entry: header_entry,
            first_example: 0,
        };
        reader.load(&header_block, 0)?;
        reader.header = match ShardHeader::decode(&reader.block) {
            Ok(header) => header,
            Err(HeaderError::Version(found)) => {
                return Err(Error::UnsupportedVersion {
                    path: reader.path,
                    found,
                    supported: FORMAT_VERSION,
                });
            }
            Err(e) => return Err(Error::not_a_shard(reader.path, header_problem(e))),
        };
        reader.hash_block();
        reader.block.clear();

        let mut offset = u64::from(header_entry.compressed_len);
        let mut first_example = 0u64;
        for entry in entries {
            reader.blocks.push(BlockLocation {
                offset,
                entry,
                first_example,
            });
            offset += u64::from(entry.compressed_len);
            first_example += u64::from(entry.examples);
        }
        if first_example != reader.header.example_count {
            return Err(Error::not_a_shard(
                reader.path,
                format!(
                    "the header promises {} examples but the index holds {first_example}",
                    reader.header.example_count
                ),
            ));
        }
        Ok(reader)
    }

    /// The shard's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The payload header.
    pub fn header(&self) -> ShardHeader {
        self.header
    }

    /// Number of examples in the shard.
    pub fn len(&self) -> u64 {
        self.header.example_count
    }

    /// Whether the shard holds no example.
    pub fn is_empty(&self) -> bool {
        self.header.example_count == 0
    }

    /// Shard-relative index of the example the next read returns.
    pub fn position(&self) -> u64 {
        self.next_example
    }

    /// Reads the next example into `example`, reusing its buffers; `false` at the end.
    pub fn read_next(&mut self, example: &mut Example) -> Result<bool> {
        while self.left_in_block == 0 {
            if self.cursor != self.block.len() {
                return Err(self.malformed(format!(
                    "{} bytes follow the last record of its block",
                    self.block.len() - self.cursor
                )));
            }
            if self.next_block == self.blocks.len() {
                return Ok(false);
            }
            let location = self.blocks[self.next_block];
            self.load(&location, self.next_block + 1)?;
            self.hash_block();
            self.next_block += 1;
            self.cursor = 0;
            self.left_in_block = location.entry.examples;
        }
        let len = example
            .decode_from(&self.block[self.cursor..])
            .map_err(|reason| self.malformed(reason))?;
        self.cursor += len;
        self.left_in_block -= 1;
        self.next_example += 1;
        if self.hasher.is_some() {
            self.stats.add(example);
        }
        Ok(true)
    }

    /// Positions the reader so that the next read returns shard-relative example `index`
    /// (`index == len()` positions it at the end). Decodes only the block holding it.
    pub fn seek(&mut self, index: u64) -> Result<()> {
        if index > self.len() {
            return Err(Error::OutOfRange {
                index,
                len: self.len(),
            });
        }
        self.hasher = None;
        let block = self
            .blocks
            .partition_point(|b| b.first_example + u64::from(b.entry.examples) <= index);
        // Forward within the block already decoded: no second decode.
        let loaded = self.next_block.checked_sub(1);
        if loaded == Some(block) && index >= self.next_example && self.left_in_block > 0 {
            let mut scratch = Example::default();
            while self.next_example < index {
                self.read_next(&mut scratch)?;
            }
            return Ok(());
        }
        self.block.clear();
        self.cursor = 0;
        self.left_in_block = 0;
        self.next_block = block;
        self.next_example = self.blocks.get(block).map_or(index, |b| b.first_example);
        let mut scratch = Example::default();
        while self.next_example < index {
            self.read_next(&mut scratch)?;
        }
        Ok(())
    }

    /// Reads the rest of the shard and returns its statistics and payload hash.
    ///
    /// # Panics
    /// If the reader was positioned with [`ShardReader::seek`]: the hash covers the whole
    /// payload, so it can only be computed by a reader that started at the beginning.
    pub fn finish(mut self) -> Result<ShardStats> {
        let mut example = Example::default();
        while self.read_next(&mut example)? {}
        let hasher = self
            .hasher
            .take()
            .expect("ShardReader::finish is called only on readers that never seeked");
        Ok(self
            .stats
            .finish(self.payload_bytes, PayloadHash(hasher.digest128())))
    }

    /// Reads and decompresses one frame into `self.block`. `block` numbers it for messages
    /// (0 is the header frame).
    fn load(&mut self, location: &BlockLocation, block: usize) -> Result<()> {
        let entry = location.entry;
        self.compressed.resize(entry.compressed_len as usize, 0);
        self.file
            .seek(SeekFrom::Start(location.offset))
            .and_then(|_| self.file.read_exact(&mut self.compressed))
            .map_err(|e| Error::io(&self.path, e))?;
        self.block.clear();
        self.block.reserve(entry.payload_len as usize);
        let corrupt = |source: io::Error| Error::CorruptBlock {
            path: self.path.clone(),
            block,
            first_example: location.first_example,
            end_example: location.first_example + u64::from(entry.examples),
            source,
        };
        let n = self
            .decompressor
            .decompress_to_buffer(&self.compressed, &mut self.block)
            .map_err(corrupt)?;
        if n != entry.payload_len as usize {
            return Err(corrupt(io::Error::other(format!(
                "it decompresses to {n} bytes but the index says {}",
                entry.payload_len
            ))));
        }
        Ok(())
    }

    fn hash_block(&mut self) {
        if let Some(hasher) = self.hasher.as_mut() {
            hasher.update(&self.block);
            self.payload_bytes += self.block.len() as u64;
        }
    }

    fn malformed(&self, reason: String) -> Error {
        Error::MalformedExample {
            path: self.path.clone(),
            index: self.next_example,
            reason,
        }
    }
}

impl Iterator for ShardReader {
    type Item = Result<Example>;

    /// Allocates an example per call; hot loops use [`ShardReader::read_next`].
    fn next(&mut self) -> Option<Result<Example>> {
        let mut example = Example::default();
        match self.read_next(&mut example) {
            Ok(true) => Some(Ok(example)),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// Reads the index at the end of the file: the header frame's entry, then the record blocks'.
fn read_index(path: &Path, file: &mut File, len: u64) -> Result<(BlockEntry, Vec<BlockEntry>)> {
    let truncated = || {
        Error::not_a_shard(
            path,
            "no block index at its end (truncated, or not an earlyberts shard)",
        )
    };
    if len < (8 + INDEX_TAIL_LEN) as u64 {
        return Err(truncated());
    }
    let mut tail = [0u8; INDEX_TAIL_LEN];
    read_at(path, file, len - INDEX_TAIL_LEN as u64, &mut tail)?;
    if tail[8..] != INDEX_MAGIC {
        return Err(truncated());
    }
    let block_count = u32::from_le_bytes(tail[..4].try_into().expect("4 bytes")) as u64;
    let content_len = block_count * INDEX_ENTRY_LEN as u64 + INDEX_TAIL_LEN as u64;
    if block_count == 0 || content_len + 8 > len {
        return Err(Error::not_a_shard(
            path,
            format!("its index claims {block_count} blocks, which do not fit in {len} bytes"),
        ));
    }
    let mut frame = vec![0u8; (content_len + 8) as usize];
    read_at(path, file, len - frame.len() as u64, &mut frame)?;
    let magic = u32::from_le_bytes(frame[..4].try_into().expect("4 bytes"));
    let declared = u32::from_le_bytes(frame[4..8].try_into().expect("4 bytes")) as u64;
    if magic != SKIPPABLE_MAGIC || declared != content_len {
        return Err(Error::not_a_shard(
            path,
            "its index frame header is damaged",
        ));
    }
    let mut entries: Vec<BlockEntry> = frame[8..8 + (block_count as usize) * INDEX_ENTRY_LEN]
        .chunks_exact(INDEX_ENTRY_LEN)
        .map(|e| BlockEntry {
            compressed_len: u32::from_le_bytes(e[0..4].try_into().expect("4 bytes")),
            payload_len: u32::from_le_bytes(e[4..8].try_into().expect("4 bytes")),
            examples: u32::from_le_bytes(e[8..12].try_into().expect("4 bytes")),
        })
        .collect();
    let frames_len: u64 = entries.iter().map(|e| u64::from(e.compressed_len)).sum();
    if frames_len + frame.len() as u64 != len {
        return Err(Error::not_a_shard(
            path,
            format!(
                "its index accounts for {} bytes but the file has {len} (truncated or padded)",
                frames_len + frame.len() as u64
            ),
        ));
    }
    let header = entries.remove(0);
    if header.examples != 0 || header.payload_len as usize != HEADER_LEN {
        return Err(Error::not_a_shard(
            path,
            "its first frame is not a 32-byte header",
        ));
    }
    // A damaged index must not make the reader allocate gigabytes: a block can hold no more
    // than its records' maximum size, and never more than MAX_BLOCK_PAYLOAD.
    for (i, e) in entries.iter().enumerate() {
        let limit = (u64::from(e.examples) * MAX_RECORD_LEN as u64).min(MAX_BLOCK_PAYLOAD);
        if u64::from(e.payload_len) > limit {
            return Err(Error::not_a_shard(
                path,
                format!(
                    "its index says block {} holds {} bytes for {} examples (at most {limit})",
                    i + 1,
                    e.payload_len,
                    e.examples
                ),
            ));
        }
    }
    Ok((header, entries))
}

/// The largest record: the header, 65,535 token ids and 65,535 labelled positions.
const MAX_RECORD_LEN: usize = crate::RECORD_HEADER_LEN + 2 * 65_535 + 4 * 65_535;

/// The largest payload a block may have (the writer's blocks are far smaller).
pub const MAX_BLOCK_PAYLOAD: u64 = 256 << 20;

fn read_at(path: &Path, file: &mut File, offset: u64, buf: &mut [u8]) -> Result<()> {
    file.seek(SeekFrom::Start(offset))
        .and_then(|_| file.read_exact(buf))
        .map_err(|e| Error::io(path, e))
}

fn header_problem(error: HeaderError) -> String {
    match error {
        HeaderError::Length(n) => format!("its header is {n} bytes, not {HEADER_LEN}"),
        HeaderError::Magic => "wrong magic (expected \"EBSHARD\\0\")".to_string(),
        HeaderError::Version(v) => format!("unsupported version {v}"),
        HeaderError::Reserved => "reserved header bytes are not zero".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::{NspLabel, ShardLayout, ShardWriter};

    /// Any valid example: up to 512 tokens (sometimes exactly 512), segment A anywhere up to
    /// the end (so B may be empty), a sorted subset of positions masked.
    fn example() -> impl Strategy<Value = Example> {
        prop_oneof![1 => Just(512usize), 1 => 0usize..3, 6 => 3usize..=512]
            .prop_flat_map(|len| {
                (
                    proptest::collection::vec(any::<u16>(), len),
                    0..=len,
                    proptest::collection::btree_set(0..len.max(1), 0..=len.min(80)),
                    any::<bool>(),
                )
            })
            .prop_map(|(token_ids, a, positions, random_next)| {
                let len = token_ids.len();
                let mlm_positions: Vec<u16> = positions
                    .into_iter()
                    .filter(|&p| p < len)
                    .map(|p| p as u16)
                    .collect();
                let mlm_labels = mlm_positions.iter().map(|p| p.wrapping_mul(7)).collect();
                Example {
                    token_ids,
                    segment_a_len: a as u16,
                    mlm_positions,
                    mlm_labels,
                    nsp_label: if random_next {
                        NspLabel::RandomNext
                    } else {
                        NspLabel::IsNext
                    },
                }
            })
    }

    fn write(path: &Path, first: u64, examples: &[Example], layout: &ShardLayout) -> ShardStats {
        let mut writer = ShardWriter::create(path, first, examples.len() as u64, layout).unwrap();
        for e in examples {
            writer.push(e).unwrap();
        }
        writer.finish().unwrap()
    }

    fn layout(examples_per_block: u32, zstd_level: i32) -> ShardLayout {
        ShardLayout {
            examples_per_shard: 1_000,
            examples_per_block,
            zstd_level,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn shards_round_trip(examples in proptest::collection::vec(example(), 0..40), block in 1u32..8, first in 0u64..1 << 40) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("s.ebs.zst");
            let written = write(&path, first, &examples, &layout(block, 1));
            let mut reader = ShardReader::open(&path).unwrap();
            prop_assert_eq!(reader.header(), ShardHeader { example_count: examples.len() as u64, first_example: first });
            let read: Vec<Example> = (&mut reader).collect::<Result<_>>().unwrap();
            prop_assert_eq!(&read, &examples);
            prop_assert_eq!(ShardReader::open(&path).unwrap().finish().unwrap(), written);
            // Blocks encoded and compressed in parallel, after a few pushed one by one:
            // the same bytes.
            let parallel = dir.path().join("p.ebs.zst");
            let mut writer = ShardWriter::create(&parallel, first, examples.len() as u64, &layout(block, 1)).unwrap();
            let split = examples.len().min(3);
            examples[..split].iter().for_each(|e| writer.push(e).unwrap());
            writer.push_parallel(&examples[split..]).unwrap();
            prop_assert_eq!(writer.finish().unwrap(), written);
            prop_assert_eq!(std::fs::read(&parallel).unwrap(), std::fs::read(&path).unwrap());
            // Forward seeks, within a block and across, land where streaming does.
            let mut reader = ShardReader::open(&path).unwrap();
            for k in (0..examples.len()).step_by(2) {
                reader.seek(k as u64).unwrap();
                prop_assert_eq!(reader.next().map(|r| r.unwrap()), examples.get(k).cloned());
            }
            // random access lands on the same example as streaming
            for k in [0, examples.len() / 2, examples.len().saturating_sub(1)] {
                let mut reader = ShardReader::open(&path).unwrap();
                reader.seek(k as u64).unwrap();
                prop_assert_eq!(reader.next().map(|r| r.unwrap()), examples.get(k).cloned());
            }
        }
    }

    fn sample(n: usize) -> Vec<Example> {
        (0..n)
            .map(|i| {
                let len = 3 + (i * 37) % 300;
                Example {
                    token_ids: (0..len).map(|t| ((t * 7 + i) % 30522) as u16).collect(),
                    segment_a_len: (len / 2) as u16,
                    mlm_positions: (1..len).step_by(7).map(|p| p as u16).collect(),
                    mlm_labels: (1..len).step_by(7).map(|p| (p * 3) as u16).collect(),
                    nsp_label: if i % 2 == 0 {
                        NspLabel::IsNext
                    } else {
                        NspLabel::RandomNext
                    },
                }
            })
            .collect()
    }

    #[test]
    fn hash_is_independent_of_compression() {
        let dir = tempfile::tempdir().unwrap();
        let examples = sample(500);
        let stats: Vec<ShardStats> = [(1, 1), (64, 3), (1024, 19), (7, -5)]
            .into_iter()
            .enumerate()
            .map(|(i, (block, level))| {
                write(
                    &dir.path().join(format!("{i}")),
                    0,
                    &examples,
                    &layout(block, level),
                )
            })
            .collect();
        assert!(stats.windows(2).all(|w| w[0] == w[1]), "{stats:?}");
        let sizes: Vec<u64> = (0..4)
            .map(|i| {
                std::fs::metadata(dir.path().join(format!("{i}")))
                    .unwrap()
                    .len()
            })
            .collect();
        assert!(
            sizes.windows(2).any(|w| w[0] != w[1]),
            "files should differ: {sizes:?}"
        );
    }

    #[test]
    fn damage_is_reported_not_panicked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.ebs.zst");
        write(&path, 0, &sample(300), &layout(64, 3));
        let good = std::fs::read(&path).unwrap();
        let read_all = |bytes: &[u8]| -> Result<ShardStats> {
            std::fs::write(&path, bytes).unwrap();
            ShardReader::open(&path)?.finish()
        };
        // Each damage is `NotAShard`, naming the file and the problem.
        let not_a_shard = |bytes: &[u8], problem: &str| {
            let err = read_all(bytes).unwrap_err();
            let message = err.to_string();
            match &err {
                Error::NotAShard {
                    path: named,
                    reason,
                } => {
                    assert_eq!(named, &path, "{message}");
                    assert!(reason.contains(problem), "{message} lacks {problem:?}");
                }
                other => panic!("expected NotAShard ({problem}), got {other:?}"),
            }
            let prefix = format!("'{}' is not a valid shard: ", path.display());
            assert!(message.starts_with(&prefix), "{message}");
        };
        let no_index = "no block index at its end (truncated, or not an earlyberts shard)";
        not_a_shard(&good[..good.len() - 100], no_index);
        not_a_shard(&[], no_index);
        let mut flipped = good.clone();
        flipped[good.len() / 2] ^= 0x10;
        let err = read_all(&flipped).unwrap_err();
        assert!(matches!(err, Error::CorruptBlock { .. }), "{err}");
        // Bytes after the index: the file no longer ends with one.
        let mut padded = good.clone();
        padded.extend_from_slice(b"junk");
        not_a_shard(&padded, no_index);
        // Bytes between the blocks and the index: the index accounts for fewer.
        // The index frame: its 8-byte frame header, 6 entries (the header frame and 5 blocks
        // of 64 for 300 examples), its tail.
        let index_len = 8 + 6 * INDEX_ENTRY_LEN + INDEX_TAIL_LEN;
        let mut inserted = good.clone();
        inserted.splice(good.len() - index_len..good.len() - index_len, *b"junk");
        let accounts = format!(
            "its index accounts for {} bytes but the file has {} (truncated or padded)",
            good.len(),
            good.len() + 4
        );
        not_a_shard(&inserted, &accounts);
    }
}
