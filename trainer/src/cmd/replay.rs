//! `trainer replay`: which candidate build (and micro-batch size) made a checkpoint.

use std::{path::PathBuf, process::ExitCode};

use anyhow::bail;
use burn::tensor::backend::AutodiffBackend;
use earlyberts_trainer::{
    Result,
    device::OnDevice,
    replay::{Replay, ReplayOptions, ReplayPlan, ReplayReport, ReplaySink, Thresholds},
    train::StepLog,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use crate::cmd::{TrainArgs, device, flag_context, pad_multiple};

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
    #[command(flatten)]
    train: TrainArgs,
    /// The architecture: `base`, `tiny`, or a Hugging Face config.json (default: the
    /// initial checkpoint's config.json, else base).
    #[arg(long, value_name = "base|tiny|FILE")]
    config: Option<String>,
    /// `cpu`, `cuda`, `cuda:N` or `wgpu` (default: CUDA when compiled in and available, else
    /// the CPU; wgpu only when named).
    #[arg(long)]
    device: Option<String>,
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
    let device = device(args.device.as_deref())?;
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
        None => Vec::new(),
        Some(list) => micro_batch_sizes(list, train.batch_size.unwrap_or(256))?,
    };
    let plan = ReplayPlan::new(ReplayOptions {
        init: args.init,
        target: args.target,
        steps: args.steps,
        builds: args.builds,
        config: args.config,
        train,
        micro_batches,
        thresholds,
    })
    .map_err(flag_context)?;
    let total = plan.steps * (plan.candidates.len() * plan.settings.len()) as u64;
    let report = device
        .dispatch(Replaying {
            plan,
            bar: progress_bar(total, args.quiet),
        })
        .map_err(flag_context)?;
    match args.format {
        Format::Text => print!("{}", render_text(&report)),
        Format::Json => print!("{}", render_json(&report)),
    }
    Ok(match report.matching_builds().len() {
        1 => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    })
}

/// `8,4,2` or `all` (the divisors of `batch`, largest first).
fn micro_batch_sizes(list: &str, batch: u64) -> anyhow::Result<Vec<u64>> {
    if list == "all" {
        return Ok((1..=batch)
            .rev()
            .filter(|d| batch.is_multiple_of(*d))
            .collect());
    }
    list.split(',')
        .map(|s| s.trim().parse::<u64>())
        .collect::<Result<Vec<u64>, _>>()
        .map_err(|_| anyhow::anyhow!("--micro-batch '{list}' is not sizes like 256,64,8 or all"))
}

fn progress_bar(total: u64, quiet: bool) -> Progress {
    let target = match quiet {
        true => ProgressDrawTarget::hidden(),
        false => ProgressDrawTarget::stderr(),
    };
    let bar = ProgressBar::with_draw_target(Some(total), target);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} step {pos}/{len} {msg} [{elapsed_precise} < {eta}]")
            .expect("the template is valid"),
    );
    Progress(bar)
}

/// The replays, on whichever backend the device needs.
struct Replaying {
    plan: ReplayPlan,
    bar: Progress,
}

/// A progress bar over every replayed step, and a line per finished replay.
struct Progress(ProgressBar);

impl OnDevice for Replaying {
    type Output = ReplayReport;

    fn run<B: AutodiffBackend>(mut self, device: B::Device) -> Result<ReplayReport> {
        let report = self.plan.run::<B>(device, &mut self.bar);
        self.bar.0.finish_and_clear();
        report
    }
}

impl ReplaySink for Progress {
    fn started(&mut self, build: &std::path::Path, micro_batch: u64) {
        let message = format!("{} at micro-batch {micro_batch}", build.display());
        self.0.set_message(message);
    }

    fn step(&mut self, _log: &StepLog) {
        self.0.inc(1);
    }

    fn finished(&mut self, replay: &Replay) {
        let line = format!(
            "trainer: {} at micro-batch {}: relative error {:.2e}, {}",
            replay.build.display(),
            replay.micro_batch,
            replay.comparison.overall.relative_error,
            replay.verdict.label()
        );
        self.0.suspend(|| eprintln!("{line}"));
    }
}

