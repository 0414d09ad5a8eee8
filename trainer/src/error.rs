//! The trainer library's error type: checkpoint, state and log I/O, configurations, runs.
//!
//! Messages are one line and say what to do; none names a command-line flag: the binary
//! knows which flag a value came from and says so (`trainer/src/cmd`).

use std::{io, path::PathBuf};

use earlyberts_format::{Invalid, PayloadHash};

/// Everything the trainer library can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// From the shard format crate (builds, manifests, locks, vocabularies).
    #[error(transparent)]
    Format(#[from] earlyberts_format::Error),
    /// A configuration value out of range.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// A step the build has no batch for.
    #[error(transparent)]
    NoBatch(#[from] earlyberts_format::NoBatch),
    /// An operating-system failure: `cannot {action} '{path}'`.
    #[error("cannot {action} '{}'", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A failure about a file, the file named.
    #[error("'{}'", path.display())]
    InFile {
        path: PathBuf,
        #[source]
        source: Box<Error>,
    },
    /// What could not be done with a checkpoint (`cannot load 'x'`), and why.
    #[error("cannot {action} '{}'", path.display())]
    Checkpoint {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: Box<Error>,
    },
    /// A file that is not JSON.
    #[error("'{}' is not JSON", path.display())]
    NotJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// A `config.json` of an architecture this model does not implement.
    #[error("{key} is {value}; this trainer implements {implemented}")]
    Unimplemented {
        key: &'static str,
        value: String,
        implemented: String,
    },
    /// A tensor the model needs that the checkpoint lacks.
    #[error("the checkpoint has no tensor '{name}'")]
    MissingTensor { name: String },
    /// A tensor of another shape than the model's.
    #[error("tensor '{name}' has shape {found:?}, the model needs {expected:?}")]
    TensorShape {
        name: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
    /// A tensor that cannot be read as f32.
    #[error("'{}': tensor '{name}' {reason}", path.display())]
    Tensor {
        path: PathBuf,
        name: String,
        reason: String,
    },
    /// A weights file that is not one (`is not a valid safetensors file: …`).
    #[error("'{}' {reason}", path.display())]
    Weights { path: PathBuf, reason: String },
    /// A directory without weights.
    #[error("'{}' has neither model.safetensors nor pytorch_model.bin: is it a Hugging Face checkpoint directory?", path.display())]
    NoWeights { path: PathBuf },
    /// A checkpoint directory without a training state.
    #[error("cannot read '{}': it is not a checkpoint written by `trainer run`", path.display())]
    NoState {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A training state that does not parse.
    #[error("'{}' is not a valid training state", path.display())]
    BadState {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// A training state of another format version.
    #[error("'{}' has state format {found}, this trainer reads {supported}", path.display())]
    StateFormat {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    /// A checkpoint file whose hash is not the one its training state records.
    #[error("'{}' has hash {found}, {} records {expected}: the checkpoint is damaged; resume from an earlier one", path.display(), crate::state::STATE_FILE)]
    Damaged {
        path: PathBuf,
        found: PayloadHash,
        expected: PayloadHash,
    },
    /// Optimizer moments that do not fit the model.
    #[error("the optimizer state {reason}")]
    OptimizerState { reason: String },
    /// A build that cannot feed a step.
    #[error("{reason}")]
    Data { reason: String },
    /// Training produced a loss that is not a number.
    #[error("the loss after step {step} is {loss}: training diverged")]
    Diverged { step: u64, loss: f64 },
    /// The accelerator failed.
    #[error("the device failed: {reason}")]
    Device { reason: String },
    /// A step log line that does not parse.
    #[error("'{}' line {line}: not a step log entry", path.display())]
    LogLine {
        path: PathBuf,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    /// Nothing to draw.
    #[error("the step log is empty: nothing to plot")]
    EmptyLog,
    /// The chart could not be drawn.
    #[error("cannot draw '{}': {reason}", path.display())]
    Plot { path: PathBuf, reason: String },
    /// A run directory without checkpoints.
    #[error("'{}' has no checkpoint directories (stepK/model.safetensors); is it a run directory OUT/seedN?", path.display())]
    NoCheckpoints { path: PathBuf },
    /// A checkpoint directory missing one of its files.
    #[error("'{}' is missing: the checkpoint is incomplete", path.display())]
    Incomplete { path: PathBuf },
    /// A publish target that already holds files.
    #[error("'{}' exists and is not empty: publish into a new directory", path.display())]
    NotEmpty { path: PathBuf },
    /// git could not be run, or failed.
    #[error("git {args} failed in '{}': {reason}", repo.display())]
    Git {
        args: String,
        repo: PathBuf,
        reason: String,
    },
    /// A run that names neither a seed nor a run to resume.
    #[error("a seed is required for a new run")]
    NoSeed,
    /// `base`, `tiny` or a file: none of these.
    #[error("'{name}' is not base, tiny or a config.json file")]
    UnknownConfig { name: String },
    /// A directory that is not a build.
    #[error("'{}' is not a build (no manifest.json): run `make data`", path.display())]
    NotABuild { path: PathBuf },
    /// A build whose shards do not match its manifest.
    #[error("'{}' does not verify ({problem}); run `pipeline verify` on it", path.display())]
    Unverified { path: PathBuf, problem: String },
    /// The default initial checkpoint is not there.
    #[error("no MultiBERTs seed-{seed} checkpoint at '{}': run `make data` (it fetches seeds 0–4)", path.display())]
    NoMultiberts { seed: u64, path: PathBuf },
    /// A resumed run given another build than it trained on.
    #[error("'{}' is not the build this run trained on (root hash {found} vs {recorded})", path.display())]
    OtherBuild {
        path: PathBuf,
        found: PayloadHash,
        recorded: PayloadHash,
    },
    /// A batch size other than the one the build was made for, not asked for as such.
    #[error("batch_size {given} differs from the {build} examples a step that '{}' was made for (its recipe's training.batch_size)", path.display())]
    BatchSizeDiffers {
        path: PathBuf,
        given: u64,
        build: u64,
    },
    /// Replay candidates made for different batch sizes, none given.
    #[error("the candidates were made for different batch sizes: '{}' for {first_batch}, '{}' for {other_batch}", first.display(), other.display())]
    CandidatesDisagree {
        first: PathBuf,
        first_batch: u64,
        other: PathBuf,
        other_batch: u64,
    },
    /// A resumed run given a setting that differs from the saved one.
    #[error("{} differs from the resumed run's {saved}", setting.name())]
    ResumeConflict {
        setting: crate::setting::Setting,
        saved: String,
    },
    /// A run directory with nothing to resume from.
    #[error("'{}' has no checkpoint with a training state to resume from", path.display())]
    NothingToResume { path: PathBuf },
    /// A model whose vocabulary is not the build's.
    #[error(
        "the build's vocabulary has {build} entries but the model's has {model}: use a checkpoint or config with vocab_size {build}"
    )]
    VocabSize { build: u32, model: usize },
    /// A build whose vocabulary is none at hand: the checkpoints need its `vocab.txt`.
    #[error(
        "'{}' refers to the vocabulary with sha256 {sha256}, which is neither the built-in bert-base-uncased one nor the starting checkpoint's vocab.txt: give the build's vocab.txt", path.display()
    )]
    UnknownVocab { path: PathBuf, sha256: String },
    /// A directory that is not there.
    #[error("'{}' does not exist or is not a directory", path.display())]
    NoDirectory { path: PathBuf },
    /// A target checkpoint with none of the model's parameters.
    #[error("'{}' has none of the model's parameters: nothing to compare", path.display())]
    NothingToCompare { path: PathBuf },
    /// A build with fewer examples than the steps to replay need.
    #[error("'{}' has {examples} examples, the replayed steps need {needed}: build at least that many (`pipeline build --limit-examples {needed}`)", path.display())]
    ShortBuild {
        path: PathBuf,
        examples: u64,
        needed: u64,
    },
    /// A checkpoint of another architecture than the initial one.
    #[error("'{}' has {key} {target}, the initial checkpoint {init}: not the same architecture", path.display())]
    OtherArchitecture {
        path: PathBuf,
        key: &'static str,
        target: usize,
        init: usize,
    },
    /// A device name that is none of the known ones.
    #[error("'{name}' is not {}", crate::device::DeviceChoice::NAMES)]
    UnknownDevice { name: String },
    /// A GPU backend asked for, but not compiled in.
    #[error(
        "this trainer was built without {backend}; rebuild with `cargo build --release -p earlyberts-trainer --features {feature}`"
    )]
    BackendNotBuilt {
        backend: &'static str,
        feature: &'static str,
    },
    /// The backend is compiled in, but the device does not work.
    #[error("{device}: no usable device ({why}); {hint}")]
    DeviceUnusable {
        device: String,
        why: String,
        hint: &'static str,
    },
}

impl Error {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// The trainer library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
