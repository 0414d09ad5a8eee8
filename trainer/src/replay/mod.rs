//! Replay: which build, and which micro-batch size, made a checkpoint?
//!
//! The reference trained deterministically (dropout off, no shuffling at training time,
//! AdamW from a fresh state), so `K` steps replayed from the same initial weights on the
//! same examples reproduce a checkpoint's weights up to float noise, and any other
//! examples move them elsewhere. [`ReplayPlan`] resolves the initial checkpoint, the
//! target checkpoint and the candidate builds, refusing what cannot be compared;
//! [`ReplayPlan::run`] trains each candidate exactly as `trainer run` would (no checkpoint
//! written) at each micro-batch size asked for and compares the replayed update with the
//! target's ([`compare`]); [`render`] prints the report. docs/REPLAY.md has the method and
//! the calibration of the verdicts.

pub mod compare;
pub mod render;

use std::path::{Path, PathBuf};

use burn::tensor::backend::AutodiffBackend;
use earlyberts_format::{Build, Vocab};
use serde::Serialize;

pub use compare::{Comparison, Thresholds, UpdateStats, Verdict, compare_updates};

use crate::{
    Error, Result,
    checkpoint::{read_hf_config, read_weights, to_hf},
    data::StepFeed,
    model::{
        BertConfig,
        params::{HfTensors, hf_names, normalised},
    },
    run::{Start, TrainOptions, build_vocabulary, config_named, open_build, verify},
    train::{StepLog, TrainConfig, Trainer, frozen},
};

/// What to replay. Training settings default to the reference's, as in `trainer run`.
#[derive(Clone, Debug)]
pub struct ReplayOptions {
    /// The checkpoint training started from (Hugging Face directory, with the heads).
    pub init: PathBuf,
    /// The checkpoint to explain (Hugging Face directory, with or without the heads).
    pub target: PathBuf,
    /// Optimizer steps from `init` to `target`.
    pub steps: u64,
    /// The candidate builds, as given.
    pub builds: Vec<PathBuf>,
    /// `base`, `tiny` or a `config.json`; default the init's `config.json`.
    pub config: Option<String>,
    /// The training settings; its `micro_batch` is ignored (see `micro_batches`). The batch
    /// size defaults to the one the candidates were made for, which must be one.
    pub train: TrainOptions,
    /// The micro-batch sizes to try.
    pub micro_batches: MicroBatches,
    /// Replay every candidate at the first size only, then the matching ones at the others
    /// (the data decides at any size; the size needs only the right data).
    pub after_match: bool,
    /// The `vocab.txt` the candidates' ids refer to, when it is neither the initial
    /// checkpoint's nor the built-in uncased BERT one.
    pub vocab: Option<PathBuf>,
    pub thresholds: Thresholds,
}

/// Which micro-batch sizes a replay tries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum MicroBatches {
    /// `trainer run`'s default.
    #[default]
    Default,
    /// These sizes, in this order.
    Sizes(Vec<u64>),
    /// Every divisor of the batch size, largest first.
    All,
}

/// A replay, resolved: every input read and checked before any training.
pub struct ReplayPlan {
    pub model: BertConfig,
    /// One training setting per micro-batch size tried.
    pub settings: Vec<TrainConfig>,
    pub steps: u64,
    pub candidates: Vec<PathBuf>,
    /// Two rounds: the other micro-batch sizes only for candidates that match at the first.
    pub after_match: bool,
    /// The vocabulary each candidate's ids refer to (`--vocab`, the init's `vocab.txt` or
    /// the built-in uncased BERT one, whichever has its sha256): its pad id pads.
    vocabs: Vec<Vocab>,
    pub thresholds: Thresholds,
    /// The initial and target tensors under the model's names.
    init: HfTensors,
    target: HfTensors,
    /// The parameters both checkpoints have, in module order.
    compared: Vec<String>,
    /// The model's parameters the target lacks (a `BertModel` checkpoint has no heads).
    left_out: Vec<String>,
}

