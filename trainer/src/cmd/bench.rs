//! `trainer bench`: time full training steps on a device; one JSON line on stdout.

use std::{path::PathBuf, process::ExitCode};

use earlyberts_trainer::bench::{BenchOptions, FeedBench, Timing};

use crate::cmd::{DeviceArg, flag_context, pad_multiple};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// `base`, `tiny` or a Hugging Face config.json.
    #[arg(long, default_value = "base")]
    config: String,
    #[command(flatten)]
    device: DeviceArg,
    /// Examples of exactly this many tokens; or use --build.
    #[arg(long, default_value_t = 128, conflicts_with = "build")]
    seq: usize,
    /// Time the first steps of this build instead (its real lengths, dynamic padding).
    #[arg(long, value_name = "DIR", conflicts_with = "lengths")]
    build: Option<PathBuf>,
    /// The vocab.txt the --build's ids refer to, when it is not the built-in uncased BERT
    /// one (its pad id pads).
    #[arg(long, value_name = "FILE", requires = "build")]
    vocab: Option<PathBuf>,
    /// Synthetic examples with these lengths instead, one per line (e.g. a realistic
    /// corpus's, `make bench-lengths`).
    #[arg(long, value_name = "FILE", conflicts_with = "seq")]
    lengths: Option<PathBuf>,
    /// Examples per step [default: the build's (its recipe's training.batch_size); 256, the
    /// reference's, on synthetic examples].
    #[arg(long)]
    batch_size: Option<u64>,
    /// Time --batch-size on a --build made for another.
    #[arg(long, requires = "batch_size")]
    override_batch_size: bool,
    #[arg(long, default_value_t = 8)]
    micro_batch: u64,
    /// Pad each micro-batch to a multiple of this many positions [default: 64 on a GPU, 1 on
    /// the CPU] (as `trainer run`).
    #[arg(long, value_name = "N")]
    pad_multiple: Option<u64>,
    /// Timed steps (after --warmup untimed ones).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    steps: u64,
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Time whole steps only, with no device sync between forward, backward and optimizer
    /// (as `trainer run` runs them); `phases` is then null.
    #[arg(long)]
    no_phases: bool,
    /// The device's peak TFLOP/s, to report MFU.
    #[arg(long, value_name = "TFLOPS")]
    peak_tflops: Option<f64>,
    /// Time the data feed alone: --steps steps of --build read and collated into padded
    /// micro-batches on the device, as `trainer run` feeds its model, with no model (prints
    /// examples and tokens per second).
    #[arg(long, requires = "build")]
    feed_only: bool,
}

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let device = args.device.choice()?;
    if args.feed_only {
        let feed = FeedBench {
            build: args.build.expect("clap requires --build"),
            vocab: args.vocab,
            batch_size: args.batch_size,
            override_batch_size: args.override_batch_size,
            micro_batch: args.micro_batch,
            pad_multiple: pad_multiple(args.pad_multiple, device).unwrap_or(1),
            steps: args.steps,
            device: device.to_string(),
        };
        let report = device.dispatch(feed).map_err(flag_context)?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let options = BenchOptions {
        config: args.config,
        device: device.to_string(),
        seq: args.seq,
        build: args.build,
        vocab: args.vocab,
        lengths: args.lengths,
        batch_size: args.batch_size,
        override_batch_size: args.override_batch_size,
        micro_batch: args.micro_batch,
        pad_multiple: pad_multiple(args.pad_multiple, device).unwrap_or(1),
        timing: Timing {
            warmup: args.warmup,
            steps: args.steps as usize,
            phases: !args.no_phases,
        },
        peak_tflops: args.peak_tflops,
    };
    let report = device.dispatch(options).map_err(flag_context)?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(ExitCode::SUCCESS)
}
