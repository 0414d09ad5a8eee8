//! `trainer plot RUN…`: the curves of one or more runs as SVG or PNG, and a loss table of
//! each on stdout.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use earlyberts_trainer::{
    Error,
    plot::{LOG_FILE, PlotFormat, PlotOptions, RunCurves, loss_table, plot, read_log},
    publish::checkpoints,
};

#[derive(clap::Args)]
pub struct PlotArgs {
    /// Run directories (OUT/seedN) holding log.jsonl; several runs share one chart, one
    /// colour each.
    #[arg(required = true, value_name = "RUN")]
    runs: Vec<PathBuf>,
    /// The picture to write (default: the first RUN's curves.svg or curves.png).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// `svg` or `png` (default: from --out's extension, else svg).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// A linear step axis (default: logarithmic, for the dense early checkpoints).
    #[arg(long)]
    linear: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Svg,
    Png,
}

pub fn run(args: PlotArgs) -> anyhow::Result<ExitCode> {
    let from_extension = args
        .out
        .as_deref()
        .and_then(|o| o.extension())
        .and_then(|e| match e.to_str()?.to_ascii_lowercase().as_str() {
            "png" => Some(Format::Png),
            "svg" => Some(Format::Svg),
            _ => None,
        });
    let (format, extension) = match args.format.or(from_extension).unwrap_or(Format::Svg) {
        Format::Svg => (PlotFormat::Svg, "svg"),
        Format::Png => (PlotFormat::Png, "png"),
    };
    let out = args
        .out
        .unwrap_or_else(|| args.runs[0].join(format!("curves.{extension}")));
    let runs = args
        .runs
        .iter()
        .map(|dir| {
            Ok(RunCurves {
                name: run_name(dir, &args.runs),
                logs: read_log(&dir.join(LOG_FILE))?,
                checkpoints: match checkpoints(dir) {
                    Ok(found) => found.into_iter().map(|(step, _)| step).collect(),
                    Err(Error::NoCheckpoints { .. }) => Vec::new(),
                    Err(e) => return Err(e),
                },
            })
        })
        .collect::<earlyberts_trainer::Result<Vec<_>>>()?;
    let options = PlotOptions {
        format,
        linear: args.linear,
    };
    plot(&runs, &out, options)?;
    for run in &runs {
        if runs.len() > 1 {
            println!("{}", run.name);
        }
        print!("{}", loss_table(&run.logs, 10));
    }
    eprintln!("trainer: wrote {}", out.display());
    Ok(ExitCode::SUCCESS)
}

/// A run's name in the legend: its directory's name (`seed1`), with the parent's when two
/// runs would otherwise share it (`keyed/seed1`).
fn run_name(dir: &Path, all: &[PathBuf]) -> String {
    let name = |d: &Path| {
        d.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| d.display().to_string())
    };
    let clash = all.iter().filter(|d| name(d) == name(dir)).count() > 1;
    match dir.parent().filter(|_| clash).and_then(|p| p.file_name()) {
        Some(parent) => format!("{}/{}", parent.to_string_lossy(), name(dir)),
        None => name(dir),
    }
}
