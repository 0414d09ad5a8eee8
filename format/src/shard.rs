//! The shard file: constants, the payload header, the block index and per-shard statistics.
//!
//! ```text
//! ┌──────────────────────┬─────────────────────┬─────┬─────────────────────┬───────────────────────────┐
//! │ zstd frame 0: header │ zstd frame 1: block │ ... │ zstd frame B: block │ skippable frame: index    │
//! └──────────────────────┴─────────────────────┴─────┴─────────────────────┴───────────────────────────┘
//! ```
//!
//! The *payload* is the concatenation of the decompressed frames: the 32-byte header, then
//! the records in order. It is what the shard hash covers, so the compression level and
//! the zstd library version do not change a shard's identity. docs/FORMAT.md is the spec.

use serde::{Deserialize, Serialize};

use crate::{Example, NspLabel, PayloadHash};

/// The shard format version this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// First 8 bytes of every payload.
pub const PAYLOAD_MAGIC: [u8; 8] = *b"EBSHARD\0";
/// Length of the payload header.
pub const HEADER_LEN: usize = 32;
/// Last 8 bytes of every shard file.
pub const INDEX_MAGIC: [u8; 8] = *b"EBSINDEX";
/// zstd skippable-frame magic used for the index (any of 0x184D2A50..=0x184D2A5F is skippable).
pub const SKIPPABLE_MAGIC: u32 = 0x184D_2A5E;
/// Bytes of one index entry: compressed size, uncompressed size, example count (u32 each).
pub const INDEX_ENTRY_LEN: usize = 12;
/// Bytes of the index tail: block count, reserved, magic.
pub const INDEX_TAIL_LEN: usize = 16;

/// The fixed header at the start of a payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardHeader {
    /// Number of records in the shard.
    pub example_count: u64,
    /// Global training-order index of the shard's first example.
    pub first_example: u64,
}

impl ShardHeader {
    /// The 32 header bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..8].copy_from_slice(&PAYLOAD_MAGIC);
        out[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        // bytes 12..16 are reserved and zero
        out[16..24].copy_from_slice(&self.example_count.to_le_bytes());
        out[24..32].copy_from_slice(&self.first_example.to_le_bytes());
        out
    }

    /// Parses a header; the error says what is wrong with it.
    pub fn decode(bytes: &[u8]) -> Result<ShardHeader, HeaderError> {
        if bytes.len() != HEADER_LEN {
            return Err(HeaderError::Length(bytes.len()));
        }
        if bytes[..8] != PAYLOAD_MAGIC {
            return Err(HeaderError::Magic);
        }
        let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
        if version != FORMAT_VERSION {
            return Err(HeaderError::Version(version));
        }
        if bytes[12..16] != [0; 4] {
            return Err(HeaderError::Reserved);
        }
        Ok(ShardHeader {
            example_count: u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes")),
            first_example: u64::from_le_bytes(bytes[24..32].try_into().expect("8 bytes")),
        })
    }
}

/// Why a header was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum HeaderError {
    Length(usize),
    Magic,
    Version(u32),
    Reserved,
}

/// One entry of the block index: a zstd frame and what it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockEntry {
    /// Bytes of the zstd frame in the file.
    pub compressed_len: u32,
    /// Bytes of the frame's content (header or records).
    pub payload_len: u32,
    /// Records in the frame (0 for the header frame).
    pub examples: u32,
}

/// Encodes the index as a zstd skippable frame.
pub(crate) fn encode_index(blocks: &[BlockEntry]) -> Vec<u8> {
    let content_len = blocks.len() * INDEX_ENTRY_LEN + INDEX_TAIL_LEN;
    let mut out = Vec::with_capacity(8 + content_len);
    out.extend_from_slice(&SKIPPABLE_MAGIC.to_le_bytes());
    out.extend_from_slice(&(content_len as u32).to_le_bytes());
    for block in blocks {
        out.extend_from_slice(&block.compressed_len.to_le_bytes());
        out.extend_from_slice(&block.payload_len.to_le_bytes());
        out.extend_from_slice(&block.examples.to_le_bytes());
    }
    out.extend_from_slice(&(blocks.len() as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&INDEX_MAGIC);
    out
}

/// Counts of NSP labels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NspCounts {
    /// Examples with label 0.
    pub is_next: u64,
    /// Examples with label 1.
    pub random_next: u64,
}

