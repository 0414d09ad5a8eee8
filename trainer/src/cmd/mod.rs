//! One module per subcommand: its arguments (`XArgs`) beside its `run`, and here what they
//! share: turning the library's errors into messages that name the flags.

pub mod bench;
pub mod plot;
pub mod publish;
pub mod replay;
pub mod run;
pub mod suite;

use earlyberts_format::{Invalid, training::REFERENCE_TRAINING};
use earlyberts_trainer::{Error, device::DeviceChoice, run::TrainOptions, setting::Setting};

/// The training settings `run` and `replay` share; each defaults to the reference's.
#[derive(clap::Args)]
pub struct TrainArgs {
    /// Examples per optimizer step [default: the build's, its recipe's training.batch_size;
    /// 256, the reference's, in the published recipes]. Another value is refused unless
    /// --override-batch-size is given too.
    #[arg(long)]
    batch_size: Option<u64>,
    /// Train at --batch-size although the build was made for another: the steps then read
    /// other examples than the recipe's steps (`pipeline inspect --step` at the recipe's).
    #[arg(long, requires = "batch_size")]
    override_batch_size: bool,
    /// Pad each micro-batch to a multiple of this many positions: a GPU compiles and tunes
    /// kernels per shape [default: 64 on a GPU, 1 (the longest sequence) on the CPU].
    #[arg(long, value_name = "N")]
    pad_multiple: Option<u64>,
    #[arg(long, value_name = "RATE", help = format!(
        "Peak learning rate [default: {}, the reference]", REFERENCE_TRAINING.peak_lr
    ))]
    lr: Option<f64>,
    #[arg(long, value_name = "STEPS", help = format!(
        "Warm-up steps of the schedule [default: {}, the reference]",
        REFERENCE_TRAINING.warmup_steps
    ))]
    warmup: Option<u64>,
}

impl TrainArgs {
    /// The library's options, with the micro-batch size the command took.
    pub fn options(&self, micro_batch: Option<u64>) -> TrainOptions {
        TrainOptions {
            batch_size: self.batch_size,
            override_batch_size: self.override_batch_size,
            micro_batch,
            pad_multiple: self.pad_multiple,
            lr: self.lr,
            warmup: self.warmup,
        }
    }
}

/// `--device`, as the commands that train take it.
#[derive(clap::Args)]
pub struct DeviceArg {
    #[arg(long, value_parser = parse_device, help = format!(
        "{} (default: CUDA when compiled in and available, else the CPU; wgpu only when named)",
        DeviceChoice::NAMES
    ))]
    device: Option<DeviceChoice>,
}

fn parse_device(name: &str) -> Result<DeviceChoice, String> {
    name.parse().map_err(|e: Error| e.to_string())
}

impl DeviceArg {
    /// The device named, else CUDA when compiled in and usable, else the CPU; refused when
    /// this binary cannot use it.
    pub fn choice(&self) -> anyhow::Result<DeviceChoice> {
        let choice = self.device.unwrap_or_else(DeviceChoice::default_available);
        choice.check().map_err(flag_context)?;
        Ok(choice)
    }
}

/// `--pad-multiple` as given, else 64 for a new run on a GPU (every new shape costs a
/// kernel compile and an autotune there), else the longest sequence.
pub fn pad_multiple(given: Option<u64>, device: DeviceChoice) -> Option<u64> {
    given.or(device.is_gpu().then_some(64))
}

/// The flag a setting comes from.
fn flag(setting: Setting) -> &'static str {
    match setting {
        Setting::BatchSize => "--batch-size",
        Setting::MicroBatch => "--micro-batch",
        Setting::PadMultiple => "--pad-multiple",
        Setting::Lr => "--lr",
        Setting::Warmup => "--warmup",
        Setting::Dropout => "--dropout",
    }
}

/// A library error, with the flag named where the value came from the command line.
pub fn flag_context(err: Error) -> anyhow::Error {
    let message = match &err {
        Error::Invalid(invalid) => {
            Setting::named(invalid.field())
                .map(flag)
                .map(|flag| match invalid {
                    Invalid::OutOfRange { value, allowed, .. } => {
                        format!("{flag} {value} is not in {allowed}")
                    }
                    Invalid::Unusable { value, reason, .. } => format!("{flag} {value} {reason}"),
                    other => format!("{flag}: {other}"),
                })
        }
        Error::ResumeConflict { setting, saved } => Some(format!(
            "{} differs from the resumed run's {saved}; drop the flag",
            flag(*setting)
        )),
        Error::NoSeed => Some("--seed N is required (or --resume DIR)".into()),
        Error::CandidatesDisagree { .. } => Some(format!(
            "{err}: replay them apart, or all at one with --batch-size N --override-batch-size"
        )),
        Error::BatchSizeDiffers { given, .. } => Some(format!(
            "--batch-size: {err}; drop the flag, or add --override-batch-size to train at {given} anyway"
        )),
        Error::UnknownConfig { name } => Some(format!(
            "--config '{name}' is not base, tiny or a config.json file"
        )),
        Error::NotABuild { .. } => Some(format!("{err}, or pass --build DIR")),
        Error::OtherBuild { .. } => Some(format!("{err}; pass that build with --build")),
        Error::UnknownVocab { .. } => Some(format!("{err} with --vocab FILE")),
        Error::NoMultiberts { .. } => Some(format!("{err}, pass --init DIR, or --init random")),
        Error::BackendNotBuilt { feature, .. } => Some(format!("--device {feature}: {err}")),
        Error::DeviceUnusable { .. } => Some(format!("--device {err}, or use --device cpu")),
        _ => None,
    };
    match message {
        Some(message) => anyhow::anyhow!(message),
        None => err.into(),
    }
}
