//! A build's provenance index: for each example, in training order, the two sentences of
//! the store it was made from, their documents, and how many tokens of each the example
//! keeps after the length cut. `pipeline where` answers "at which steps did the model see
//! this sentence, this document?" from it, without the store.
//!
//! `provenance.bin` holds one 20-byte little-endian record per example ([`Provenance`]);
//! `provenance.json` ([`ProvenanceInfo`]) ties it to its build (the manifest's root hash
//! and example count) and holds its xxh3-128 hash. The JSON is removed before and written
//! after the records, so a JSON that is there names a complete file. docs/FORMAT.md
//! specifies both.

use std::{
    fs::{self, File},
    io::{BufReader, Read, Seek, SeekFrom},
    ops::Range,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

use crate::{
    AtomicFile, Build, Error, Manifest, PayloadHash, Result, remove_if_present, write_atomic,
};

/// The records' file name in a build directory.
pub const PROVENANCE_FILE: &str = "provenance.bin";
/// The description's file name in a build directory.
pub const PROVENANCE_INFO_FILE: &str = "provenance.json";
/// The version of the index's layout.
pub const PROVENANCE_VERSION: u32 = 1;
/// Bytes per record.
pub const PROVENANCE_RECORD_LEN: usize = 20;

/// The two segments of an example: `[CLS] A [SEP] B [SEP]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Segment {
    A,
    B,
}

/// Where one example's tokens came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Provenance {
    /// The store sentence of segment A.
    pub first: u32,
    /// The store sentence of segment B.
    pub second: u32,
    pub first_document: u32,
    pub second_document: u32,
    /// Tokens of the first sentence the example holds (all of them unless cut).
    pub first_tokens: u16,
    /// Tokens of the second sentence the example holds (0 when the cut removed it).
    pub second_tokens: u16,
}

impl Provenance {
    /// Appends the 20-byte record.
    pub fn encode(&self, out: &mut Vec<u8>) {
        for word in [
            self.first,
            self.second,
            self.first_document,
            self.second_document,
        ] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(&self.first_tokens.to_le_bytes());
        out.extend_from_slice(&self.second_tokens.to_le_bytes());
    }

    /// Reads a record from its 20 bytes.
    pub fn decode(bytes: &[u8; PROVENANCE_RECORD_LEN]) -> Provenance {
        let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
        let u16_at = |i: usize| u16::from_le_bytes(bytes[i..i + 2].try_into().expect("2 bytes"));
        Provenance {
            first: u32_at(0),
            second: u32_at(4),
            first_document: u32_at(8),
            second_document: u32_at(12),
            first_tokens: u16_at(16),
            second_tokens: u16_at(18),
        }
    }

    /// The store sentence of `segment`.
    pub fn sentence(&self, segment: Segment) -> u32 {
        match segment {
            Segment::A => self.first,
            Segment::B => self.second,
        }
    }

    /// The document of `segment`'s sentence.
    pub fn document(&self, segment: Segment) -> u32 {
        match segment {
            Segment::A => self.first_document,
            Segment::B => self.second_document,
        }
    }

    /// The example positions of `segment`'s sentence tokens (`[CLS]` is position 0);
    /// empty when the cut removed them.
    pub fn positions(&self, segment: Segment) -> Range<u16> {
        match segment {
            Segment::A => 1..1 + self.first_tokens,
            // B follows A's [SEP]; when B is kept at all, A was not cut.
            Segment::B => {
                let start = self.first_tokens + 2;
                start..start + self.second_tokens
            }
        }
    }

    /// The segment whose sentence holds `position`, if any (`None` for `[CLS]`/`[SEP]`).
    pub fn segment_at(&self, position: u16) -> Option<Segment> {
        [Segment::A, Segment::B]
            .into_iter()
            .find(|&s| self.positions(s).contains(&position))
    }
}

/// `provenance.json`: what the records belong to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvenanceInfo {
    pub format: u32,
    /// Records in `provenance.bin`: the build's examples.
    pub examples: u64,
    /// The build's `root_hash` (its manifest).
    pub root_hash: PayloadHash,
    /// xxh3-128 of `provenance.bin`.
    pub hash: PayloadHash,
}