/// One candidate build at one micro-batch size, replayed and compared.
#[derive(Clone, Debug, Serialize)]
pub struct Replay {
    /// The build's path as given.
    pub build: PathBuf,
    pub micro_batch: u64,
    pub verdict: Verdict,
    /// Serialised inline: the overall statistics and `per_tensor` at the replay's level.
    #[serde(flatten)]
    pub comparison: Comparison,
    /// The loss of each replayed step.
    pub losses: Vec<f64>,
}

/// Every replay of a plan, with what they were judged by.
#[derive(Clone, Debug, Serialize)]
pub struct ReplayReport {
    pub thresholds: Thresholds,
    pub steps: u64,
    pub batch_size: u64,
    /// The parameters compared, and those the target lacks.
    pub compared: Vec<String>,
    pub left_out: Vec<String>,
    /// In the plan's order: builds as given, each at every micro-batch size (in two rounds:
    /// every build at the first size, then the matching ones at the others).
    pub replays: Vec<Replay>,
}

impl ReplayReport {
    /// The replays, closest to the target first.
    pub fn ranked(&self) -> Vec<&Replay> {
        let mut ranked: Vec<&Replay> = self.replays.iter().collect();
        ranked.sort_by(|a, b| {
            let key = |r: &Replay| r.comparison.overall.relative_error;
            key(a).total_cmp(&key(b))
        });
        ranked
    }

    /// The builds with a replay that is `exact` or a `match`, each once, in the plan's
    /// order.
    pub fn matching_builds(&self) -> Vec<&Path> {
        let mut builds: Vec<&Path> = Vec::new();
        for replay in &self.replays {
            let path = replay.build.as_path();
            if replay.verdict != Verdict::NoMatch && !builds.contains(&path) {
                builds.push(path);
            }
        }
        builds
    }
}

/// Where a replay reports its progress.
pub trait ReplaySink {
    /// Before the first step of a candidate at a micro-batch size.
    fn started(&mut self, build: &Path, micro_batch: u64);
    /// After each replayed step.
    fn step(&mut self, log: &StepLog);
    /// After a candidate was replayed and compared.
    fn finished(&mut self, replay: &Replay);
}

impl ReplayPlan {
    /// Reads and checks the two checkpoints and the candidate builds.
    pub fn new(options: ReplayOptions) -> Result<ReplayPlan> {
        for dir in [&options.init, &options.target] {
            if !dir.is_dir() {
                return Err(Error::NoDirectory { path: dir.clone() });
            }
        }
        let model = match &options.config {
            Some(name) => config_named(name)?,
            None => read_hf_config(&options.init)?.unwrap_or_else(BertConfig::base),
        };
        model.check()?;
        if let Some(target) = read_hf_config(&options.target)? {
            same_architecture(&model, &target, &options.target)?;
        }
        let names = hf_names(model.num_hidden_layers);
        let init = checkpoint_tensors(&options.init, &names, true)?;
        let target = checkpoint_tensors(&options.target, &names, false)?;
        let (compared, left_out): (Vec<String>, Vec<String>) =
            names.into_iter().partition(|n| target.contains_key(n));
        for name in &compared {
            let (found, expected) = (&target[name].0, &init[name].0);
            if found != expected {
                return Err(Error::InFile {
                    path: options.target.clone(),
                    source: Box::new(Error::TensorShape {
                        name: name.clone(),
                        found: found.clone(),
                        expected: expected.clone(),
                    }),
                });
            }
        }
        if compared.is_empty() {
            return Err(Error::NothingToCompare {
                path: options.target.clone(),
            });
        }
        // The settings are checked against the candidates' manifests before their shards
        // are hashed.
        let builds = options
            .builds
            .iter()
            .map(|dir| open_build(dir))
            .collect::<Result<Vec<Build>>>()?;
        let settings = micro_batch_settings(&options, &builds)?;
        let needed = options.steps * settings[0].batch_size;
        let start = Start::Checkpoint(options.init.clone());
        let mut vocabs = Vec::with_capacity(builds.len());
        for build in &builds {
            check_candidate(build, needed, &model)?;
            let given = options.vocab.as_deref();
            vocabs.push(build_vocabulary(build.dir(), build, given, &start)?);
        }
        for build in &builds {
            verify(build.dir())?;
        }
        Ok(ReplayPlan {
            model,
            settings,
            steps: options.steps,
            candidates: options.builds,
            after_match: options.after_match,
            vocabs,
            thresholds: options.thresholds,
            init,
            target,
            compared,
            left_out,
        })
    }