/// What a shard holds, as recorded in the manifest and recomputed by `verify`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardStats {
    /// Number of examples.
    pub examples: u64,
    /// Sum of the examples' lengths.
    pub tokens: u64,
    /// Number of labelled (masked) positions.
    pub masked_tokens: u64,
    /// NSP label counts.
    pub nsp: NspCounts,
    /// Bytes of the uncompressed payload.
    pub payload_bytes: u64,
    /// xxh3-128 of the uncompressed payload.
    pub hash: PayloadHash,
}

/// A field of [`ShardStats`], named as the manifest names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardField {
    Examples,
    Tokens,
    MaskedTokens,
    IsNext,
    RandomNext,
    PayloadBytes,
    Hash,
}

impl ShardField {
    /// Every field, in the manifest's order.
    pub const ALL: [ShardField; 7] = [
        ShardField::Examples,
        ShardField::Tokens,
        ShardField::MaskedTokens,
        ShardField::IsNext,
        ShardField::RandomNext,
        ShardField::PayloadBytes,
        ShardField::Hash,
    ];

    /// Its name in the manifest (`nsp.is_next` for a nested one).
    pub fn name(self) -> &'static str {
        match self {
            ShardField::Examples => "examples",
            ShardField::Tokens => "tokens",
            ShardField::MaskedTokens => "masked_tokens",
            ShardField::IsNext => "nsp.is_next",
            ShardField::RandomNext => "nsp.random_next",
            ShardField::PayloadBytes => "payload_bytes",
            ShardField::Hash => "hash",
        }
    }

    /// Its value in `stats`, as the manifest writes it.
    pub fn value(self, stats: &ShardStats) -> String {
        match self {
            ShardField::Examples => stats.examples.to_string(),
            ShardField::Tokens => stats.tokens.to_string(),
            ShardField::MaskedTokens => stats.masked_tokens.to_string(),
            ShardField::IsNext => stats.nsp.is_next.to_string(),
            ShardField::RandomNext => stats.nsp.random_next.to_string(),
            ShardField::PayloadBytes => stats.payload_bytes.to_string(),
            ShardField::Hash => stats.hash.to_string(),
        }
    }
}

impl ShardStats {
    /// The fields in which `found` differs from `self`, in the manifest's order.
    pub fn differences(&self, found: &ShardStats) -> Vec<ShardField> {
        ShardField::ALL
            .into_iter()
            .filter(|field| field.value(self) != field.value(found))
            .collect()
    }
}

/// Accumulates [`ShardStats`] over records as they are written or read.
#[derive(Clone, Debug, Default)]
pub(crate) struct StatsAccumulator {
    pub examples: u64,
    pub tokens: u64,
    pub masked_tokens: u64,
    pub nsp: NspCounts,
}

impl StatsAccumulator {
    pub fn add(&mut self, example: &Example) {
        self.examples += 1;
        self.tokens += example.token_ids.len() as u64;
        self.masked_tokens += example.mlm_positions.len() as u64;
        match example.nsp_label {
            NspLabel::IsNext => self.nsp.is_next += 1,
            NspLabel::RandomNext => self.nsp.random_next += 1,
        }
    }

    pub fn finish(&self, payload_bytes: u64, hash: PayloadHash) -> ShardStats {
        ShardStats {
            examples: self.examples,
            tokens: self.tokens,
            masked_tokens: self.masked_tokens,
            nsp: self.nsp,
            payload_bytes,
            hash,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_rejections() {
        let header = ShardHeader {
            example_count: 7,
            first_example: 1 << 40,
        };
        let bytes = header.encode();
        assert_eq!(ShardHeader::decode(&bytes), Ok(header));
        let mut bad = bytes;
        bad[0] = b'X';
        assert_eq!(ShardHeader::decode(&bad), Err(HeaderError::Magic));
        let mut bad = bytes;
        bad[8] = 2;
        assert_eq!(ShardHeader::decode(&bad), Err(HeaderError::Version(2)));
        let mut bad = bytes;
        bad[13] = 1;
        assert_eq!(ShardHeader::decode(&bad), Err(HeaderError::Reserved));
        assert_eq!(
            ShardHeader::decode(&bytes[..31]),
            Err(HeaderError::Length(31))
        );
    }

    #[test]
    fn index_layout() {
        let index = encode_index(&[BlockEntry {
            compressed_len: 1,
            payload_len: 2,
            examples: 3,
        }]);
        assert_eq!(index.len(), 8 + 12 + 16);
        assert_eq!(&index[..4], &[0x5E, 0x2A, 0x4D, 0x18]);
        assert_eq!(&index[4..8], &28u32.to_le_bytes());
        assert_eq!(&index[index.len() - 8..], b"EBSINDEX");
    }
}