/// Writes a build's index, records in training order.
pub struct ProvenanceWriter {
    dir: PathBuf,
    file: AtomicFile,
    hasher: Xxh3,
    written: u64,
    examples: u64,
    root_hash: PayloadHash,
}

impl ProvenanceWriter {
    /// Starts the index of the build committed by `manifest` in `dir` (removing any
    /// description of an older index first).
    pub fn create(dir: &Path, manifest: &Manifest) -> Result<ProvenanceWriter> {
        remove_if_present(&dir.join(PROVENANCE_INFO_FILE))?;
        Ok(ProvenanceWriter {
            dir: dir.to_path_buf(),
            file: AtomicFile::create(dir.join(PROVENANCE_FILE))?,
            hasher: Xxh3::new(),
            written: 0,
            examples: manifest.len(),
            root_hash: manifest.root_hash,
        })
    }

    /// Appends encoded records (a multiple of 20 bytes).
    pub fn write_records(&mut self, bytes: &[u8]) -> Result<()> {
        debug_assert_eq!(bytes.len() % PROVENANCE_RECORD_LEN, 0);
        self.hasher.update(bytes);
        self.written += (bytes.len() / PROVENANCE_RECORD_LEN) as u64;
        self.file.write_all(bytes)
    }

    /// Publishes the records, then their description.
    pub fn commit(self) -> Result<ProvenanceInfo> {
        assert_eq!(
            self.written, self.examples,
            "one provenance record per example"
        );
        self.file.commit()?;
        let info = ProvenanceInfo {
            format: PROVENANCE_VERSION,
            examples: self.examples,
            root_hash: self.root_hash,
            hash: PayloadHash(self.hasher.digest128()),
        };
        let json = serde_json::to_string_pretty(&info).expect("the description serialises");
        write_atomic(self.dir.join(PROVENANCE_INFO_FILE), json.as_bytes())?;
        Ok(info)
    }
}

/// A build's index, opened for reading.
pub struct ProvenanceIndex {
    path: PathBuf,
    info: ProvenanceInfo,
}

impl ProvenanceIndex {
    /// Opens the index of `build`; fails when it is missing or belongs to another build.
    pub fn open(build: &Build) -> Result<ProvenanceIndex> {
        let dir = build.dir();
        let info_path = dir.join(PROVENANCE_INFO_FILE);
        let bytes = fs::read(&info_path).map_err(|e| Error::io(&info_path, e))?;
        let stale = |reason: String| Error::Provenance {
            path: info_path.clone(),
            reason,
        };
        let info: ProvenanceInfo =
            serde_json::from_slice(&bytes).map_err(|e| stale(format!("not valid JSON ({e})")))?;
        if info.format != PROVENANCE_VERSION {
            return Err(Error::UnsupportedVersion {
                path: info_path,
                found: info.format,
                supported: PROVENANCE_VERSION,
            });
        }
        let manifest = build.manifest();
        if info.root_hash != manifest.root_hash || info.examples != manifest.len() {
            return Err(stale(format!(
                "it indexes {} examples with root hash {}, the build holds {} with {}",
                info.examples,
                info.root_hash,
                manifest.len(),
                manifest.root_hash
            )));
        }
        let path = dir.join(PROVENANCE_FILE);
        let len = fs::metadata(&path).map_err(|e| Error::io(&path, e))?.len();
        if len != info.examples * PROVENANCE_RECORD_LEN as u64 {
            return Err(Error::Provenance {
                path,
                reason: format!(
                    "{len} bytes, but {} records of {PROVENANCE_RECORD_LEN} were written",
                    info.examples
                ),
            });
        }
        Ok(ProvenanceIndex { path, info })
    }

