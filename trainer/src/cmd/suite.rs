//! `trainer suite`: audit the checkpoints of one run (a published suite or `trainer run`'s)
//! before drawing curves from them.

use std::{path::PathBuf, process::ExitCode};

use anyhow::bail;
use earlyberts_trainer::{
    Error,
    suite::{MAX_STEP, SuiteOptions, audit, render, revisions_in, step_label},
};

/// Exit status: 0 when the suite has no finding, 1 when it has any, 2 on bad input.
#[derive(clap::Args)]
pub struct SuiteArgs {
    /// Checkpoint directories named `stepN` (Hugging Face layout: config.json and
    /// model.safetensors or pytorch_model.bin).
    #[arg(value_name = "DIR")]
    checkpoints: Vec<PathBuf>,
    /// A directory of `stepN` checkpoint directories: a run directory (OUT/seedN) or a model
    /// repository fetched one revision a directory (`pipeline fetch`:
    /// data/sources/earlyberts/seedN).
    #[arg(long, value_name = "DIR")]
    revisions: Option<PathBuf>,
    /// The weights training started from (e.g. MultiBERTs step 0) [default: a `step0`
    /// revision, if any].
    #[arg(long, value_name = "DIR")]
    init: Option<PathBuf>,
    /// Peak learning rate of the run [default: the revisions' trainer_state.json, else the
    /// reference's; the rest of the optimizer from there too].
    #[arg(long, value_name = "RATE")]
    lr: Option<f64>,
    /// Warm-up steps of the run's schedule [default: as --lr].
    #[arg(long, value_name = "STEPS")]
    warmup: Option<u64>,
    /// `text`: a table and the findings; `json`: the report as one object.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

pub fn run(args: SuiteArgs) -> anyhow::Result<ExitCode> {
    let mut revisions = Vec::new();
    if let Some(dir) = &args.revisions {
        revisions = revisions_in(dir)?;
    }
    for dir in &args.checkpoints {
        let Some(step) = step_label(dir) else {
            bail!(
                "'{}' is not named stepN: name each checkpoint directory after its step (step10, step40000), or pass their parent with --revisions",
                dir.display()
            );
        };
        revisions.push((step, dir.clone()));
    }
    if revisions.is_empty() {
        bail!("no checkpoints: give checkpoint directories named stepN, or --revisions DIR");
    }
    if let Some(same) = duplicate_step(&revisions) {
        bail!("two checkpoints are labelled step{same}: give each step once");
    }
    let report = audit(SuiteOptions {
        init: args.init,
        revisions,
        peak_lr: args.lr,
        warmup: args.warmup,
    })
    .map_err(|e| match e {
        Error::Invalid(invalid) if invalid.field() == "lr" => {
            anyhow::anyhow!("--lr: {invalid}")
        }
        Error::Invalid(invalid) if invalid.field() == "step" => {
            anyhow::anyhow!("a revision's {invalid}: audit steps up to {MAX_STEP}")
        }
        e => e.into(),
    })?;
    match args.format {
        Format::Text => print!("{}", render::text(&report)),
        Format::Json => print!("{}", render::json(&report)),
    }
    Ok(match report.findings.is_empty() {
        true => ExitCode::SUCCESS,
        false => ExitCode::from(1),
    })
}

fn duplicate_step(revisions: &[(u64, PathBuf)]) -> Option<u64> {
    let mut steps: Vec<u64> = revisions.iter().map(|r| r.0).collect();
    steps.sort_unstable();
    steps.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
}
