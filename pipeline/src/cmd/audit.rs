//! `pipeline audit BUILD_DIR`: check a build's statistics against its recipe.

use std::{
    io::{self, Write},
    path::PathBuf,
    process::ExitCode,
};

use anyhow::Context;
use earlyberts_format::Build;
use earlyberts_pipeline::{
    audit::{AuditReport, audit},
    examples::BuildPairs,
    recipe::Recipe,
    store::SentenceStore,
};

use crate::{GlobalArgs, cmd::flag_context};

/// Exit status: 0 when every check passes, 1 when one fails, 2 on errors.
#[derive(clap::Args)]
pub struct AuditArgs {
    /// The build directory.
    pub build: PathBuf,
    /// Examples to sample, spread evenly over the build (default: all).
    #[arg(long, value_name = "N")]
    pub sample: Option<u64>,
    /// The sentence store the build was made from (default: BUILD/store when present); with
    /// it, every sampled example is also checked against its sentence pair.
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// vocab.txt, when the recipe's vocabulary is not the built-in uncased BERT one.
    #[arg(long, value_name = "FILE")]
    pub vocab: Option<PathBuf>,
}

pub fn run(_global: &GlobalArgs, args: AuditArgs) -> anyhow::Result<ExitCode> {
    let build = Build::open(&args.build)
        .with_context(|| format!("cannot audit '{}'", args.build.display()))?;
    let recipe: Recipe = serde_json::from_value(build.manifest().recipe.params.clone())
        .with_context(|| {
            format!(
                "'{}' does not record an earlyberts recipe",
                args.build.display()
            )
        })?;
    let vocab = recipe
        .vocabulary(args.vocab.as_deref())
        .map_err(flag_context)?;
    let store_dir = args
        .store
        .clone()
        .unwrap_or_else(|| args.build.join("store"));
    let store = if args.store.is_some() || store_dir.exists() {
        Some(SentenceStore::open(&store_dir)?)
    } else {
        eprintln!(
            "audit: no sentence store at '{}': pairs are not checked (pass --store)",
            store_dir.display()
        );
        None
    };
    let seed = build.manifest().seed;
    let pairs = match &store {
        Some(store) => {
            let pairs = BuildPairs::new(store, &recipe, seed, Some(build.len()))?;
            Some((store, pairs))
        }
        None => None,
    };
    let source = match &pairs {
        Some((store, pairs)) => Some(pairs.source(store, &recipe, &vocab, seed)?),
        None => None,
    };
    let report = audit(&build, &recipe, &vocab, source.as_deref(), args.sample)?;
    print_report(&report)?;
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The audit table on stdout.
pub fn print_report(report: &AuditReport) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "audit of {} examples", report.examples_checked)?;
    for row in &report.rows {
        writeln!(
            out,
            "  {:<4} {:<46} {:<34} expected {}",
            if row.ok { "ok" } else { "FAIL" },
            row.check,
            row.observed,
            row.expected
        )?;
    }
    writeln!(
        out,
        "{}",
        if report.is_ok() {
            "audit: all checks pass"
        } else {
            "audit: FAILED"
        }
    )
}