/// The ranked table, the thresholds, the worst tensors of the closest replay and the
/// verdict.
fn render_text(report: &ReplayReport) -> String {
    let weights: u64 = report
        .replays
        .first()
        .map_or(0, |r| r.comparison.overall.coordinates);
    let mut out = format!(
        "replayed {} steps of {} examples; compared {} tensors ({weights} weights) with the target\n",
        report.steps,
        report.batch_size,
        report.compared.len()
    );
    if !report.left_out.is_empty() {
        out += &format!(
            "left out ({} tensors the target does not have): {}\n",
            report.left_out.len(),
            report.left_out.join(", ")
        );
    }
    out += "\nrank  verdict   rel. error  1 - cosine  sign agr.  micro-batch  build\n";
    let ranked = report.ranked();
    for (rank, r) in ranked.iter().enumerate() {
        let s = &r.comparison.overall;
        out += &format!(
            "{:>4}  {:<8}  {:>10.2e}  {:>10.2e}  {:>9.4}  {:>11}  {}\n",
            rank + 1,
            r.verdict.label(),
            s.relative_error,
            1.0 - s.cosine,
            s.sign_agreement,
            r.micro_batch,
            r.build.display()
        );
    }
    let t = report.thresholds;
    out += &format!(
        "\nthresholds: exact if the relative error ‖Δr − Δt‖/‖Δt‖ ≤ {:e}, match if ≤ {:e}\n",
        t.exact, t.matched
    );
    if let Some(best) = ranked.first() {
        out += &worst_tensors(best);
    }
    out + &verdict_line(report) + "\n"
}

/// The tensors of `replay` farthest from the target, for a look at where it differs.
fn worst_tensors(replay: &Replay) -> String {
    let mut tensors: Vec<_> = replay.comparison.per_tensor.iter().collect();
    tensors.sort_by(|a, b| b.stats.relative_error.total_cmp(&a.stats.relative_error));
    let shown: Vec<String> = tensors
        .iter()
        .take(3)
        .map(|t| format!("{} {:.2e}", t.name, t.stats.relative_error))
        .collect();
    format!("farthest tensors of rank 1: {}\n", shown.join(", "))
}

fn verdict_line(report: &ReplayReport) -> String {
    let matching = report.matching_builds();
    match matching.as_slice() {
        [] => "verdict: no candidate build made the target".into(),
        [build] => {
            let best = report
                .ranked()
                .into_iter()
                .find(|r| r.build == *build)
                .expect("a matching build has replays");
            let error = best.comparison.overall.relative_error;
            let margin = match report.ranked().into_iter().find(|r| r.build != *build) {
                Some(next) => {
                    let next_error = next.comparison.overall.relative_error;
                    format!(
                        "; the closest other build, {}, is {next_error:.2e} away (×{:.0})",
                        next.build.display(),
                        next_error / error
                    )
                }
                None => String::new(),
            };
            format!(
                "verdict: {} made the target ({} at micro-batch {}, relative error {error:.2e}){margin}",
                build.display(),
                best.verdict.label(),
                best.micro_batch
            )
        }
        several => format!(
            "verdict: {} builds match the target, which these steps cannot tell apart: {}",
            several.len(),
            several
                .iter()
                .map(|b| b.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// One JSON object per replay, closest first.
fn render_json(report: &ReplayReport) -> String {
    report
        .ranked()
        .iter()
        .enumerate()
        .map(|(rank, r)| {
            let s = &r.comparison.overall;
            let line = json!({
                "rank": rank + 1,
                "build": r.build,
                "micro_batch": r.micro_batch,
                "verdict": r.verdict.label(),
                "relative_error": s.relative_error,
                "cosine": s.cosine,
                "sign_agreement": s.sign_agreement,
                "moved": s.moved,
                "coordinates": s.coordinates,
                "target_norm": s.target_norm,
                "replay_norm": s.replay_norm,
                "steps": report.steps,
                "batch_size": report.batch_size,
                "losses": r.losses,
                "thresholds": report.thresholds,
                "left_out": report.left_out,
                "per_tensor": r.comparison.per_tensor,
            });
            format!("{line}\n")
        })
        .collect()
}
