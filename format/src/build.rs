//! A build directory: shards plus `manifest.json`.
//!
//! ```text
//! BUILD/
//! ├── manifest.json          written last: its rename commits the build
//! └── shards/
//!     ├── 000000.ebs.zst     examples 0 .. examples_per_shard
//!     └── 000001.ebs.zst     ...
//! ```
//!
//! [`BuildWriter`] writes shards independently of each other (so a caller can write them
//! in parallel) and commits the manifest; [`Build`] reads examples by global index.
//!
//! A build in progress has no `manifest.json` (an older one is removed first) and records
//! what it is making in `partial.json`; a re-run with the same plan keeps every shard that
//! reads back whole with the right range ([`BuildWriter::existing_shard`]), so a killed
//! build redoes only its unfinished shards. The commit removes `partial.json`.

use std::{
    fs,
    ops::Range,
    path::{Path, PathBuf},
};

use rayon::prelude::*;

use crate::{
    Error, Example, InputFile, MANIFEST_FILE, Manifest, RecipeInfo, Result, SHARD_DIR, ShardEntry,
    ShardLayout, ShardReader, ShardWriter, StepBatch, VocabInfo, manifest::shard_file_name,
};

/// What a build records besides its shards.
#[derive(Clone, Debug)]
pub struct BuildInfo {
    pub recipe: RecipeInfo,
    pub seed: u64,
    pub inputs: Vec<InputFile>,
    pub vocab: VocabInfo,
    /// Per-stage counts, recorded as the manifest's `stages`.
    pub stages: serde_json::Value,
}

impl BuildInfo {
    /// A build of generated examples (tests, benchmarks): no inputs, the uncased BERT
    /// vocabulary, seed 0, a recipe with no parameters named `name`.
    pub fn synthetic(name: &str) -> BuildInfo {
        BuildInfo {
            recipe: RecipeInfo::new(name, serde_json::json!({})),
            seed: 0,
            inputs: vec![],
            vocab: crate::Vocab::bert_base_uncased().info(),
            stages: serde_json::json!({}),
        }
    }
}

/// The file that describes a build in progress.
pub const PARTIAL_FILE: &str = "partial.json";

/// Writes the shards of a build of `total_examples` examples, then its manifest.
pub struct BuildWriter {
    dir: PathBuf,
    layout: ShardLayout,
    total_examples: u64,
}

impl BuildWriter {
    /// Prepares `dir` (created if needed) for a build from scratch.
    pub fn new(dir: impl Into<PathBuf>, layout: ShardLayout, total_examples: u64) -> Result<Self> {
        Self::resumable(dir, layout, total_examples, &serde_json::Value::Null)
    }

    /// Prepares `dir` for a build described by `plan` (everything its bytes depend on).
    /// Shards of an interrupted build with an equal plan are kept for
    /// [`BuildWriter::existing_shard`]; any other shards are removed.
    pub fn resumable(
        dir: impl Into<PathBuf>,
        layout: ShardLayout,
        total_examples: u64,
        plan: &serde_json::Value,
    ) -> Result<Self> {
        let dir = dir.into();
        layout.validate().map_err(Error::Layout)?;
        let manifest = dir.join(MANIFEST_FILE);
        if manifest.exists() {
            fs::remove_file(&manifest).map_err(|e| Error::io(&manifest, e))?;
        }
        let shards = dir.join(SHARD_DIR);
        fs::create_dir_all(&shards).map_err(|e| Error::io(&shards, e))?;
        let partial = dir.join(PARTIAL_FILE);
        let described = serde_json::json!({
            "plan": plan,
            "layout": layout,
            "total_examples": total_examples,
        });
        let same_plan = !plan.is_null()
            && fs::read(&partial)
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .is_some_and(|v| v == described);
        for entry in fs::read_dir(&shards).map_err(|e| Error::io(&shards, e))? {
            let path = entry.map_err(|e| Error::io(&shards, e))?.path();
            // A killed run's temporary files are never kept; other shards only for the same plan.
            if !same_plan || path.extension().is_some_and(|e| e == "tmp") {
                fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            }
        }
        if !same_plan {
            let text = serde_json::to_string_pretty(&described).expect("JSON serialises");
            crate::write_atomic(&partial, text.as_bytes())?;
        }
        Ok(BuildWriter {
            dir,
            layout,
            total_examples,
        })
    }

