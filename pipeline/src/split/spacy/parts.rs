//! The spaCy work of a store, as parts: which chunks there are (counted from the inputs'
//! footers, not read), whose part each is (chunks are numbered across every input and dealt
//! round-robin, so N parts are within one chunk of each other), which no run has split yet,
//! and what the parts record in the store (`rows/parts.json`: N and the setup they ran), so
//! that the assembly runs their setup without being told.

use std::{
    fmt,
    path::{Path, PathBuf},
};

use earlyberts_format::write_atomic_shared;
use serde::{Deserialize, Serialize};

use super::{SpacyComponents, SpacyKey, SpacyPlan, cache::RowCache};
use crate::{
    Error, Result,
    source::{self, CHUNK_TEXTS, ChunkAt, CorpusKind},
};

/// The parts' record, in the store's `rows/` directory.
pub const PARTS_FILE: &str = "parts.json";

/// What parts of a store's spaCy work ran: how many parts, and the setup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartsRecord {
    /// N of the last `--part K/N` run.
    pub parts: usize,
    pub key: SpacyKey,
    /// Whether the parts ran a model other than the pinned one, allowed.
    pub other_version_allowed: bool,
}

impl PartsRecord {
    fn path(store: &Path) -> PathBuf {
        store.join("rows").join(PARTS_FILE)
    }

    /// The record of the parts run for `store`, if any ran.
    pub fn load(store: &Path) -> Result<Option<PartsRecord>> {
        let path = PartsRecord::path(store);
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        serde_json::from_slice(&text)
            .map(Some)
            .map_err(|e| Error::Store {
                path,
                reason: format!(
                    "not a record of spaCy parts ({e}); remove it and run a part again"
                ),
            })
    }

    /// Records that a part of `parts` runs `plan`'s setup for `store`; refuses a setup or a
    /// number of parts other than the recorded ones (parts must split alike, and a part of
    /// another N would leave the assembly naming the wrong parts). Parts run at once write
    /// the same bytes.
    pub fn claim(store: &Path, parts: usize, plan: &SpacyPlan) -> Result<()> {
        let ours = PartsRecord {
            parts,
            key: plan.key(),
            other_version_allowed: plan.allow_other_version,
        };
        if let Some(theirs) = PartsRecord::load(store)? {
            theirs.check(store, plan)?;
            if theirs.parts != parts {
                return Err(Error::SpacyPartsCount {
                    path: PartsRecord::path(store),
                    theirs: theirs.parts,
                    ours: parts,
                });
            }
            if theirs == ours {
                return Ok(());
            }
        }
        let path = PartsRecord::path(store);
        let dir = path.parent().expect("the record lives in rows/");
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let json = serde_json::to_string_pretty(&ours).expect("a parts record serialises");
        Ok(write_atomic_shared(&path, format!("{json}\n").as_bytes())?)
    }

    /// Refuses `plan` if it splits otherwise than these parts of `store` did.
    pub fn check(&self, store: &Path, plan: &SpacyPlan) -> Result<()> {
        let ours = plan.key();
        if ours == self.key {
            return Ok(());
        }
        Err(Error::SpacyPartsSetup {
            path: PartsRecord::path(store),
            theirs: self.key.describe(),
            ours: ours.describe(),
        })
    }
}

impl SpacyPlan {
    /// Runs the setup the parts of a store ran (the model loaded, its components, its
    /// `max_length`, whether another version was allowed): the assembly needs no spaCy flags.
    pub fn adopt(&mut self, parts: &PartsRecord) {
        self.options.model = parts.key.loaded.clone();
        self.options.components = parts.key.components;
        self.options.max_length = parts.key.max_length;
        self.allow_other_version |= parts.other_version_allowed;
    }
}

/// One input's share of the spaCy work.
#[derive(Clone, Debug)]
struct WorkInput {
    file: PathBuf,
    sha256: String,
    /// The number, across every input, of its first chunk.
    first: usize,
    /// Its chunks (none for an input spaCy does not split).
    chunks: usize,
    /// About how many bytes of text it holds.
    text_bytes: u64,
}

/// The chunks spaCy splits for a plan, numbered across its inputs in order.
#[derive(Clone, Debug)]
pub struct SpacyWork {
    inputs: Vec<WorkInput>,
    components: SpacyComponents,
}

impl SpacyWork {
    /// The work of splitting the Wikipedia inputs among `inputs`, whose files and sha256
    /// are `hashed` (by index).
    pub fn new(
        inputs: &[(CorpusKind, PathBuf)],
        hashed: &[(PathBuf, String)],
        components: SpacyComponents,
    ) -> Result<SpacyWork> {
        let mut first = 0;
        let mut work = Vec::with_capacity(inputs.len());
        for ((kind, path), (file, sha256)) in inputs.iter().zip(hashed) {
            let (chunks, text_bytes) = match kind.has_articles() {
                true => count_chunks(path)?,
                false => (0, 0),
            };
            work.push(WorkInput {
                file: file.clone(),
                sha256: sha256.clone(),
                first,
                chunks,
                text_bytes,
            });
            first += chunks;
        }
        Ok(SpacyWork {
            inputs: work,
            components,
        })
    }

