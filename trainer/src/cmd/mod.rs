//! One module per subcommand: its arguments (`XArgs`) beside its `run`, and here what they
//! share: turning the library's errors into messages that name the flags.

pub mod bench;
pub mod plot;
pub mod publish;
pub mod replay;
pub mod run;

use earlyberts_format::Invalid;
use earlyberts_trainer::{Error, device::DeviceChoice, run::TrainOptions};

/// The training settings `run` and `replay` share; each defaults to the reference's.
#[derive(clap::Args)]
pub struct TrainArgs {
    /// Examples per optimizer step [default: 256, the reference].
    #[arg(long)]
    batch_size: Option<u64>,
    /// Pad each micro-batch to a multiple of this many positions: a GPU compiles and tunes
    /// kernels per shape [default: 64 on a GPU, 1 (the longest sequence) on the CPU].
    #[arg(long, value_name = "N")]
    pad_multiple: Option<u64>,
    /// Peak learning rate [default: 1e-4, the reference].
    #[arg(long, value_name = "RATE")]
    lr: Option<f64>,
    /// Warm-up steps of the schedule [default: 10000, the reference].
    #[arg(long, value_name = "STEPS")]
    warmup: Option<u64>,
}

impl TrainArgs {
    /// The library's options, with the micro-batch size the command took.
    pub fn options(&self, micro_batch: Option<u64>) -> TrainOptions {
        TrainOptions {
            batch_size: self.batch_size,
            micro_batch,
            pad_multiple: self.pad_multiple,
            lr: self.lr,
            warmup: self.warmup,
        }
    }
}

/// `--pad-multiple` as given, else 64 for a new run on a GPU (every new shape costs a
/// kernel compile and an autotune there), else the longest sequence.
pub fn pad_multiple(given: Option<u64>, device: DeviceChoice) -> Option<u64> {
    given.or(device.is_gpu().then_some(64))
}

/// The flag each field of the library's options comes from.
const FLAGS: &[(&str, &str)] = &[
    ("batch_size", "--batch-size"),
    ("micro_batch", "--micro-batch"),
    ("pad_multiple", "--pad-multiple"),
    ("lr", "--lr"),
    ("warmup", "--warmup"),
    ("dropout", "--dropout"),
];

fn flag_of(field: &str) -> Option<&'static str> {
    FLAGS
        .iter()
        .find(|(f, _)| *f == field)
        .map(|(_, flag)| *flag)
}

/// A library error, with the flag named where the value came from the command line.
pub fn flag_context(err: Error) -> anyhow::Error {
    let message = match &err {
        Error::Invalid(invalid) => flag_of(invalid.field()).map(|flag| match invalid {
            Invalid::OutOfRange { value, allowed, .. } => {
                format!("{flag} {value} is not in {allowed}")
            }
            Invalid::Unusable { value, reason, .. } => format!("{flag} {value} {reason}"),
            other => format!("{flag}: {other}"),
        }),
        Error::ResumeConflict { field, saved } => flag_of(field)
            .map(|flag| format!("{flag} differs from the resumed run's {saved}; drop the flag")),
        Error::NoSeed => Some("--seed N is required (or --resume DIR)".into()),
        Error::UnknownConfig { name } => Some(format!(
            "--config '{name}' is not base, tiny or a config.json file"
        )),
        Error::NotABuild { .. } => Some(format!("{err}, or pass --build DIR")),
        Error::OtherBuild { .. } => Some(format!("{err}; pass that build with --build")),
        Error::UnknownVocab { .. } => Some(format!("{err} with --vocab FILE")),
        Error::NoMultiberts { .. } => Some(format!("{err}, pass --init DIR, or --init random")),
        Error::UnknownDevice { name } => Some(format!(
            "--device '{name}' is not cpu, cuda, cuda:N or wgpu"
        )),
        Error::BackendNotBuilt { feature, .. } => Some(format!("--device {feature}: {err}")),
        Error::DeviceUnusable { .. } => Some(format!("--device {err}, or use --device cpu")),
        _ => None,
    };
    match message {
        Some(message) => anyhow::anyhow!(message),
        None => err.into(),
    }
}

/// The device named by `--device`, else CUDA when compiled in and usable, else the CPU.
pub fn device(name: Option<&str>) -> anyhow::Result<DeviceChoice> {
    let choice = match name {
        Some(name) => name.parse::<DeviceChoice>().map_err(flag_context)?,
        None => DeviceChoice::default_available(),
    };
    choice.check().map_err(flag_context)?;
    Ok(choice)
}
