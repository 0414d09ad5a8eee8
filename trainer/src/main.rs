//! `trainer`: BERT pre-training (MLM + NSP) on earlyberts builds.
//!
//! Work in progress: `trainer run` trains on CPU (burn-flex) and logs one JSON line per
//! step; checkpoints, Hugging Face import/export, resume and CUDA come with the trainer issue.

use std::{io::Write, path::PathBuf, process::ExitCode};

use anyhow::{Context, bail};
use burn::backend::{Autodiff, Flex};
use clap::{Parser, Subcommand};
use earlyberts_format::{Build, verify::verify_build};
use earlyberts_trainer::{
    data::StepFeed,
    model::BertConfig,
    train::{TrainConfig, train},
};

#[derive(Parser)]
#[command(name = "trainer", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train on a build's shards in their recorded order (CPU; no checkpoints yet).
    Run(RunArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// The build directory (made by `pipeline build`).
    #[arg(long, value_name = "DIR")]
    build: PathBuf,
    /// Examples per optimizer step (the reference: 256).
    #[arg(long, default_value_t = 256)]
    batch_size: u64,
    /// `base` (BERT-base) or `tiny` (2 layers, hidden 64).
    #[arg(long, default_value = "base")]
    config: String,
    /// Examples per forward/backward pass; must divide the batch size.
    #[arg(long, default_value_t = 8)]
    micro_batch: u64,
    /// Last optimizer step to run.
    #[arg(long, default_value_t = 40_000)]
    max_steps: u64,
    /// Seed of the random initialisation.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => match run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("trainer: {err:#}");
                ExitCode::from(2)
            }
        },
    }
}

type Cpu = Autodiff<Flex>;

fn run(args: RunArgs) -> anyhow::Result<()> {
    let model_config = match args.config.as_str() {
        "base" => BertConfig::base(),
        "tiny" => BertConfig::tiny(),
        other => bail!("--config '{other}' is not `base` or `tiny`"),
    };
    if args.micro_batch == 0 || !args.batch_size.is_multiple_of(args.micro_batch) {
        bail!(
            "--micro-batch {} does not divide the batch size {}",
            args.micro_batch,
            args.batch_size
        );
    }
    let report = verify_build(&args.build, None, &())
        .with_context(|| format!("cannot read '{}'", args.build.display()))?;
    if !report.is_ok() {
        bail!(
            "'{}' does not verify ({}); run `pipeline verify` on it",
            args.build.display(),
            report.problems[0]
        );
    }
    let build = Build::open(&args.build)?;
    if build.manifest().vocab.size as usize != model_config.vocab_size {
        bail!(
            "the build's vocabulary has {} entries but the model's has {}",
            build.manifest().vocab.size,
            model_config.vocab_size
        );
    }
    let device = Default::default();
    let model = model_config.init::<Cpu>(args.seed, &device);
    let feed = StepFeed::new(build, args.batch_size);
    let config = TrainConfig {
        batch_size: args.batch_size,
        ..TrainConfig::reference(args.micro_batch)
    };
    let mut out = std::io::stdout().lock();
    train(
        model,
        &feed,
        &config,
        1..=args.max_steps,
        &device,
        |entry, _| {
            writeln!(out, "{}", serde_json::to_string(entry)?)?;
            Ok(())
        },
    )?;
    Ok(())
}