    /// The entry of shard `index` if an interrupted run of the same plan left it whole:
    /// it reads back completely (checksums included) and holds exactly its range. A shard
    /// that does not is removed, to be written again.
    pub fn existing_shard(&self, index: usize) -> Option<ShardEntry> {
        let range = self.shard_ranges()[index].clone();
        let path = self.dir.join(shard_file_name(index));
        if !path.is_file() {
            return None;
        }
        let stats = ShardReader::open(&path).and_then(|reader| {
            let header = reader.header();
            if header.first_example != range.start || reader.len() != range.end - range.start {
                return Err(Error::NotAShard {
                    path: path.clone(),
                    reason: "another range".into(),
                });
            }
            reader.finish()
        });
        match stats {
            Ok(stats) => Some(ShardEntry::new(index, range.start, &stats)),
            Err(_) => {
                let _ = fs::remove_file(&path);
                None
            }
        }
    }

    /// The global example range of every shard, in order.
    pub fn shard_ranges(&self) -> Vec<Range<u64>> {
        let per = self.layout.examples_per_shard;
        (0..self.total_examples.div_ceil(per))
            .map(|i| i * per..((i + 1) * per).min(self.total_examples))
            .collect()
    }

    /// Writes shard `index` from exactly the examples of its range, in order; its blocks
    /// are encoded and compressed in parallel (the bytes do not depend on it).
    pub fn write_shard(&self, index: usize, examples: &[Example]) -> Result<ShardEntry> {
        let range = self.shard_ranges()[index].clone();
        let path = self.dir.join(shard_file_name(index));
        let mut writer =
            ShardWriter::create(path, range.start, range.end - range.start, &self.layout)?;
        writer.push_parallel(examples)?;
        let stats = writer.finish()?;
        Ok(ShardEntry::new(index, range.start, &stats))
    }

    /// Writes the manifest (the commit point of the build) and returns it.
    pub fn commit(&self, info: BuildInfo, shards: Vec<ShardEntry>) -> Result<Manifest> {
        let manifest = Manifest::new(
            info.recipe,
            info.seed,
            info.inputs,
            info.vocab,
            self.layout,
            info.stages,
            shards,
        );
        manifest.save(&self.dir)?;
        let partial = self.dir.join(PARTIAL_FILE);
        if partial.exists() {
            fs::remove_file(&partial).map_err(|e| Error::io(&partial, e))?;
        }
        Ok(manifest)
    }
}

/// Writes a whole build from examples held in memory, shards in parallel.
pub fn write_build(
    dir: impl Into<PathBuf>,
    layout: ShardLayout,
    info: BuildInfo,
    examples: &[Example],
) -> Result<Manifest> {
    let writer = BuildWriter::new(dir, layout, examples.len() as u64)?;
    let shards = writer
        .shard_ranges()
        .into_par_iter()
        .enumerate()
        .map(|(i, range)| {
            writer.write_shard(i, &examples[range.start as usize..range.end as usize])
        })
        .collect::<Result<Vec<_>>>()?;
    writer.commit(info, shards)
}

/// A committed build, opened for reading.
pub struct Build {
    dir: PathBuf,
    manifest: Manifest,
}

