//! `trainer run --seed N`: train on a build, writing checkpoints and the step log.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use burn::tensor::backend::AutodiffBackend;
use earlyberts_format::training::REFERENCE_TRAINING;
use earlyberts_trainer::{
    Result,
    device::OnDevice,
    run::{RunOptions, RunOutcome, RunPlan, StepSink},
    train::StepLog,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cmd::{DeviceArg, TrainArgs, flag_context, pad_multiple};

#[derive(clap::Args)]
pub struct RunArgs {
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
    /// The vocab.txt the build's ids refer to, written into every checkpoint (default: the
    /// initial or resumed checkpoint's vocab.txt, else the built-in uncased BERT one,
    /// whichever the build records).
    #[arg(long, value_name = "FILE")]
    vocab: Option<PathBuf>,
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
    /// Examples per forward/backward pass; must divide the batch size [default: 8].
    #[arg(long)]
    micro_batch: Option<u64>,
    #[command(flatten)]
    train: TrainArgs,
    #[arg(long, value_name = "P", help = format!(
        "Dropout probability everywhere [default: {}, as the reference trained]",
        REFERENCE_TRAINING.dropout
    ))]
    dropout: Option<f64>,
    /// Last optimizer step to run.
    #[arg(long, default_value_t = REFERENCE_TRAINING.steps)]
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
    #[command(flatten)]
    device: DeviceArg,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

impl RunArgs {
    fn options(self) -> RunOptions {
        RunOptions {
            seed: self.seed,
            data: self.data,
            build: self.build,
            vocab: self.vocab,
            init: self.init,
            config: self.config,
            resume: self.resume,
            train: self.train.options(self.micro_batch),
            dropout: self.dropout,
            max_steps: self.max_steps,
            checkpoints: self.checkpoints,
            out: self.out,
        }
    }
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    // Before anything slow (the build is hashed first): a signal that arrives while the run
    // is being set up must not kill the process with SIGUSR1's default action.
    let stop = stop_on_interrupt();
    let device = args.device.choice()?;
    let quiet = args.quiet;
    let mut options = args.options();
    // A new run on a GPU pads to multiples of 64 unless told otherwise; a resumed run
    // keeps what it saved.
    if options.resume.is_none() {
        options.train.pad_multiple = pad_multiple(options.train.pad_multiple, device);
    }
    let plan = RunPlan::new(options).map_err(flag_context)?;
    if stop.load(Ordering::SeqCst) {
        eprintln!(
            "trainer: interrupted before the first step: nothing to save; run the same command again"
        );
        return Ok(ExitCode::from(130));
    }
    let max_steps = plan.max_steps;
    let outcome = device
        .dispatch(Training { plan, quiet, stop })
        .map_err(flag_context)?;
    Ok(match outcome {
        RunOutcome::AlreadyDone { position } => {
            // A re-run of a finished run has nothing to do (as a re-run of `make data`).
            eprintln!(
                "trainer: the run is already at step {position} (--max-steps {max_steps}): nothing to do"
            );
            ExitCode::SUCCESS
        }
        RunOutcome::Finished { .. } => ExitCode::SUCCESS,
        RunOutcome::Stopped { step, checkpoint } => {
            eprintln!(
                "trainer: interrupted after step {step}, saved; continue with: trainer run --resume {}",
                checkpoint.display()
            );
            ExitCode::from(130)
        }
    })
}

/// The run, on whichever backend the device needs.
struct Training {
    plan: RunPlan,
    quiet: bool,
    /// Set by a signal asking the run to save and stop.
    stop: Arc<AtomicBool>,
}

impl OnDevice for Training {
    type Output = RunOutcome;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<RunOutcome> {
        let mut sink = Terminal::new(self.plan.max_steps, self.quiet, self.stop);
        let outcome = self.plan.run::<B>(device, &mut sink);
        sink.bar.finish_and_clear();
        outcome
    }
}

/// Step lines on stdout, a progress bar on stderr, and the interrupt flag.
struct Terminal {
    bar: ProgressBar,
    interrupted: Arc<AtomicBool>,
    started: bool,
}

impl Terminal {
    fn new(max_steps: u64, quiet: bool, interrupted: Arc<AtomicBool>) -> Terminal {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(Some(max_steps), target);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:40} step {pos}/{len} {msg} [{elapsed_precise} < {eta}]",
            )
            .expect("the template is valid"),
        );
        Terminal {
            bar,
            interrupted,
            started: false,
        }
    }
}

impl StepSink for Terminal {
    fn step(&mut self, log: &StepLog, line: &str) -> std::io::Result<()> {
        if !self.started {
            // The first step shows where the run starts (a resumed run starts midway).
            self.bar.set_position(log.step - 1);
            self.bar.reset_eta();
            self.started = true;
        }
        let mut stdout = std::io::stdout().lock();
        self.bar.suspend(|| writeln!(stdout, "{line}"))?;
        self.bar.set_position(log.step);
        self.bar.set_message(format!("loss {:.4}", log.loss));
        Ok(())
    }

    fn checkpoint(&mut self, dir: &Path) {
        self.bar
            .suspend(|| eprintln!("trainer: wrote {}", dir.display()));
    }

    fn stop_requested(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
    }
}

/// The first SIGINT/SIGTERM asks the loop to finish its step, save a checkpoint and stop;
/// a second one ends the process at once (checkpoints are written atomically, so the last
/// complete one stays usable). SIGUSR1 asks the same and never ends the process at once,
/// whatever came before or after it: a job script passes it on when the scheduler signals
/// the job, which may signal the trainer itself too (scripts/slurm/train.sbatch).
fn stop_on_interrupt() -> Arc<AtomicBool> {
    use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};
    let stop = Arc::new(AtomicBool::new(false));
    let interrupted = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        // Registered first: exits when an interrupt came before, i.e. on the second one.
        let _ =
            signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&interrupted));
        let _ = signal_hook::flag::register(signal, Arc::clone(&interrupted));
        let _ = signal_hook::flag::register(signal, Arc::clone(&stop));
    }
    let _ = signal_hook::flag::register(SIGUSR1, Arc::clone(&stop));
    stop
}