    /// Replays every candidate at every micro-batch size on `device`; with `after_match`,
    /// every candidate at the first size, then those that match at the others.
    pub fn run<B: AutodiffBackend>(
        &self,
        device: B::Device,
        sink: &mut impl ReplaySink,
    ) -> Result<ReplayReport> {
        let (first, others) = self.settings.split_first().expect("one setting at least");
        let mut replays = Vec::new();
        let first_round = match self.after_match {
            true => std::slice::from_ref(first),
            false => &self.settings[..],
        };
        for (build, vocab) in self.candidates.iter().zip(&self.vocabs) {
            for train in first_round {
                replays.push(self.replay_reported::<B>(build, vocab, train, &device, sink)?);
            }
        }
        if self.after_match {
            let matched: Vec<usize> = (0..self.candidates.len())
                .filter(|&i| replays[i].verdict != Verdict::NoMatch)
                .collect();
            for i in matched {
                for train in others {
                    let (build, vocab) = (&self.candidates[i], &self.vocabs[i]);
                    replays.push(self.replay_reported::<B>(build, vocab, train, &device, sink)?);
                }
            }
        }
        Ok(ReplayReport {
            thresholds: self.thresholds,
            steps: self.steps,
            batch_size: self.settings[0].batch_size,
            compared: self.compared.clone(),
            left_out: self.left_out.clone(),
            replays,
        })
    }

    /// [`ReplayPlan::replay`], told to `sink`.
    fn replay_reported<B: AutodiffBackend>(
        &self,
        build: &Path,
        vocab: &Vocab,
        train: &TrainConfig,
        device: &B::Device,
        sink: &mut impl ReplaySink,
    ) -> Result<Replay> {
        sink.started(build, train.micro_batch);
        let replay = self.replay::<B>(build, vocab, train, device, sink)?;
        sink.finished(&replay);
        Ok(replay)
    }

    /// `steps` optimizer steps on `build` from the initial weights with a fresh optimizer,
    /// then the comparison with the target.
    fn replay<B: AutodiffBackend>(
        &self,
        build: &Path,
        vocab: &Vocab,
        train: &TrainConfig,
        device: &B::Device,
        sink: &mut impl ReplaySink,
    ) -> Result<Replay> {
        let model = self.model.from_hf_tensors::<B>(self.init.clone(), device)?;
        let mut trainer = Trainer::new(model, train.clone(), device)?;
        let feed = StepFeed::new(Build::open(build)?, train.batch_size, vocab);
        let mut losses = Vec::with_capacity(self.steps as usize);
        for _ in 0..self.steps {
            let log = trainer.step(&feed)?;
            sink.step(&log);
            losses.push(log.loss);
        }
        let replayed = to_hf(&frozen(trainer.model()));
        let comparison = compare_updates(&self.init, &replayed, &self.target, &self.compared);
        Ok(Replay {
            build: build.to_path_buf(),
            micro_batch: train.micro_batch,
            verdict: self.thresholds.verdict(comparison.overall.relative_error),
            comparison,
            losses,
        })
    }
}

