//! `trainer publish RUN --repo DIR`: a run's checkpoints as a git repository.

use std::{path::PathBuf, process::ExitCode};

use earlyberts_trainer::publish::publish;

#[derive(clap::Args)]
pub struct PublishArgs {
    /// The run directory (OUT/seedN) holding stepK/ checkpoints.
    run: PathBuf,
    /// The new repository's directory.
    #[arg(long, value_name = "DIR")]
    repo: PathBuf,
}

pub fn run(args: PublishArgs) -> anyhow::Result<ExitCode> {
    let steps = publish(&args.run, &args.repo)?;
    eprintln!(
        "trainer: '{}' has {} branches (step{} … step{}) and main; push with `git push --all`",
        args.repo.display(),
        steps.len(),
        steps[0],
        steps[steps.len() - 1]
    );
    Ok(ExitCode::SUCCESS)
}
