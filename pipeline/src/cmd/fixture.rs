//! `pipeline fixture --out DIR`: the bundled sample corpus in the published input formats.

use std::{path::PathBuf, process::ExitCode};

use earlyberts_pipeline::source::fixture::write_fixture;

use crate::GlobalArgs;

#[derive(clap::Args)]
pub struct FixtureArgs {
    /// Where to write `wikipedia/*.parquet` and `bookcorpus/*.{parquet,tar.bz2}`.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The corpus sources.
    #[arg(long, value_name = "DIR", default_value = "tests/fixtures/corpus")]
    pub corpus: PathBuf,
}

pub fn run(_global: &GlobalArgs, args: FixtureArgs) -> anyhow::Result<ExitCode> {
    let files = write_fixture(&args.corpus, &args.out)?;
    for path in [
        &files.wikipedia_parquet,
        &files.bookcorpus_parquet,
        &files.bookcorpus_archive,
    ] {
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
