//! `trainer replay`: which candidate build (and micro-batch size) made a checkpoint.

use std::{path::PathBuf, process::ExitCode};

use anyhow::bail;
use burn::tensor::backend::AutodiffBackend;
use earlyberts_trainer::{
    Result,
    device::OnDevice,
    replay::{
        MicroBatches, Replay, ReplayOptions, ReplayPlan, ReplayReport, ReplaySink, Thresholds,
        render,
    },
    train::StepLog,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cmd::{DeviceArg, TrainArgs, flag_context, pad_multiple};

/// Exit status: 0 when exactly one build matches the target (at any micro-batch size), 1
/// when none or several do, 2 on bad input.
#[derive(clap::Args)]
pub struct ReplayArgs {
    /// The checkpoint training started from: a Hugging Face directory with the pretraining
    /// heads (config.json + model.safetensors or pytorch_model.bin), e.g. MultiBERTs step 0.
    #[arg(long, value_name = "DIR")]
    init: PathBuf,
    /// The checkpoint to explain: a Hugging Face directory, with or without the heads, e.g.
    /// an EarlyBERTs revision.
    #[arg(long, value_name = "DIR")]
    target: PathBuf,
    /// Optimizer steps from the initial checkpoint to the target (10 for `step10`).
    #[arg(long, value_name = "K")]
    steps: u64,
    /// A candidate build; repeat for several. It needs only its first K × batch examples
    /// (`pipeline build --limit-examples`).
    #[arg(long = "build", value_name = "DIR", required = true)]
    builds: Vec<PathBuf>,
    /// Micro-batch sizes to replay each build with, comma-separated, or `all` (every
    /// divisor of the batch size) [default: 8, as `trainer run`].
    #[arg(long, value_name = "N,N,…|all")]
    micro_batch: Option<String>,
    /// Two rounds: every build at the first --micro-batch size, then only the builds that
    /// match at the others (the data decides at any size: one replay per wrong build).
    #[arg(long)]
    micro_batch_after_match: bool,
    #[command(flatten)]
    train: TrainArgs,
    /// The vocab.txt the candidates' ids refer to, when it is neither the initial
    /// checkpoint's vocab.txt nor the built-in uncased BERT one (its pad id pads).
    #[arg(long, value_name = "FILE")]
    vocab: Option<PathBuf>,
    /// The architecture: `base`, `tiny`, or a Hugging Face config.json (default: the
    /// initial checkpoint's config.json, else base).
    #[arg(long, value_name = "base|tiny|FILE")]
    config: Option<String>,
    #[command(flatten)]
    device: DeviceArg,
    /// Relative error of the update at or below which a replay is `exact`.
    #[arg(long, value_name = "X", default_value_t = Thresholds::DEFAULT.exact)]
    exact_below: f64,
    /// Relative error of the update at or below which a replay is a `match`.
    #[arg(long, value_name = "X", default_value_t = Thresholds::DEFAULT.matched)]
    match_below: f64,
    /// `text`: a ranked table and the verdict; `json`: one object per build and
    /// micro-batch size, ranked, with the statistics of every tensor.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

pub fn run(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let device = args.device.choice()?;
    if args.steps == 0 {
        bail!("--steps 0: nothing to replay (give the target's step, e.g. 10 for step10)");
    }
    let thresholds = Thresholds {
        exact: args.exact_below,
        matched: args.match_below,
    };
    if !(0.0 <= thresholds.exact && thresholds.exact <= thresholds.matched) {
        bail!("--exact-below must be between 0 and --match-below");
    }
    let mut train = args.train.options(None);
    train.pad_multiple = pad_multiple(train.pad_multiple, device);
    let micro_batches = match &args.micro_batch {
        None => MicroBatches::Default,
        Some(list) => micro_batch_sizes(list)?,
    };
    let plan = ReplayPlan::new(ReplayOptions {
        init: args.init,
        target: args.target,
        steps: args.steps,
        builds: args.builds,
        config: args.config,
        train,
        micro_batches,
        after_match: args.micro_batch_after_match,
        vocab: args.vocab,
        thresholds,
    })
    .map_err(flag_context)?;
    // Two rounds: the second round's replays lengthen the bar as they start.
    let per_build = match plan.after_match {
        true => 1,
        false => plan.settings.len(),
    };
    let total = plan.steps * (plan.candidates.len() * per_build) as u64;
    let report = device
        .dispatch(Replaying {
            bar: progress_bar(total, plan.steps, args.quiet),
            plan,
        })
        .map_err(flag_context)?;
    match args.format {
        Format::Text => print!("{}", render::text(&report)),
        Format::Json => print!("{}", render::json_lines(&report)),
    }
    Ok(match report.matching_builds().len() {
        1 => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    })
}

/// `8,4,2` or `all` (every divisor of the batch size).
fn micro_batch_sizes(list: &str) -> anyhow::Result<MicroBatches> {
    if list == "all" {
        return Ok(MicroBatches::All);
    }
    list.split(',')
        .map(|s| s.trim().parse::<u64>())
        .collect::<Result<Vec<u64>, _>>()
        .map(MicroBatches::Sizes)
        .map_err(|_| anyhow::anyhow!("--micro-batch '{list}' is not sizes like 256,64,8 or all"))
}

fn progress_bar(total: u64, steps: u64, quiet: bool) -> Progress {
    let target = match quiet {
        true => ProgressDrawTarget::hidden(),
        false => ProgressDrawTarget::stderr(),
    };
    let bar = ProgressBar::with_draw_target(Some(total), target);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} step {pos}/{len} {msg} [{elapsed_precise} < {eta}]")
            .expect("the template is valid"),
    );
    Progress { bar, steps }
}

/// The replays, on whichever backend the device needs.
struct Replaying {
    plan: ReplayPlan,
    bar: Progress,
}

/// A progress bar over every replayed step, and a line per finished replay.
struct Progress {
    bar: ProgressBar,
    /// Steps a replay takes.
    steps: u64,
}

impl OnDevice for Replaying {
    type Output = ReplayReport;

    fn run<B: AutodiffBackend>(mut self, device: B::Device) -> Result<ReplayReport> {
        let report = self.plan.run::<B>(device, &mut self.bar);
        self.bar.bar.finish_and_clear();
        report
    }
}

impl ReplaySink for Progress {
    fn started(&mut self, build: &std::path::Path, micro_batch: u64) {
        let message = format!("{} at micro-batch {micro_batch}", build.display());
        self.bar.set_message(message);
        if self.bar.position() + self.steps > self.bar.length().unwrap_or(0) {
            self.bar.inc_length(self.steps);
        }
    }

    fn step(&mut self, _log: &StepLog) {
        self.bar.inc(1);
    }

    fn finished(&mut self, replay: &Replay) {
        let line = format!(
            "trainer: {} at micro-batch {}: relative error {:.2e}, {}",
            replay.build.display(),
            replay.micro_batch,
            replay.comparison.overall.relative_error,
            replay.verdict.label()
        );
        self.bar.suspend(|| eprintln!("{line}"));
    }
}