    /// Chunks in all.
    pub fn chunks(&self) -> usize {
        self.inputs.iter().map(|i| i.chunks).sum()
    }

    /// The number of the chunk at `at` across every input.
    pub fn number(&self, at: ChunkAt) -> usize {
        self.inputs[at.input].first + at.chunk
    }

    /// Chunks of part `k` of `n`.
    pub fn chunks_of_part(&self, k: usize, n: usize) -> usize {
        self.chunks().saturating_sub(k).div_ceil(n)
    }

    /// The chunks with no whole file in `cache` (a file that is there but damaged is found
    /// when read).
    pub fn missing(&self, cache: &RowCache, store: &Path, parts: Option<usize>) -> MissingWork {
        let mut missing = MissingWork {
            store: store.to_path_buf(),
            chunks: Vec::new(),
            total: self.chunks(),
            text_bytes: 0,
            parts,
            components: self.components,
        };
        for input in &self.inputs {
            let before = missing.chunks.len();
            for chunk in 0..input.chunks {
                if !cache.path(&input.sha256, chunk).is_file() {
                    missing.chunks.push(MissingChunk {
                        file: input.file.clone(),
                        chunk,
                        number: input.first + chunk,
                    });
                }
            }
            let absent = (missing.chunks.len() - before) as u64;
            missing.text_bytes += input.text_bytes * absent / input.chunks.max(1) as u64;
        }
        missing
    }
}

/// The chunks of `path` (from its footer where it has one, else by reading it) and about
/// how many bytes of text it holds.
fn count_chunks(path: &Path) -> Result<(usize, u64)> {
    let mut reader = source::open(path)?;
    let bytes = reader.text_bytes_hint();
    if let Some(chunks) = reader.chunk_count() {
        return Ok((chunks, bytes));
    }
    let mut chunks = 0;
    while reader.next_chunk()?.is_some() {
        chunks += 1;
    }
    Ok((chunks, bytes))
}

/// A chunk no run has split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingChunk {
    pub file: PathBuf,
    /// Its number in its file, and across every input.
    pub chunk: usize,
    pub number: usize,
}

/// What is left of a store's spaCy work.
#[derive(Clone, Debug)]
pub struct MissingWork {
    pub store: PathBuf,
    pub chunks: Vec<MissingChunk>,
    /// Chunks in all.
    pub total: usize,
    /// About how many bytes of text the missing chunks hold.
    pub text_bytes: u64,
    /// N, when parts ran.
    pub parts: Option<usize>,
    components: SpacyComponents,
}

/// Text spaCy splits per core-second (README: 0.045–0.049 MB/s with the fast components,
/// 0.016 MB/s with the whole model, measured on Wikipedia).
fn bytes_per_core_second(components: SpacyComponents) -> f64 {
    match components {
        SpacyComponents::Fast => 47_000.0,
        SpacyComponents::Full => 16_000.0,
    }
}

impl MissingWork {
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// About how many core-hours of spaCy the missing chunks take.
    pub fn core_hours(&self) -> f64 {
        self.text_bytes as f64 / bytes_per_core_second(self.components) / 3600.0
    }

    /// The parts (K of N) the missing chunks belong to, when parts ran.
    pub fn parts_missing(&self) -> Vec<usize> {
        let Some(n) = self.parts else {
            return Vec::new();
        };
        let mut parts: Vec<usize> = self.chunks.iter().map(|c| c.number % n).collect();
        parts.sort_unstable();
        parts.dedup();
        parts
    }

    /// The state of the work for scripts (`pipeline prepare --parts-status`), the results of
    /// `setup` counted.
    pub fn status(&self, setup: SpacyKey) -> PartsStatus {
        PartsStatus {
            store: self.store.clone(),
            parts: self.parts,
            setup,
            chunks: self.total,
            chunks_missing: self.chunks.len(),
            parts_missing: self.parts_missing(),
            core_hours_missing: self.core_hours(),
            complete: self.is_empty(),
        }
    }
}

/// Where a store's spaCy work stands, as scripts read it (JSON: `pipeline prepare
/// --parts-status`). Made from [`MissingWork`] only: the one account of what is done.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PartsStatus {
    pub store: PathBuf,
    /// N of the parts run for the store (`rows/parts.json`); `None`: no part has run.
    pub parts: Option<usize>,
    /// The setup whose results are counted: the parts' own where parts ran.
    pub setup: SpacyKey,
    /// Chunks of the work in all, and those no run has split.
    pub chunks: usize,
    pub chunks_missing: usize,
    /// The parts (K of N) owning missing chunks; empty where no part has run.
    pub parts_missing: Vec<usize>,
    /// About how many core-hours of spaCy the missing chunks take.
    pub core_hours_missing: f64,
    /// Every chunk is split: `prepare` makes the store without running spaCy.
    pub complete: bool,
}

