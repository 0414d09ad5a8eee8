//! `trainer`: BERT pre-training (MLM + NSP) on earlyberts builds.
//!
//! Work in progress: `trainer run` trains on CPU (burn-flex), logs one JSON line per step and
//! writes Hugging Face checkpoints (`OUT/stepK/`); resume, `--device`, `publish`, `plot` and
//! CUDA come with the trainer issues.

use std::{io::Write, path::PathBuf, process::ExitCode};

use anyhow::{Context, bail};
use burn::backend::{Autodiff, Flex};
use clap::{Parser, Subcommand};
use earlyberts_format::{Build, Vocab, verify::verify_build};
use earlyberts_trainer::{
    checkpoint::{load_checkpoint, save_checkpoint},
    data::StepFeed,
    model::BertConfig,
    train::{TrainConfig, frozen, train},
};

#[derive(Parser)]
#[command(name = "trainer", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train on a build's shards in their recorded order (CPU), writing HF checkpoints.
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
    /// Steps after which to write a checkpoint, comma-separated (default: the EarlyBERTs
    /// schedule 10, 100..=1000 by 100, 2000..=20000 by 1000, 40000); the last step is
    /// always written.
    #[arg(long, value_delimiter = ',', value_name = "STEPS")]
    checkpoints: Vec<u64>,
    /// Start from a Hugging Face checkpoint directory (`model.safetensors`), or `random`.
    #[arg(long, value_name = "DIR|random", default_value = "random")]
    init: String,
    /// Where checkpoints go: OUT/stepK/.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// The EarlyBERTs checkpoint steps: 10, 100–1,000 by 100, 2,000–20,000 by 1,000, 40,000.
fn earlyberts_checkpoints() -> Vec<u64> {
    let mut steps = vec![10];
    steps.extend((1..=10).map(|k| 100 * k));
    steps.extend((2..=20).map(|k| 1000 * k));
    steps.push(40_000);
    steps
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
    let model = match args.init.as_str() {
        "random" => model_config.init::<Cpu>(args.seed, &device),
        dir => load_checkpoint::<Cpu>(std::path::Path::new(dir), &model_config, &device)?,
    };
    let checkpoints = if args.checkpoints.is_empty() {
        earlyberts_checkpoints()
    } else {
        args.checkpoints.clone()
    };
    let vocab = Vocab::bert_base_uncased();
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
        |entry, model| {
            writeln!(out, "{}", serde_json::to_string(entry)?)?;
            if let Some(dir) = &args.out
                && (checkpoints.contains(&entry.step) || entry.step == args.max_steps)
            {
                let step_dir = dir.join(format!("step{}", entry.step));
                save_checkpoint(&step_dir, &frozen(model), &model_config, &vocab)?;
                eprintln!("trainer: wrote {}", step_dir.display());
            }
            Ok(())
        },
    )?;
    Ok(())
}
