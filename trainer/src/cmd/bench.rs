//! `trainer bench`: time full training steps on a device; one JSON line on stdout.

use std::{path::PathBuf, process::ExitCode};

use earlyberts_trainer::bench::BenchOptions;

use crate::cmd::{device, flag_context};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// `base`, `tiny` or a Hugging Face config.json.
    #[arg(long, default_value = "base")]
    config: String,
    /// `cpu`, `cuda` or `cuda:N` (default: CUDA when compiled in and available).
    #[arg(long)]
    device: Option<String>,
    /// Examples of exactly this many tokens; or use --build.
    #[arg(long, default_value_t = 128, conflicts_with = "build")]
    seq: usize,
    /// Time the first steps of this build instead (its real lengths, dynamic padding).
    #[arg(long, value_name = "DIR", conflicts_with = "lengths")]
    build: Option<PathBuf>,
    /// Synthetic examples with these lengths instead, one per line (e.g. a realistic
    /// corpus's, `make bench-lengths`).
    #[arg(long, value_name = "FILE", conflicts_with = "seq")]
    lengths: Option<PathBuf>,
    #[arg(long, default_value_t = 256)]
    batch_size: u64,
    #[arg(long, default_value_t = 8)]
    micro_batch: u64,
    /// Pad each micro-batch to a multiple of this many positions [default: 64 on CUDA, 1 on
    /// the CPU] (as `trainer run`).
    #[arg(long, value_name = "N")]
    pad_multiple: Option<u64>,
    /// Timed steps (after --warmup untimed ones).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    steps: u64,
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// The device's peak TFLOP/s, to report MFU.
    #[arg(long, value_name = "TFLOPS")]
    peak_tflops: Option<f64>,
}

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let device = device(args.device.as_deref())?;
    let options = BenchOptions {
        config: args.config,
        device: device.to_string(),
        seq: args.seq,
        build: args.build,
        lengths: args.lengths,
        batch_size: args.batch_size,
        micro_batch: args.micro_batch,
        pad_multiple: args
            .pad_multiple
            .unwrap_or(if device.is_cuda() { 64 } else { 1 }),
        steps: args.steps as usize,
        warmup: args.warmup,
        peak_tflops: args.peak_tflops,
    };
    let report = device.dispatch(options).map_err(flag_context)?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(ExitCode::SUCCESS)
}
