//! `pipeline exposure BUILD`: how often each token (or each term of a list) had been seen,
//! and been an MLM target, by each step, as one long table.

use std::{
    io::{self, IsTerminal, Write},
    path::PathBuf,
    process::ExitCode,
    time::Instant,
};

use anyhow::{Context, bail};
use earlyberts_format::{Build, Invalid};
use earlyberts_pipeline::{
    Error,
    exposure::{
        Points,
        cache::{Cached, cached_token_exposure},
        points,
        table::{Table, TableFormat},
        {Terms, term_exposure},
    },
};

use crate::{GlobalArgs, cmd::build_vocabulary};

#[derive(clap::Args)]
pub struct ExposureArgs {
    /// The build directory.
    pub build: PathBuf,
    /// The steps to count at, comma-separated (a step past the build's end counts its
    /// examples again, as training wraps) [default: the EarlyBERTs checkpoint steps].
    #[arg(long, value_name = "S,S,…", value_parser = parse_steps, conflicts_with = "checkpoints")]
    pub steps: Option<StepList>,
    /// Count at the EarlyBERTs checkpoint steps: 10, 100 … 1,000, 2,000 … 20,000, 40,000
    /// (the default).
    #[arg(long)]
    pub checkpoints: bool,
    /// Examples per optimizer step (default: the recipe's training.batch_size, else 256).
    #[arg(long, value_name = "N")]
    pub batch_size: Option<u64>,
    /// Count the words or phrases of FILE (one a line) instead of every token: each
    /// tokenized as the build tokenizes, its occurrences as token sequences seen, fully
    /// masked and partly masked by each step, and the first step that saw it.
    #[arg(long, value_name = "FILE")]
    pub terms: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Parquet)]
    pub format: OutputFormat,
    /// Write the table to FILE (default: standard output).
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// vocab.txt naming the build's ids (default: the built-in uncased BERT vocabulary).
    #[arg(long, value_name = "FILE")]
    pub vocab: Option<PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum OutputFormat {
    Parquet,
    Csv,
    Jsonl,
}

pub fn run(_global: &GlobalArgs, args: ExposureArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let format = match args.format {
        OutputFormat::Parquet => TableFormat::Parquet,
        OutputFormat::Csv => TableFormat::Csv,
        OutputFormat::Jsonl => TableFormat::Jsonl,
    };
    if format == TableFormat::Parquet && args.out.is_none() && io::stdout().is_terminal() {
        bail!("parquet is binary: write it to a file with --out FILE, or choose --format csv");
    }
    let build = Build::open(&args.build)
        .with_context(|| format!("cannot count in '{}'", args.build.display()))?;
    let vocab = build_vocabulary(&build, args.vocab.as_deref())?;
    let steps = args.steps.clone().map(|s| s.0).unwrap_or_default();
    let points = points(&build, &steps, args.batch_size).map_err(|e| match e {
        Error::Invalid(invalid) if invalid.field() == "batch_size" => {
            anyhow::anyhow!("--batch-size 0: a step holds at least 1 example")
        }
        Error::Invalid(invalid @ Invalid::TooSmall { .. }) if invalid.field() == "steps" => {
            anyhow::anyhow!("--steps: {invalid} (steps are numbered from 1)")
        }
        e => anyhow::Error::new(e).context(format!("cannot count in '{}'", args.build.display())),
    })?;
    let (table, what) = match &args.terms {
        Some(path) => {
            let terms = Terms::from_file(path, &vocab)?;
            let n = terms.texts().len();
            let exposure = term_exposure(&build, &points, terms)?;
            (Table::of_terms(&exposure, &vocab), format!("{n} terms"))
        }
        None => {
            let (exposure, cached) = cached_token_exposure(&build, &points, &vocab)?;
            let what = format!("{} tokens, {}", exposure.vocab_size, cache_note(&cached));
            (Table::of_tokens(&exposure, &vocab), what)
        }
    };
    write(&table, format, args.out.as_ref())?;
    summarize(&points, &what, started);
    Ok(ExitCode::SUCCESS)
}

fn write(table: &Table, format: TableFormat, out: Option<&PathBuf>) -> anyhow::Result<()> {
    match out {
        Some(path) => {
            let mut file = earlyberts_format::AtomicFile::create(path)?;
            table
                .write(&mut file, format, &[])
                .with_context(|| format!("cannot write '{}'", path.display()))?;
            file.commit()?;
        }
        None => {
            let mut stdout = io::stdout();
            table.write(&mut stdout, format, &[])?;
            stdout.flush()?;
        }
    }
    Ok(())
}

fn cache_note(cached: &Cached) -> String {
    match cached {
        Cached::Read(path) => format!("read from the cache '{}'", path.display()),
        Cached::Written(path) => format!("counted and cached in '{}'", path.display()),
        Cached::NotWritten(reason) => format!("counted (not cached: {reason})"),
    }
}

fn summarize(points: &Points, what: &str, started: Instant) {
    eprintln!(
        "exposure: {} steps × {what}; the first {} examples counted ({:.2} s)",
        points.steps.len(),
        points.limit(),
        started.elapsed().as_secs_f64()
    );
}

/// Steps given on the command line (one value for clap, not several).
#[derive(Clone, Debug)]
pub struct StepList(Vec<u64>);

/// `10,100,1_000`: whole numbers, comma-separated.
fn parse_steps(text: &str) -> Result<StepList, String> {
    text.split(',')
        .map(|s| {
            let s = s.trim();
            s.replace('_', "")
                .parse::<u64>()
                .map_err(|_| format!("'{s}' is not a whole number"))
        })
        .collect::<Result<_, _>>()
        .map(StepList)
}