impl Build {
    /// Opens the build in `dir` by reading its manifest.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Build> {
        let dir = dir.into();
        let manifest = Manifest::load(&dir.join(MANIFEST_FILE))?;
        Ok(Build { dir, manifest })
    }

    /// The build directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The build's manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Number of examples.
    pub fn len(&self) -> u64 {
        self.manifest.len()
    }

    /// Whether the build holds no example.
    pub fn is_empty(&self) -> bool {
        self.manifest.is_empty()
    }

    /// Path of shard `index`.
    pub fn shard_path(&self, index: usize) -> PathBuf {
        self.dir.join(&self.manifest.shards[index].file)
    }

    /// A stream of the examples from global index `start` on, opening shards as it goes.
    pub fn stream_from(&self, start: u64) -> Result<ExampleStream<'_>> {
        if start > self.len() {
            return Err(Error::OutOfRange {
                index: start,
                len: self.len(),
            });
        }
        let mut stream = ExampleStream {
            build: self,
            shard: self
                .manifest
                .shard_of(start)
                .unwrap_or(self.manifest.shards.len()),
            reader: None,
            next: start,
        };
        if stream.shard < self.manifest.shards.len() {
            let entry = &self.manifest.shards[stream.shard];
            let mut reader = stream.open_shard()?;
            reader.seek(start - entry.first_example)?;
            stream.reader = Some(reader);
        }
        Ok(stream)
    }

    /// Examples `range` of the training order, in order, each shard block decoded once.
    pub fn read_range(&self, range: Range<u64>) -> Result<Vec<Example>> {
        if range.end > self.len() {
            return Err(Error::OutOfRange {
                index: range.end - 1,
                len: self.len(),
            });
        }
        let mut stream = self.stream_from(range.start)?;
        let mut examples = Vec::with_capacity(range.end.saturating_sub(range.start) as usize);
        for index in range {
            let mut example = Example::default();
            if stream.read_next(&mut example)?.is_none() {
                return Err(Error::ManifestInconsistent {
                    path: self.dir.join(MANIFEST_FILE),
                    reason: format!(
                        "it counts {} examples, but the shards end at {index}",
                        self.len()
                    ),
                });
            }
            examples.push(example);
        }
        Ok(examples)
    }

    /// The examples of optimizer step `batch` (made for this build's length), in the order
    /// the step consumes them: the one reader of a step's examples, for the trainer and the
    /// Python package alike.
    pub fn read_step(&self, batch: &StepBatch) -> Result<Vec<Example>> {
        let mut examples =
            Vec::with_capacity(batch.positions.end.saturating_sub(batch.positions.start) as usize);
        for run in batch.runs() {
            examples.extend(self.read_range(run)?);
        }
        Ok(examples)
    }

    /// Example `index`, decoding only the block that holds it.
    pub fn example(&self, index: u64) -> Result<Example> {
        let mut example = Example::default();
        match self.stream_from(index)?.read_next(&mut example)? {
            Some(_) => Ok(example),
            None => Err(Error::OutOfRange {
                index,
                len: self.len(),
            }),
        }
    }
}

/// Examples of a build in global order, across shard boundaries.
pub struct ExampleStream<'a> {
    build: &'a Build,
    shard: usize,
    reader: Option<ShardReader>,
    next: u64,
}

impl ExampleStream<'_> {
    /// Positions the stream so that the next read returns global example `index`, at or
    /// after the current position: within the open shard it reads forward (a block already
    /// decoded is not decoded again), otherwise it opens the shard holding `index`.
    pub fn seek(&mut self, index: u64) -> Result<()> {
        if index == self.next {
            return Ok(());
        }
        let manifest = &self.build.manifest;
        let shard = manifest.shard_of(index).ok_or(Error::OutOfRange {
            index,
            len: manifest.len(),
        })?;
        if shard != self.shard || self.reader.is_none() || index < self.next {
            self.shard = shard;
            self.reader = Some(self.open_shard()?);
        }
        let first = manifest.shards[shard].first_example;
        let reader = self.reader.as_mut().expect("opened above");
        reader.seek(index - first)?;
        self.next = index;
        Ok(())
    }

    /// Reads the next example into `example`; returns its global index, `None` at the end.
    pub fn read_next(&mut self, example: &mut Example) -> Result<Option<u64>> {
        loop {
            if let Some(reader) = self.reader.as_mut() {
                if reader.read_next(example)? {
                    self.next += 1;
                    return Ok(Some(self.next - 1));
                }
                self.reader = None;
                self.shard += 1;
            }
            if self.shard >= self.build.manifest.shards.len() {
                return Ok(None);
            }
            self.reader = Some(self.open_shard()?);
        }
    }

    fn open_shard(&self) -> Result<ShardReader> {
        let entry = &self.build.manifest.shards[self.shard];
        let path = self.build.shard_path(self.shard);
        let reader = ShardReader::open(&path)?;
        let header = reader.header();
        if header.first_example != entry.first_example
            || header.example_count != entry.stats.examples
        {
            return Err(Error::ManifestInconsistent {
                path: self.build.dir.join(MANIFEST_FILE),
                reason: format!(
                    "it lists '{}' as examples {}..{} but the shard holds {}..{}",
                    entry.file,
                    entry.first_example,
                    entry.first_example + entry.stats.examples,
                    header.first_example,
                    header.first_example + header.example_count
                ),
            });
        }
        Ok(reader)
    }
}
