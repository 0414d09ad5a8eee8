//! A training run: [`RunPlan`] resolves what `trainer run` will do — the build, the initial
//! model or the checkpoint to resume, the configuration, the checkpoint schedule and the
//! run directory — before any training; [`RunPlan::run`] then trains step by step, writing
//! the step log and the checkpoints, and reports each step to a [`StepSink`] (the binary's
//! progress bar and stdout, or a test).
//!
//! ```text
//! RUN_DIR/                  OUT/seedN
//! ├── log.jsonl             one JSON line per step (train::StepLog)
//! ├── step10/               a Hugging Face checkpoint + trainer_state.json, optimizer.bin
//! └── …
//! ```

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use burn::tensor::backend::AutodiffBackend;
use earlyberts_format::{
    BERT_BASE_UNCASED_SHA256, Build, DirLock, Invalid, Vocab, training::checkpoint_steps,
    verify::verify_build,
};

use crate::{
    Error, Result,
    checkpoint::{VOCAB_FILE, load_checkpoint, read_hf_config, resume_training, save_training},
    data::StepFeed,
    model::BertConfig,
    plot::LOG_FILE,
    publish::checkpoints,
    setting::Setting,
    state::{BuildRef, STATE_FILE, TrainingState, read_state},
    train::{StepLog, TrainConfig, Trainer},
};

/// What the caller asks for; `None` takes the default (or, resuming, the saved value).
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub seed: Option<u64>,
    /// Where `make data` put its output (`data`).
    pub data: PathBuf,
    pub build: Option<PathBuf>,
    /// The `vocab.txt` the build's ids refer to. Default: the starting checkpoint's
    /// `vocab.txt` or the built-in uncased BERT one, whichever has the sha256 the build
    /// records.
    pub vocab: Option<PathBuf>,
    /// A checkpoint directory, or `random`.
    pub init: Option<String>,
    /// `base`, `tiny` or a `config.json`.
    pub config: Option<String>,
    /// A checkpoint directory, or a run directory (its latest checkpoint).
    pub resume: Option<PathBuf>,
    /// Changes to the reference's training settings.
    pub train: TrainOptions,
    pub dropout: Option<f64>,
    pub max_steps: u64,
    /// Empty: the EarlyBERTs schedule ([`checkpoint_steps`]).
    pub checkpoints: Vec<u64>,
    /// Run directories go here (`OUT/seedN`).
    pub out: Option<PathBuf>,
}

/// Training settings a caller may change from the reference's; `None` keeps the
/// reference's (or, resuming, the saved value).
#[derive(Clone, Debug, Default)]
pub struct TrainOptions {
    /// Examples per step; default: the build's (its recipe's `training.batch_size`).
    pub batch_size: Option<u64>,
    /// Train at `batch_size` although the build was made for another.
    pub override_batch_size: bool,
    /// Default 8: the reference's accumulation of 256 in one pass does not fit a CPU.
    pub micro_batch: Option<u64>,
    /// Pad micro-batches to a multiple of this many positions (default 1: the longest).
    pub pad_multiple: Option<u64>,
    pub lr: Option<f64>,
    pub warmup: Option<u64>,
}

impl TrainOptions {
    /// The reference's training settings with these changes, for a new run on `build`
    /// whose dropout stream is keyed by `seed`: at the batch size the build was made for,
    /// unless another is given with `override_batch_size`.
    pub fn config(&self, seed: u64, build: &Build) -> Result<TrainConfig> {
        let mut train = TrainConfig {
            batch_size: self.batch_size_on(build)?,
            pad_multiple: self.pad_multiple.unwrap_or(1),
            seed,
            ..TrainConfig::reference(self.micro_batch.unwrap_or(8))
        };
        if let Some(rate) = self.lr {
            if !(rate.is_finite() && rate > 0.0) {
                return Err(unusable(Setting::Lr, rate, "is not a positive rate".into()));
            }
            train.schedule.peak = rate;
        }
        if let Some(steps) = self.warmup {
            if steps >= train.schedule.total {
                let reason = format!("is not below the schedule's {} steps", train.schedule.total);
                return Err(unusable(Setting::Warmup, steps, reason));
            }
            train.schedule.warmup = steps;
        }
        train.check()?;
        Ok(train)
    }

    /// The batch size to train `build` at: the one it was made for (its recipe's
    /// `training.batch_size`), or the one given if it is that one or `override_batch_size`.
    pub fn batch_size_on(&self, build: &Build) -> Result<u64> {
        let made_for = build.manifest().batch_size();
        match self.batch_size {
            Some(given) if given != made_for && !self.override_batch_size => {
                Err(Error::BatchSizeDiffers {
                    path: build.dir().to_path_buf(),
                    given,
                    build: made_for,
                })
            }
            given => Ok(given.unwrap_or(made_for)),
        }
    }
}