/// One training setting per micro-batch size (`trainer run`'s default when none is given),
/// at the batch size every candidate was made for (or the one given with the override).
fn micro_batch_settings(options: &ReplayOptions, builds: &[Build]) -> Result<Vec<TrainConfig>> {
    let batches = builds
        .iter()
        .map(|build| options.train.batch_size_on(build))
        .collect::<Result<Vec<u64>>>()?;
    if let Some(other) = batches.iter().position(|&b| b != batches[0]) {
        return Err(Error::CandidatesDisagree {
            first: builds[0].dir().to_path_buf(),
            first_batch: batches[0],
            other: builds[other].dir().to_path_buf(),
            other_batch: batches[other],
        });
    }
    let batch = batches[0];
    let sizes: Vec<Option<u64>> = match &options.micro_batches {
        MicroBatches::Default => vec![None],
        MicroBatches::Sizes(sizes) => sizes.iter().copied().map(Some).collect(),
        MicroBatches::All => (1..=batch)
            .rev()
            .filter(|d| batch.is_multiple_of(*d))
            .map(Some)
            .collect(),
    };
    let mut settings: Vec<TrainConfig> = Vec::new();
    for size in sizes {
        let train = TrainOptions {
            micro_batch: size,
            ..options.train.clone()
        };
        let config = train.config(0, &builds[0])?;
        if !settings.iter().any(|s| s.micro_batch == config.micro_batch) {
            settings.push(config);
        }
    }
    Ok(settings)
}

/// A candidate must hold the examples of every replayed step (a replay does not wrap
/// around a short build: it would be another training order) and use the model's
/// vocabulary.
fn check_candidate(build: &Build, needed: u64, model: &BertConfig) -> Result<()> {
    let dir = build.dir();
    if build.len() < needed {
        return Err(Error::ShortBuild {
            path: dir.to_path_buf(),
            examples: build.len(),
            needed,
        });
    }
    let vocab = build.manifest().vocab.size;
    if vocab as usize != model.vocab_size {
        return Err(Error::InFile {
            path: dir.to_path_buf(),
            source: Box::new(Error::VocabSize {
                build: vocab,
                model: model.vocab_size,
            }),
        });
    }
    Ok(())
}

/// A checkpoint's tensors among `names`, under those names; every one of them if
/// `complete` (training starts from it). Non-finite values are refused: an update cannot
/// be measured from them.
fn checkpoint_tensors(dir: &Path, names: &[String], complete: bool) -> Result<HfTensors> {
    let (path, raw) = read_weights(dir)?;
    let mut all = normalised(raw);
    let mut tensors = HfTensors::new();
    for name in names {
        match all.remove(name) {
            Some(tensor) => {
                if tensor.1.iter().any(|v| !v.is_finite()) {
                    let reason = "holds NaN or infinite values".to_string();
                    return Err(Error::Tensor {
                        path,
                        name: name.clone(),
                        reason,
                    });
                }
                tensors.insert(name.clone(), tensor);
            }
            None if complete => {
                return Err(Error::InFile {
                    path,
                    source: Box::new(Error::MissingTensor { name: name.clone() }),
                });
            }
            None => {}
        }
    }
    Ok(tensors)
}

/// Refuses a target whose `config.json` describes another architecture than the model's.
fn same_architecture(model: &BertConfig, target: &BertConfig, path: &Path) -> Result<()> {
    let sizes = |c: &BertConfig| {
        [
            ("vocab_size", c.vocab_size),
            ("hidden_size", c.hidden_size),
            ("num_hidden_layers", c.num_hidden_layers),
            ("num_attention_heads", c.num_attention_heads),
            ("intermediate_size", c.intermediate_size),
            ("max_position_embeddings", c.max_position_embeddings),
            ("type_vocab_size", c.type_vocab_size),
        ]
    };
    for ((key, ours), (_, theirs)) in sizes(model).into_iter().zip(sizes(target)) {
        if ours != theirs {
            return Err(Error::OtherArchitecture {
                path: path.to_path_buf(),
                key,
                target: theirs,
                init: ours,
            });
        }
    }
    Ok(())
}
