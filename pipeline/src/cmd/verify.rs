//! `pipeline verify BUILD_DIR [--golden FILE]`.

use std::{
    io::{self, Write},
    path::PathBuf,
    process::ExitCode,
    time::Instant,
};

use anyhow::Context;
use earlyberts_format::verify::{Golden, verify_build};

use crate::{
    GlobalArgs,
    progress::{Bar, bytes_bar},
};

/// Exit status: 0 when everything matches, 1 when the build differs from its manifest or
/// the golden manifest, 2 when something could not be read.
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The build directory (holds manifest.json and shards/).
    pub build: PathBuf,
    /// A golden manifest (a file, or a build directory holding one) to compare with. When
    /// the golden build's shards lie beside it, the first differing example is named.
    #[arg(long, value_name = "FILE")]
    pub golden: Option<PathBuf>,
}

pub fn run(global: &GlobalArgs, args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let golden = args
        .golden
        .as_deref()
        .map(|path| {
            Golden::load(path).with_context(|| format!("cannot use golden '{}'", path.display()))
        })
        .transpose()?;
    let started = Instant::now();
    let total = earlyberts_format::Build::open(&args.build)
        .with_context(|| format!("cannot verify '{}'", args.build.display()))?
        .manifest()
        .totals
        .payload_bytes;
    let bar = bytes_bar(total, global.quiet);
    bar.set_prefix("verify");
    let report = verify_build(&args.build, golden.as_ref(), &Bar(bar.clone()))
        .with_context(|| format!("cannot verify '{}'", args.build.display()))?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();

    let mut out = io::stdout().lock();
    for problem in &report.problems {
        writeln!(out, "{problem}")?;
    }
    if report.is_ok() {
        writeln!(
            out,
            "ok: {} shards, {} examples, {:.1} MB of payload verified in {seconds:.1} s ({:.2} GB/s)",
            report.shards,
            report.examples,
            report.payload_bytes as f64 / 1e6,
            report.payload_bytes as f64 / 1e9 / seconds.max(1e-9),
        )?;
        writeln!(out, "root hash {}", report.root_hash)?;
        if let Some(path) = &args.golden {
            writeln!(out, "matches golden '{}'", path.display())?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "FAILED: {} problem(s) in '{}'",
        report.problems.len(),
        args.build.display()
    )?;
    Ok(ExitCode::from(if report.has_unreadable() { 2 } else { 1 }))
}