/// Where the model comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Start {
    /// BERT's initialisation from this seed.
    Random(u64),
    /// A Hugging Face checkpoint directory.
    Checkpoint(PathBuf),
    /// A checkpoint of an earlier run, with its optimizer state and position.
    Resume(PathBuf),
}

/// A run, resolved.
pub struct RunPlan {
    pub model: BertConfig,
    pub train: TrainConfig,
    pub build: Build,
    /// The build's vocabulary (its sha256 is the one the build records): each checkpoint's
    /// `vocab.txt`.
    pub vocab: Vocab,
    pub start: Start,
    pub run_dir: PathBuf,
    pub max_steps: u64,
    pub checkpoints: Vec<u64>,
}

/// Where each step of a run is reported.
pub trait StepSink {
    /// After each step, with its log line as written to `log.jsonl`.
    fn step(&mut self, log: &StepLog, line: &str) -> std::io::Result<()>;
    /// After a checkpoint was written.
    fn checkpoint(&mut self, dir: &Path);
    /// Whether to save and stop after the current step (e.g. on a signal).
    fn stop_requested(&self) -> bool {
        false
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub enum RunOutcome {
    /// The run was already at `position` ≥ the last step: nothing to do.
    AlreadyDone { position: u64 },
    /// Trained up to the last step.
    Finished { step: u64 },
    /// Stopped on request after `step`, saved in `checkpoint`.
    Stopped { step: u64, checkpoint: PathBuf },
}

impl RunPlan {
    /// Resolves `options`: everything is checked against the build's manifest, then the
    /// build's shards against it, before any training.
    pub fn new(options: RunOptions) -> Result<RunPlan> {
        let resumed = match &options.resume {
            Some(given) => {
                let dir = resume_dir(given)?;
                Some((read_state(&dir)?, dir))
            }
            None => None,
        };
        let seed = match (&resumed, options.seed) {
            (Some((state, _)), _) => state.train.seed,
            (None, Some(seed)) => seed,
            (None, None) => return Err(Error::NoSeed),
        };
        // A new run's start is checked first: it says what to fetch.
        let fresh = match resumed {
            None => Some(resolve_start(&options, seed)?),
            Some(_) => None,
        };
        let build_dir = options.build.clone().unwrap_or_else(|| {
            let name = format!("wikibooks-earlyberts-seed{seed}");
            options.data.join("builds").join(name)
        });
        // The settings are checked against the manifest before the shards are hashed.
        let build = open_build(&build_dir)?;
        let (mut model, train, start, recorded) = match (resumed, fresh) {
            (Some((state, dir)), _) => resumed_settings(&options, state, dir)?,
            (None, Some((start, model))) => {
                (model, options.train.config(seed, &build)?, start, None)
            }
            (None, None) => unreachable!("a new run resolved its start above"),
        };
        if let Some(recorded) = recorded {
            check_same_build(&build_dir, &build, &recorded)?;
        }
        if let Some(p) = options.dropout {
            model.dropout = p;
        }
        model.check()?;
        train.check()?;
        let build_vocab = build.manifest().vocab.size;
        if build_vocab as usize != model.vocab_size {
            return Err(Error::VocabSize {
                build: build_vocab,
                model: model.vocab_size,
            });
        }
        let vocab = build_vocabulary(&build_dir, &build, options.vocab.as_deref(), &start)?;
        verify(&build_dir)?;
        Ok(RunPlan {
            model,
            train,
            build,
            vocab,
            run_dir: run_dir(&options, &start, seed),
            start,
            max_steps: options.max_steps,
            checkpoints: match options.checkpoints.is_empty() {
                true => checkpoint_steps(),
                false => options.checkpoints,
            },
        })
    }

    /// Trains from the plan's start to `max_steps` on `device`, writing the step log and
    /// the checkpoints of the schedule (and of the last step), reporting to `sink`.
    pub fn run<B: AutodiffBackend>(
        self,
        device: B::Device,
        sink: &mut impl StepSink,
    ) -> Result<RunOutcome> {
        let mut trainer = self.trainer::<B>(&device)?;
        if trainer.position() >= self.max_steps {
            return Ok(RunOutcome::AlreadyDone {
                position: trainer.position(),
            });
        }
        let _lock = DirLock::acquire(&self.run_dir, "trainer run")?;
        let mut log = StepLogFile::open(&self.run_dir.join(LOG_FILE), trainer.position())?;
        let build_ref = BuildRef::of(self.build.manifest());
        let vocab = self.vocab;
        let feed = StepFeed::new(self.build, self.train.batch_size, &vocab);
        while trainer.position() < self.max_steps {
            let entry = trainer.step(&feed)?;
            let line = serde_json::to_string(&entry).expect("a step log serialises");
            log.append(&line)?;
            sink.step(&entry, &line)
                .map_err(|e| Error::io("report a step to", "the step sink", e))?;
            let stop = sink.stop_requested();
            let last = entry.step == self.max_steps;
            if stop || last || self.checkpoints.contains(&entry.step) {
                let dir = self.run_dir.join(format!("step{}", entry.step));
                save_training(&dir, &trainer, &self.model, &vocab, build_ref.clone())?;
                sink.checkpoint(&dir);
                if stop {
                    let step = entry.step;
                    return Ok(RunOutcome::Stopped {
                        step,
                        checkpoint: dir,
                    });
                }
            }
        }
        Ok(RunOutcome::Finished {
            step: trainer.position(),
        })
    }

    /// The trainer at the plan's start.
    fn trainer<B: AutodiffBackend>(&self, device: &B::Device) -> Result<Trainer<B>> {
        let model = match &self.start {
            Start::Random(seed) => self.model.init::<B>(*seed, device),
            Start::Checkpoint(dir) => load_checkpoint::<B>(dir, &self.model, device)?,
            Start::Resume(dir) => return Ok(resume_training::<B>(dir, device)?.0),
        };
        Trainer::new(model, self.train.clone(), device)
    }
}

/// The architecture named `base`, `tiny`, or a Hugging Face `config.json`.
pub fn config_named(name: &str) -> Result<BertConfig> {
    match name {
        "base" => Ok(BertConfig::base()),
        "tiny" => Ok(BertConfig::tiny()),
        file if Path::new(file).is_file() => BertConfig::from_hf_file(Path::new(file)),
        other => Err(Error::UnknownConfig { name: other.into() }),
    }
}

/// Opens a build by its manifest alone: what it was made for, before its shards are
/// hashed ([`verify`]).
pub fn open_build(dir: &Path) -> Result<Build> {
    if !dir.join(earlyberts_format::MANIFEST_FILE).is_file() {
        return Err(Error::NotABuild {
            path: dir.to_path_buf(),
        });
    }
    Ok(Build::open(dir)?)
}

/// Checks every shard of the build in `dir` against its manifest.
pub fn verify(dir: &Path) -> Result<()> {
    let report = verify_build(dir, None, &()).map_err(|e| Error::Checkpoint {
        action: "read",
        path: dir.to_path_buf(),
        source: Box::new(e.into()),
    })?;
    if !report.is_ok() {
        return Err(Error::Unverified {
            path: dir.to_path_buf(),
            problem: report.problems[0].to_string(),
        });
    }
    Ok(())
}

type Settings = (BertConfig, TrainConfig, Start, Option<BuildRef>);

/// A resumed run takes everything from its state; a setting given again must agree.
fn resumed_settings(options: &RunOptions, state: TrainingState, dir: PathBuf) -> Result<Settings> {
    let saved = &state.train;
    let given = &options.train;
    let conflicts = [
        (Setting::BatchSize, given.batch_size, saved.batch_size),
        (Setting::MicroBatch, given.micro_batch, saved.micro_batch),
        (Setting::PadMultiple, given.pad_multiple, saved.pad_multiple),
        (Setting::Warmup, given.warmup, saved.schedule.warmup),
    ];
    for (setting, given, saved) in conflicts {
        if given.is_some_and(|g| g != saved) {
            let saved = saved.to_string();
            return Err(Error::ResumeConflict { setting, saved });
        }
    }
    let reals = [
        (Setting::Lr, given.lr, saved.schedule.peak),
        (Setting::Dropout, options.dropout, state.model.dropout),
    ];
    for (setting, given, saved) in reals {
        if given.is_some_and(|g| g != saved) {
            let saved = saved.to_string();
            return Err(Error::ResumeConflict { setting, saved });
        }
    }
    Ok((
        state.model,
        state.train,
        Start::Resume(dir),
        Some(state.build),
    ))
}

fn unusable(setting: Setting, value: impl ToString, reason: String) -> Error {
    Error::Invalid(Invalid::Unusable {
        field: setting.name().into(),
        value: value.to_string(),
        reason,
    })
}

/// The initial model's source and architecture for a new run.
fn resolve_start(options: &RunOptions, seed: u64) -> Result<(Start, BertConfig)> {
    let start = match options.init.as_deref() {
        Some("random") => Start::Random(seed),
        Some(dir) => Start::Checkpoint(PathBuf::from(dir)),
        None => {
            let dir = options
                .data
                .join("sources/multiberts")
                .join(format!("seed_{seed}-step_0k"));
            if !dir.is_dir() {
                return Err(Error::NoMultiberts { seed, path: dir });
            }
            Start::Checkpoint(dir)
        }
    };
    let config = match options.config.as_deref() {
        Some(name) => config_named(name)?,
        None => match &start {
            Start::Checkpoint(dir) => read_hf_config(dir)?.unwrap_or_else(BertConfig::base),
            _ => BertConfig::base(),
        },
    };
    Ok((start, config))
}

/// The vocabulary `build`'s ids refer to, for the checkpoints' `vocab.txt`: `given`, which
/// must have the sha256 the build records; else the first with that sha256 of the starting
/// checkpoint's `vocab.txt` and the built-in uncased BERT one. Never another vocabulary.
pub fn build_vocabulary(
    dir: &Path,
    build: &Build,
    given: Option<&Path>,
    start: &Start,
) -> Result<Vocab> {
    let expected = &build.manifest().vocab.sha256;
    if let Some(path) = given {
        return Ok(Vocab::expecting(Some(path), expected)?);
    }
    let checkpoint = match start {
        Start::Checkpoint(dir) | Start::Resume(dir) => Some(dir.join(VOCAB_FILE)),
        Start::Random(_) => None,
    };
    // A checkpoint's vocab.txt that is not there or not a vocabulary is no candidate.
    let from_checkpoint = checkpoint
        .filter(|path| path.is_file())
        .and_then(|path| Vocab::from_file(&path).ok())
        .filter(|vocab| vocab.sha256() == expected);
    if let Some(vocab) = from_checkpoint {
        return Ok(vocab);
    }
    if expected == BERT_BASE_UNCASED_SHA256 {
        return Ok(Vocab::bert_base_uncased());
    }
    Err(Error::UnknownVocab {
        path: dir.to_path_buf(),
        sha256: expected.clone(),
    })
}

fn check_same_build(dir: &Path, build: &Build, recorded: &BuildRef) -> Result<()> {
    if BuildRef::of(build.manifest()) != *recorded {
        return Err(Error::OtherBuild {
            path: dir.to_path_buf(),
            found: build.manifest().root_hash,
            recorded: recorded.root_hash,
        });
    }
    Ok(())
}

/// `OUT/seedN`; resuming without `out`, the checkpoint's parent; else `runs/seedN`.
fn run_dir(options: &RunOptions, start: &Start, seed: u64) -> PathBuf {
    match (&options.out, start) {
        (Some(out), _) => out.join(format!("seed{seed}")),
        (None, Start::Resume(dir)) => dir
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
        (None, _) => PathBuf::from("runs").join(format!("seed{seed}")),
    }
}

/// A checkpoint directory as given, or a run directory's latest complete checkpoint.
fn resume_dir(given: &Path) -> Result<PathBuf> {
    if given.join(STATE_FILE).is_file() || !given.is_dir() {
        return Ok(given.to_path_buf());
    }
    let latest = checkpoints(given)?
        .into_iter()
        .rev()
        .find(|(_, dir)| dir.join(STATE_FILE).is_file());
    match latest {
        Some((_, dir)) => Ok(dir),
        None => Err(Error::NothingToResume {
            path: given.to_path_buf(),
        }),
    }
}

/// `RUN/log.jsonl`, one line per step. On resume, lines after the resumed step (written by
/// the interrupted run after its last checkpoint) are dropped, so the log is the run's.
struct StepLogFile {
    path: PathBuf,
    file: fs::File,
}

impl StepLogFile {
    fn open(path: &Path, position: u64) -> Result<StepLogFile> {
        let kept: String = match fs::read_to_string(path) {
            Ok(text) => text
                .lines()
                .filter(|line| {
                    serde_json::from_str::<StepLog>(line).is_ok_and(|e| e.step <= position)
                })
                .map(|l| format!("{l}\n"))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::io("read", path, e)),
        };
        earlyberts_format::write_atomic(path, kept.as_bytes())?;
        let file = fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| Error::io("open", path, e))?;
        Ok(StepLogFile {
            path: path.to_path_buf(),
            file,
        })
    }

    fn append(&mut self, line: &str) -> Result<()> {
        writeln!(self.file, "{line}").map_err(|e| Error::io("append to", &self.path, e))
    }
}
