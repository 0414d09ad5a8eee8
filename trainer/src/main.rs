//! `trainer`: BERT pre-training (MLM + NSP) on earlyberts builds.
//!
//! - `trainer run --seed N`: trains on `DATA/builds/wikibooks-earlyberts-seedN` from the
//!   MultiBERTs seed-N step-0 checkpoint, writing `OUT/seedN/stepK/` checkpoints and
//!   `OUT/seedN/log.jsonl`; `--resume OUT/seedN/stepK` continues a run.
//! - `trainer publish OUT/seedN --repo DIR`: the checkpoints as a git repository, one branch
//!   per step.
//! - `trainer plot OUT/seedN…`: the curves of one or more runs (log step axis) as SVG or PNG.
//! - `trainer bench`: the time of full training steps on a device.
//! - `trainer replay --init DIR --target DIR --steps K --build B…`: which candidate build
//!   (and micro-batch size) trained the target checkpoint, by replaying its steps.
//!
//! This binary is glue: it parses arguments, calls the library (`earlyberts_trainer`) and
//! renders the results. Exit codes: 0 success, 2 an error, 130 interrupted (saved); `replay`
//! exits 1 when no build or several match.

use std::process::ExitCode;

use clap::{Parser, Subcommand, error::ErrorKind};

mod cmd;

#[derive(Parser)]
#[command(name = "trainer", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train on a build's shards in their recorded order, writing HF checkpoints.
    Run(Box<cmd::run::RunArgs>),
    /// Lay out a run's checkpoints as a git repository with one branch per step.
    Publish(cmd::publish::PublishArgs),
    /// Time full training steps (forward, backward, AdamW) on a device; prints one JSON line.
    Bench(cmd::bench::BenchArgs),
    /// Draw the curves of one or more runs (log step axis, checkpoints marked) as SVG or PNG.
    Plot(cmd::plot::PlotArgs),
    /// Which candidate build made a checkpoint: replay its steps from the initial weights on
    /// each build and compare the updates.
    Replay(Box<cmd::replay::ReplayArgs>),
    /// Audit the checkpoints of one run: content hashes, identical revisions, distances
    /// from the initial weights and between revisions, updates against the learning rates
    /// (exit status 1 on any finding).
    Suite(cmd::suite::SuiteArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // A value clap refuses (`--device tpu`) is bad input like any other: one line.
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::InvalidValue | ErrorKind::ValueValidation
            ) =>
        {
            // Clap's own lines (the value, the allowed ones) on one line; its usage hint not.
            let rendered = e.render().to_string();
            let said: Vec<&str> = rendered
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            eprintln!("trainer: {}", said.join(" ").trim_start_matches("error: "));
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    // A panic on a backend thread surfaces on this one as a closed channel: keep the cause.
    earlyberts_trainer::panics::record();
    let result = std::panic::catch_unwind(|| match cli.command {
        Command::Run(args) => cmd::run::run(*args),
        Command::Publish(args) => cmd::publish::run(args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::Plot(args) => cmd::plot::run(args),
        Command::Replay(args) => cmd::replay::run(*args),
        Command::Suite(args) => cmd::suite::run(args),
    });
    let panicked = earlyberts_trainer::panics::summary();
    match (result, panicked) {
        (Ok(Ok(code)), _) => code,
        (Ok(Err(err)), None) => {
            eprintln!("trainer: {err:#}");
            ExitCode::from(2)
        }
        (Ok(Err(err)), Some(cause)) => {
            eprintln!("trainer: {err:#} (first panic: {cause})");
            ExitCode::from(2)
        }
        (Err(_), cause) => {
            let cause = cause.unwrap_or_else(|| "no message".into());
            eprintln!("trainer: internal error, please report it: {cause}");
            ExitCode::from(101)
        }
    }
}
