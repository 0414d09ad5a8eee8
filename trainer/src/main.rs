//! `trainer`: BERT pre-training (MLM + NSP) on earlyberts builds.
//!
//! - `trainer run --seed N`: trains on `DATA/builds/wikibooks-earlyberts-seedN` from the
//!   MultiBERTs seed-N step-0 checkpoint, writing `OUT/seedN/stepK/` checkpoints and
//!   `OUT/seedN/log.jsonl`; `--resume OUT/seedN/stepK` continues a run.
//! - `trainer publish OUT/seedN --repo DIR`: the checkpoints as a git repository, one branch
//!   per step.
//! - `trainer plot OUT/seedN`: loss, learning-rate and throughput curves as SVG.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use anyhow::{Context, bail};
use burn::{
    backend::{Autodiff, Flex},
    tensor::backend::AutodiffBackend,
};
use clap::{Parser, Subcommand};
use earlyberts_format::{Build, Vocab, verify::verify_build};
use earlyberts_trainer::{
    bench,
    checkpoint::{load_checkpoint, read_hf_config, resume_training, save_training},
    data::StepFeed,
    device::DeviceChoice,
    model::BertConfig,
    plot::{LOG_FILE, loss_table, plot, read_log},
    publish::publish,
    state::BuildRef,
    train::{StepLog, TrainConfig, Trainer},
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Parser)]
#[command(name = "trainer", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train on a build's shards in their recorded order, writing HF checkpoints.
    Run(Box<RunArgs>),
    /// Lay out a run's checkpoints as a git repository with one branch per step.
    Publish {
        /// The run directory (OUT/seedN) holding stepK/ checkpoints.
        run: PathBuf,
        /// The new repository's directory.
        #[arg(long, value_name = "DIR")]
        repo: PathBuf,
    },
    /// Time full training steps (forward, backward, AdamW) on a device; prints one JSON line.
    Bench(BenchArgs),
    /// Render a run's loss, learning-rate and throughput curves to SVG.
    Plot {
        /// The run directory (OUT/seedN) holding log.jsonl.
        run: PathBuf,
        /// The SVG to write (default RUN/curves.svg).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// The seed: selects the build (…-seedN), the MultiBERTs seed-N initial checkpoint, the
    /// random initialisation (with --init random) and the dropout stream.
    #[arg(long)]
    seed: Option<u64>,
    /// Where `make data` put its output.
    #[arg(long, value_name = "DIR", default_value = "data")]
    data: PathBuf,
    /// The build directory (default DATA/builds/wikibooks-earlyberts-seedN).
    #[arg(long, value_name = "DIR")]
    build: Option<PathBuf>,
    /// A Hugging Face checkpoint directory to start from (config.json + model.safetensors or
    /// pytorch_model.bin), or `random` (default DATA/sources/multiberts/seed_N-step_0k).
    #[arg(long, value_name = "DIR|random")]
    init: Option<String>,
    /// The architecture: `base`, `tiny`, or a Hugging Face config.json (default: the
    /// initial checkpoint's config.json, else base).
    #[arg(long, value_name = "base|tiny|FILE")]
    config: Option<String>,
    /// Continue the run saved in this checkpoint directory (OUT/seedN/stepK), or from the
    /// latest complete checkpoint of a run directory (OUT/seedN).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["init", "config", "seed"])]
    resume: Option<PathBuf>,
    /// Examples per optimizer step [default: 256, the reference].
    #[arg(long)]
    batch_size: Option<u64>,
    /// Examples per forward/backward pass; must divide the batch size [default: 8].
    #[arg(long)]
    micro_batch: Option<u64>,
    /// Peak learning rate [default: 1e-4, the reference].
    #[arg(long, value_name = "RATE")]
    lr: Option<f64>,
    /// Warm-up steps of the schedule [default: 10000, the reference].
    #[arg(long, value_name = "STEPS")]
    warmup: Option<u64>,
    /// Dropout probability everywhere [default: 0, as the reference trained].
    #[arg(long, value_name = "P")]
    dropout: Option<f64>,
    /// Last optimizer step to run.
    #[arg(long, default_value_t = 40_000)]
    max_steps: u64,
    /// Steps after which to write a checkpoint, comma-separated (default: the EarlyBERTs
    /// schedule 10, 100..=1000 by 100, 2000..=20000 by 1000, 40000); the last step is
    /// always written.
    #[arg(long, value_delimiter = ',', value_name = "STEPS")]
    checkpoints: Vec<u64>,
    /// Run directories go here: OUT/seedN/stepK/ (default `runs`; with --resume, the
    /// checkpoint's parent).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// `cpu`, `cuda` or `cuda:N` (default: CUDA when compiled in and available).
    #[arg(long)]
    device: Option<String>,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(clap::Args)]
