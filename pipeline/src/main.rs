//! `pipeline`: rebuilds the EarlyBERTs pretraining data and proves a build is the published one.
//!
//! This binary is glue: it parses arguments, calls the libraries and renders their results.
//! Exit codes: 0 success, 1 the command ran and found differences, 2 an error
//! (bad arguments, unreadable input). A broken pipe (`pipeline inspect ... | head`) exits 0.

use std::{io, process::ExitCode};

use clap::{Parser, Subcommand};

mod cmd;
mod progress;

/// Rebuilds BERT pretraining data deterministically and verifies builds.
#[derive(Parser)]
#[command(name = "pipeline", version, about, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Options every subcommand takes.
#[derive(clap::Args)]
pub struct GlobalArgs {
    /// Print no progress bars.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
    /// Worker threads (default: RAYON_NUM_THREADS, else one per core).
    #[arg(long, short = 'j', global = true, value_name = "N")]
    pub threads: Option<usize>,
}

#[derive(Subcommand)]
enum Command {
    /// Split text on stdin into sentences, one per line.
    Sentences(cmd::sentences::SentencesArgs),
    /// WordPiece-tokenize lines on stdin.
    Tokenize(cmd::tokenize::TokenizeArgs),
    /// Download the pinned public sources, resumable and verified.
    Fetch(cmd::fetch::FetchArgs),
    /// Write the bundled sample corpus as parquet and tar.bz2 files.
    Fixture(cmd::fixture::FixtureArgs),
    /// Run the text stages (read, clean, split, tokenize) into a sentence store.
    Prepare(cmd::prepare::PrepareArgs),
    /// Build example shards from the inputs: text stages, pairs, masking, shards, audit.
    Build(cmd::build::BuildArgs),
    /// Check a build's statistics and integrity against its recipe.
    Audit(cmd::audit::AuditArgs),
    /// Recompute every shard hash of a build and compare with its manifest and a golden one.
    Verify(cmd::verify::VerifyArgs),
    /// Print examples of a build as text or JSON lines.
    Inspect(cmd::inspect::InspectArgs),
    /// Find the steps, examples and positions at which a sentence, a document or a text
    /// was trained on (exit status 1 when nowhere).
    #[command(name = "where")]
    Where(cmd::r#where::WhereArgs),
    /// Count, for every token (or each term of a list), how often it had been seen and
    /// been an MLM target by each step, as one long table (parquet, CSV or JSON lines).
    Exposure(cmd::exposure::ExposureArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    exit_on_interrupt();
    match run(cli) {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("pipeline: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// SIGINT/SIGTERM end the process at once with a message: every file is written under a
/// temporary name and renamed when complete, so nothing half-written is ever kept, and a
/// re-run keeps what was finished.
fn exit_on_interrupt() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            eprintln!(
                "pipeline: interrupted; finished files are kept and unfinished ones discarded: run the same command again to resume"
            );
            std::process::exit(130);
        }
    });
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Some(threads) = cli.global.threads {
        anyhow::ensure!(threads > 0, "--threads must be at least 1");
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()?;
    }
    match cli.command {
        Command::Sentences(args) => cmd::sentences::run(&cli.global, args),
        Command::Tokenize(args) => cmd::tokenize::run(&cli.global, args),
        Command::Fetch(args) => cmd::fetch::run(&cli.global, args),
        Command::Fixture(args) => cmd::fixture::run(&cli.global, args),
        Command::Prepare(args) => cmd::prepare::run(&cli.global, args),
        Command::Build(args) => cmd::build::run(&cli.global, args),
        Command::Audit(args) => cmd::audit::run(&cli.global, args),
        Command::Verify(args) => cmd::verify::run(&cli.global, args),
        Command::Inspect(args) => cmd::inspect::run(&cli.global, args),
        Command::Where(args) => cmd::r#where::run(&cli.global, args),
        Command::Exposure(args) => cmd::exposure::run(&cli.global, args),
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}