    /// Calls `visit(k, record)` for every example `k` in order, reading the file once.
    pub fn scan(&self, mut visit: impl FnMut(u64, &Provenance)) -> Result<()> {
        let file = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut chunk = vec![0u8; PROVENANCE_RECORD_LEN << 14];
        let mut k = 0;
        while k < self.info.examples {
            let records = (self.info.examples - k).min(1 << 14) as usize;
            let bytes = &mut chunk[..records * PROVENANCE_RECORD_LEN];
            reader
                .read_exact(bytes)
                .map_err(|e| Error::io(&self.path, e))?;
            for record in bytes.chunks_exact(PROVENANCE_RECORD_LEN) {
                visit(k, &Provenance::decode(record.try_into().expect("20 bytes")));
                k += 1;
            }
        }
        Ok(())
    }

    /// Whether the records hash to what the description says.
    pub fn is_intact(&self) -> Result<bool> {
        Ok(PayloadHash::of_file(&self.path)? == self.info.hash)
    }

    /// The records of examples `range`.
    pub fn records(&self, range: Range<u64>) -> Result<Vec<Provenance>> {
        if range.end > self.info.examples {
            return Err(Error::OutOfRange {
                index: range.end.saturating_sub(1),
                len: self.info.examples,
            });
        }
        let count = range.end.saturating_sub(range.start) as usize;
        let mut bytes = vec![0u8; count * PROVENANCE_RECORD_LEN];
        let mut file = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        file.seek(SeekFrom::Start(range.start * PROVENANCE_RECORD_LEN as u64))
            .and_then(|_| file.read_exact(&mut bytes))
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(bytes
            .chunks_exact(PROVENANCE_RECORD_LEN)
            .map(|r| Provenance::decode(r.try_into().expect("20 bytes")))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records past byte 2^32 of the index (2^28 + 4 records: 5.4 GB, a sparse file) are
    /// found where they were written, by `records` as by the writer's positions.
    #[test]
    fn records_past_four_gib_are_read_from_their_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(PROVENANCE_FILE);
        let examples = (1u64 << 28) + 4;
        let file = File::create(&path).unwrap();
        file.set_len(examples * PROVENANCE_RECORD_LEN as u64)
            .unwrap();
        let record = |k: u64| Provenance {
            first: (k % (1 << 32)) as u32,
            second: u32::MAX,
            first_document: 3,
            second_document: (k >> 8) as u32,
            first_tokens: 250,
            second_tokens: 9,
        };
        let tail = examples - 3..examples;
        let mut bytes = Vec::new();
        tail.clone().for_each(|k| record(k).encode(&mut bytes));
        let mut file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.seek(SeekFrom::Start(tail.start * PROVENANCE_RECORD_LEN as u64))
            .unwrap();
        std::io::Write::write_all(&mut file, &bytes).unwrap();
        let index = ProvenanceIndex {
            path,
            info: ProvenanceInfo {
                format: PROVENANCE_VERSION,
                root_hash: PayloadHash(0),
                examples,
                hash: PayloadHash(0),
            },
        };
        let expected: Vec<Provenance> = tail.clone().map(record).collect();
        assert_eq!(index.records(tail).unwrap(), expected);
        assert_eq!(
            index.records(0..1).unwrap()[0],
            Provenance::decode(&[0; 20])
        );
        assert!(index.records(examples..examples + 1).is_err());
    }

    #[test]
    fn records_round_trip_and_place_their_segments() {
        let record = Provenance {
            first: 7,
            second: 1 << 31,
            first_document: 2,
            second_document: 90_000,
            first_tokens: 5,
            second_tokens: 3,
        };
        let mut bytes = Vec::new();
        record.encode(&mut bytes);
        assert_eq!(bytes.len(), PROVENANCE_RECORD_LEN);
        assert_eq!(Provenance::decode(bytes[..].try_into().unwrap()), record);
        // [CLS] a a a a a [SEP] b b b [SEP]
        assert_eq!(record.positions(Segment::A), 1..6);
        assert_eq!(record.positions(Segment::B), 7..10);
        assert_eq!(record.segment_at(0), None);
        assert_eq!(record.segment_at(5), Some(Segment::A));
        assert_eq!(record.segment_at(6), None);
        assert_eq!(record.segment_at(9), Some(Segment::B));
        assert_eq!(record.segment_at(10), None);
    }
}