struct BenchArgs {
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
    #[arg(long, value_name = "DIR")]
    build: Option<PathBuf>,
    #[arg(long, default_value_t = 256)]
    batch_size: u64,
    #[arg(long, default_value_t = 8)]
    micro_batch: u64,
    /// Timed steps (after --warmup untimed ones).
    #[arg(long, default_value_t = 3)]
    steps: usize,
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// The device's peak TFLOP/s, to report MFU.
    #[arg(long, value_name = "TFLOPS")]
    peak_tflops: Option<f64>,
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
    let result = match cli.command {
        Command::Run(args) => run(*args),
        Command::Publish { run, repo } => publish(&run, &repo).map(|steps| {
            eprintln!(
                "trainer: '{}' has {} branches (step{} … step{}) and main; push with `git push --all`",
                repo.display(),
                steps.len(),
                steps[0],
                steps[steps.len() - 1]
            );
        }),
        Command::Bench(args) => bench(args),
        Command::Plot { run, out } => {
            let out = out.unwrap_or_else(|| run.join("curves.svg"));
            read_log(&run.join(LOG_FILE)).and_then(|logs| {
                plot(&logs, &out)?;
                print!("{}", loss_table(&logs, 10));
                eprintln!("trainer: wrote {}", out.display());
                Ok(())
            })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("trainer: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// Everything `trainer run` resolved from its arguments, before any training.
struct Plan {
    model: BertConfig,
    train: TrainConfig,
    build: Build,
    /// Where the model comes from.
    start: Start,
    run_dir: PathBuf,
    max_steps: u64,
    checkpoints: Vec<u64>,
    quiet: bool,
}

enum Start {
    Random(u64),
    Checkpoint(PathBuf),
    Resume(PathBuf),
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    let device = match &args.device {
        Some(name) => name.parse::<DeviceChoice>()?,
        None => DeviceChoice::default_available(),
    };
    device.check()?;
    let plan = plan(args)?;
    match device {
        DeviceChoice::Cpu => train_on::<Autodiff<Flex>>(plan, Default::default()),
        #[cfg(feature = "cuda")]
        DeviceChoice::Cuda(n) => {
            train_on::<Autodiff<burn::backend::Cuda>>(plan, burn::backend::cuda::CudaDevice::new(n))
        }
        #[cfg(not(feature = "cuda"))]
        DeviceChoice::Cuda(_) => unreachable!("check() refuses CUDA without the feature"),
    }
}

fn config_named(name: &str) -> anyhow::Result<BertConfig> {
    match name {
        "base" => Ok(BertConfig::base()),
        "tiny" => Ok(BertConfig::tiny()),
        file if Path::new(file).is_file() => BertConfig::from_hf_file(Path::new(file)),
        other => bail!("--config '{other}' is not base, tiny or a config.json file"),
    }
}

fn bench(args: BenchArgs) -> anyhow::Result<()> {
    let device = match &args.device {
        Some(name) => name.parse::<DeviceChoice>()?,
        None => DeviceChoice::default_available(),
    };
    device.check()?;
    match device {
        DeviceChoice::Cpu => bench_on::<Autodiff<Flex>>(args, device, Default::default()),
        #[cfg(feature = "cuda")]
        DeviceChoice::Cuda(n) => bench_on::<Autodiff<burn::backend::Cuda>>(
            args,
            device,
            burn::backend::cuda::CudaDevice::new(n),
        ),
        #[cfg(not(feature = "cuda"))]
        DeviceChoice::Cuda(_) => unreachable!("check() refuses CUDA without the feature"),
    }
}

fn bench_on<B: AutodiffBackend>(
    args: BenchArgs,
    choice: DeviceChoice,
    device: B::Device,
) -> anyhow::Result<()> {
    let config = config_named(&args.config)?;
    let train = TrainConfig {
        batch_size: args.batch_size,
        ..TrainConfig::reference(args.micro_batch)
    };
    train.check()?;
    let tmp = std::env::temp_dir().join(format!("earlyberts-bench-{}", std::process::id()));
    let (build, data) = match &args.build {
        Some(dir) => (open_verified(dir)?, format!("build {}", dir.display())),
        None => {
            let n = args.batch_size as usize * (args.warmup + args.steps);
            let examples = bench::fixed_length_examples(n, args.seq);
            let build = bench::write_examples_build(&tmp, &examples)?;
            (build, format!("fixed {} tokens", args.seq))
        }
    };
    let feed = StepFeed::new(build, args.batch_size);
    let model = config.init::<B>(0, &device);
    let result = bench::bench(
        model,
        &config,
        train,
        &feed,
        args.warmup,
        args.steps,
        &device,
    );
    let _ = fs::remove_dir_all(&tmp);
    let (times, tokens, flops) = result?;
    let step_s = bench::median(&times);
    let mean_tokens = tokens.iter().sum::<u64>() as f64 / tokens.len() as f64;
    let achieved = flops / step_s / 1e12;
    let report = bench::BenchReport {
        config: args.config,
        device: choice.to_string(),
        data,
        batch_size: args.batch_size,
        micro_batch: args.micro_batch,
        steps: args.steps,
        step_s,
        sequences_per_s: args.batch_size as f64 / step_s,
        tokens_per_s: mean_tokens / step_s,
        model_tflops_per_step: flops / 1e12,
        achieved_tflops: achieved,
        mfu: args.peak_tflops.map(|peak| achieved / peak),
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn plan(mut args: RunArgs) -> anyhow::Result<Plan> {
    if let Some(dir) = &args.resume {
        args.resume = Some(resume_dir(dir)?);
    }
    let resumed = match &args.resume {
        Some(dir) => Some(read_resume_state(dir)?),
        None => None,
    };
    let seed = match (&resumed, args.seed) {
        (Some(state), _) => state.train.seed,
        (None, Some(seed)) => seed,
        (None, None) => bail!("--seed N is required (or --resume DIR)"),
    };
    let fresh = match &resumed {
        Some(_) => None,
        None => Some(resolve_start(&args, seed)?),
    };
    let build_dir = args.build.clone().unwrap_or_else(|| {
        args.data
            .join("builds")
            .join(format!("wikibooks-earlyberts-seed{seed}"))
    });
    let build = open_verified(&build_dir)?;
    let (model, train, start) = match (&resumed, &args.resume) {
        (Some(state), Some(dir)) => {
            if BuildRef::of(build.manifest()) != state.build {
                bail!(
                    "'{}' is not the build this run trained on (root hash {} vs {}); pass that build with --build",
                    build_dir.display(),
                    build.manifest().root_hash,
                    state.build.root_hash
                );
            }
            for (flag, given, saved) in [
                ("--batch-size", args.batch_size, state.train.batch_size),
                ("--micro-batch", args.micro_batch, state.train.micro_batch),
                ("--warmup", args.warmup, state.train.schedule.warmup),
            ] {
                if given.is_some_and(|g| g != saved) {
                    bail!("{flag} differs from the resumed run's {saved}; drop the flag");
                }
            }
            if args.lr.is_some_and(|r| r != state.train.schedule.peak) {
                bail!(
                    "--lr differs from the resumed run's {}; drop the flag",
                    state.train.schedule.peak
                );
            }
            if args.dropout.is_some_and(|p| p != state.model.dropout) {
                bail!(
                    "--dropout differs from the resumed run's {}; drop the flag",
                    state.model.dropout
                );
            }
            (
                state.model.clone(),
                state.train.clone(),
                Start::Resume(dir.clone()),
            )
        }
        _ => {
            let (start, model) = fresh.expect("resolved for a new run");
            let micro_batch = args.micro_batch.unwrap_or(8);
            let mut train = TrainConfig {
                batch_size: args.batch_size.unwrap_or(256),
                seed,
                ..TrainConfig::reference(micro_batch)
            };
            if let Some(rate) = args.lr {
                if !(rate.is_finite() && rate > 0.0) {
                    bail!("--lr {rate} is not a positive rate");
                }
                train.schedule.peak = rate;
            }
            if let Some(steps) = args.warmup {
                if steps >= train.schedule.total {
                    bail!(
                        "--warmup {steps} is not below the schedule's {} steps",
                        train.schedule.total
                    );
                }
                train.schedule.warmup = steps;
            }
            (model, train, start)
        }
    };
    let mut model = model;
    if let Some(p) = args.dropout {
        model.dropout = p;
    }
    model.check()?;
    train.check()?;
    if build.manifest().vocab.size as usize != model.vocab_size {
        bail!(
            "the build's vocabulary has {} entries but the model's has {}: use a checkpoint or config with vocab_size {}",
            build.manifest().vocab.size,
            model.vocab_size,
            build.manifest().vocab.size
        );
    }
    let run_dir = match (&args.out, &args.resume) {
        (Some(out), _) => out.join(format!("seed{seed}")),
        (None, Some(dir)) => dir
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
        (None, None) => PathBuf::from("runs").join(format!("seed{seed}")),
    };
    let checkpoints = if args.checkpoints.is_empty() {
        earlyberts_checkpoints()
    } else {
        args.checkpoints.clone()
    };
    Ok(Plan {
        model,
        train,
        build,
        start,
        run_dir,
        max_steps: args.max_steps,
        checkpoints,
        quiet: args.quiet,
    })
}

fn read_resume_state(dir: &Path) -> anyhow::Result<earlyberts_trainer::state::TrainingState> {
    // Only the state file: the weights and moments are read and hash-checked once, when the
    // trainer loads them.
    earlyberts_trainer::state::read_state(dir)
}

/// `--resume` names a checkpoint, or a run directory: then its latest complete checkpoint.
fn resume_dir(given: &Path) -> anyhow::Result<PathBuf> {
    if given.join(earlyberts_trainer::state::STATE_FILE).is_file() || !given.is_dir() {
        return Ok(given.to_path_buf());
    }
    let latest = earlyberts_trainer::publish::checkpoints(given)?
        .into_iter()
        .rev()
        .find(|(_, dir)| dir.join(earlyberts_trainer::state::STATE_FILE).is_file());
    match latest {
        Some((_, dir)) => Ok(dir),
        None => bail!(
            "'{}' has no checkpoint with a training state to resume from",
            given.display()
        ),
    }
}

/// The initial model's source and architecture for a new run.
fn resolve_start(args: &RunArgs, seed: u64) -> anyhow::Result<(Start, BertConfig)> {
    let start = match args.init.as_deref() {
        Some("random") => Start::Random(seed),
        Some(dir) => Start::Checkpoint(PathBuf::from(dir)),
        None => {
            let dir = args
                .data
                .join("sources/multiberts")
                .join(format!("seed_{seed}-step_0k"));
            if !dir.is_dir() {
                bail!(
                    "no MultiBERTs seed-{seed} checkpoint at '{}': run `make data` (it fetches seeds 0–4), pass --init DIR, or --init random",
                    dir.display()
                );
            }
            Start::Checkpoint(dir)
        }
    };
    let config = match args.config.as_deref() {
        Some(name) => config_named(name)?,
        None => match &start {
            Start::Checkpoint(dir) => read_hf_config(dir)?.unwrap_or_else(BertConfig::base),
            _ => BertConfig::base(),
        },
    };
    Ok((start, config))
}

/// Opens a build after checking every shard against its manifest.
fn open_verified(dir: &Path) -> anyhow::Result<Build> {
    if !dir.join("manifest.json").is_file() {
        bail!(
            "'{}' is not a build (no manifest.json): run `make data`, or pass --build DIR",
            dir.display()
        );
    }
    let report =
        verify_build(dir, None, &()).with_context(|| format!("cannot read '{}'", dir.display()))?;
    if !report.is_ok() {
        bail!(
            "'{}' does not verify ({}); run `pipeline verify` on it",
            dir.display(),
            report.problems[0]
        );
    }
    Ok(Build::open(dir)?)
}

fn train_on<B: AutodiffBackend>(plan: Plan, device: B::Device) -> anyhow::Result<()> {
    let mut trainer = match &plan.start {
        Start::Random(seed) => Trainer::new(
            plan.model.init::<B>(*seed, &device),
            plan.train.clone(),
            &device,
        )?,
        Start::Checkpoint(dir) => Trainer::new(
            load_checkpoint::<B>(dir, &plan.model, &device)?,
            plan.train.clone(),
            &device,
        )?,
        Start::Resume(dir) => resume_training::<B>(dir, &device)?.0,
    };
    if trainer.position() >= plan.max_steps {
        // A re-run of a finished run has nothing to do (as a re-run of `make data`).
        eprintln!(
            "trainer: the run is already at step {} (--max-steps {}): nothing to do",
            trainer.position(),
            plan.max_steps
        );
        return Ok(());
    }
    let _lock = earlyberts_format::DirLock::acquire(&plan.run_dir, "trainer run")?;
    let mut log = StepLogFile::open(&plan.run_dir.join(LOG_FILE), trainer.position())?;
    let build_ref = BuildRef::of(plan.build.manifest());
    let vocab = Vocab::bert_base_uncased();
    let feed = StepFeed::new(plan.build, plan.train.batch_size);
    let bar = progress_bar(trainer.position(), plan.max_steps, plan.quiet);
    let mut stdout = std::io::stdout().lock();
    let interrupted = stop_on_interrupt();
    while trainer.position() < plan.max_steps {
        let entry = trainer.step(&feed)?;
        let line = serde_json::to_string(&entry)?;
        bar.suspend(|| writeln!(stdout, "{line}"))?;
        log.append(&line)?;
        bar.set_position(entry.step);
        bar.set_message(format!("loss {:.4}", entry.loss));
        let stop = interrupted.load(Ordering::SeqCst);
        if stop || plan.checkpoints.contains(&entry.step) || entry.step == plan.max_steps {
            let dir = plan.run_dir.join(format!("step{}", entry.step));
            save_training(&dir, &trainer, &plan.model, &vocab, build_ref.clone())?;
            bar.suspend(|| eprintln!("trainer: wrote {}", dir.display()));
            if stop {
                bar.finish_and_clear();
                eprintln!(
                    "trainer: interrupted after step {}, saved; continue with: trainer run --resume {}",
                    entry.step,
                    dir.display()
                );
                std::process::exit(130);
            }
        }
    }
    bar.finish_and_clear();
    Ok(())
}

/// The first SIGINT/SIGTERM asks the loop to finish its step, save a checkpoint and stop;
/// a second one ends the process at once (checkpoints are written atomically, so the last
/// complete one stays usable).
fn stop_on_interrupt() -> Arc<AtomicBool> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let flag = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        // Registered first: exits when the flag is already set, i.e. on the second signal.
        let _ = signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&flag));
        let _ = signal_hook::flag::register(signal, Arc::clone(&flag));
    }
    flag
}

fn progress_bar(position: u64, total: u64, quiet: bool) -> ProgressBar {
    let target = if quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let bar = ProgressBar::with_draw_target(Some(total), target);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} step {pos}/{len} {msg} [{elapsed_precise} < {eta}]")
            .expect("the template is valid"),
    );
    bar.set_position(position);
    bar.reset_eta();
    bar
}

/// `RUN/log.jsonl`, one line per step. On resume, lines after the resumed step (written by
/// the interrupted run after its last checkpoint) are dropped, so the log is the run's.
struct StepLogFile {
    file: fs::File,
}

impl StepLogFile {
    fn open(path: &Path, position: u64) -> anyhow::Result<StepLogFile> {
        let kept: Vec<String> = if path.exists() {
            fs::read_to_string(path)
                .with_context(|| format!("cannot read '{}'", path.display()))?
                .lines()
                .filter(|line| {
                    serde_json::from_str::<StepLog>(line).is_ok_and(|e| e.step <= position)
                })
                .map(str::to_string)
                .collect()
        } else {
            Vec::new()
        };
        let text: String = kept.iter().map(|l| format!("{l}\n")).collect();
        earlyberts_format::write_atomic(path, text.as_bytes())?;
        let file = fs::OpenOptions::new()
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open '{}'", path.display()))?;
        Ok(StepLogFile { file })
    }

    fn append(&mut self, line: &str) -> anyhow::Result<()> {
        writeln!(self.file, "{line}").context("cannot append to the step log")
    }
}
