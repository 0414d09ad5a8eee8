//! `trainer plot RUN`: a run's curves as SVG, and a loss table on stdout.

use std::{path::PathBuf, process::ExitCode};

use earlyberts_trainer::plot::{LOG_FILE, loss_table, plot, read_log};

#[derive(clap::Args)]
pub struct PlotArgs {
    /// The run directory (OUT/seedN) holding log.jsonl.
    run: PathBuf,
    /// The SVG to write (default RUN/curves.svg).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

pub fn run(args: PlotArgs) -> anyhow::Result<ExitCode> {
    let out = args.out.unwrap_or_else(|| args.run.join("curves.svg"));
    let logs = read_log(&args.run.join(LOG_FILE))?;
    plot(&logs, &out)?;
    print!("{}", loss_table(&logs, 10));
    eprintln!("trainer: wrote {}", out.display());
    Ok(ExitCode::SUCCESS)
}