impl fmt::Display for MissingWork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} chunks of spaCy's work are not split in '{}'",
            self.chunks.len(),
            self.total,
            self.store.join("rows").display()
        )?;
        if let Some(n) = self.parts {
            let parts: Vec<String> = self
                .parts_missing()
                .iter()
                .map(|k| format!("{k}/{n}"))
                .collect();
            let s = if parts.len() == 1 { "" } else { "s" };
            write!(f, " (part{s} {})", parts.join(", "))?;
        }
        if let Some(first) = self.chunks.first() {
            write!(
                f,
                "; the first is chunk {} of '{}' (articles {}–{})",
                first.chunk,
                first.file.display(),
                first.chunk * CHUNK_TEXTS,
                (first.chunk + 1) * CHUNK_TEXTS - 1
            )?;
        }
        write!(
            f,
            "; about {:.1} core-hours of spaCy",
            self.core_hours().max(0.05)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn work(chunks: &[usize]) -> SpacyWork {
        let mut first = 0;
        let inputs = chunks
            .iter()
            .enumerate()
            .map(|(i, &chunks)| {
                let input = WorkInput {
                    file: PathBuf::from(format!("wiki-{i}.parquet")),
                    sha256: i.to_string().repeat(64),
                    first,
                    chunks,
                    text_bytes: chunks as u64 * 1_000_000,
                };
                first += chunks;
                input
            })
            .collect();
        SpacyWork {
            inputs,
            components: SpacyComponents::Fast,
        }
    }

    /// Dealt across the inputs, N parts are within one chunk of each other, whatever the
    /// files (dealt per file, three files of one chunk left parts 1 and 2 of 3 idle).
    #[test]
    fn parts_are_within_one_chunk_of_each_other() {
        for files in [&[1, 1, 1][..], &[2, 0, 7], &[41; 41], &[3]] {
            let work = work(files);
            for n in 1..=8 {
                let mut dealt = vec![0; n];
                for (input, &chunks) in files.iter().enumerate() {
                    for chunk in 0..chunks {
                        let at = ChunkAt {
                            input,
                            chunk,
                            first_text: 0,
                        };
                        dealt[work.number(at) % n] += 1;
                    }
                }
                let (low, high) = (dealt.iter().min().unwrap(), dealt.iter().max().unwrap());
                assert!(high - low <= 1, "{files:?} in {n} parts: {dealt:?}");
                let counted: Vec<usize> = (0..n).map(|k| work.chunks_of_part(k, n)).collect();
                assert_eq!(counted, dealt, "{files:?} in {n} parts");
            }
        }
    }

    #[test]
    fn missing_work_names_its_parts_and_cost() {
        let dir = tempfile::tempdir().unwrap();
        let cache = RowCache::new(dir.path(), "abc");
        let work = work(&[2, 3]);
        // Chunks 0 and 1 of the second file (numbers 2 and 3) are done.
        for chunk in 0..2 {
            cache
                .save(&cache.path(&"1".repeat(64), chunk), &vec![])
                .unwrap();
        }
        let missing = work.missing(&cache, dir.path(), Some(4));
        let numbers: Vec<usize> = missing.chunks.iter().map(|c| c.number).collect();
        assert_eq!(numbers, [0, 1, 4]);
        assert_eq!(missing.parts_missing(), [0, 1]);
        // 3 MB of text at 47 kB per core-second.
        assert!((missing.core_hours() - 3e6 / 47e3 / 3600.0).abs() < 1e-9);
        let said = missing.to_string();
        assert!(said.starts_with("3 of 5 chunks of spaCy's work"), "{said}");
        assert!(said.contains("(parts 0/4, 1/4)"), "{said}");
        assert!(
            said.contains("chunk 0 of 'wiki-0.parquet' (articles 0–1023)"),
            "{said}"
        );
        assert!(
            work.missing(&cache, dir.path(), None)
                .parts_missing()
                .is_empty()
        );
        let key = SpacyPlan::pinned("en_core_web_sm", "3.5.0").key();
        let status = serde_json::to_value(missing.status(key.clone())).unwrap();
        assert_eq!(status["parts"], 4);
        assert_eq!(status["chunks"], 5);
        assert_eq!(status["chunks_missing"], 3);
        assert_eq!(status["parts_missing"], serde_json::json!([0, 1]));
        assert_eq!(status["complete"], false);
        assert_eq!(status["setup"]["loaded"], "en_core_web_sm");
        let none_ran = work.missing(&cache, dir.path(), None).status(key);
        assert_eq!((none_ran.parts, none_ran.complete), (None, false));
    }
}
