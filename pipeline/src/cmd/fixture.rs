//! `pipeline fixture --out DIR`: the bundled sample corpus in the published input formats.

use std::{path::PathBuf, process::ExitCode};

use earlyberts_pipeline::source::fixture::{FixtureCorpus, write_fixture};

use crate::GlobalArgs;

#[derive(clap::Args)]
pub struct FixtureArgs {
    /// Where to write `wikipedia/*.parquet` and `bookcorpus/*.{parquet,tar.bz2}`.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Another corpus in the sample's form (`wikipedia.txt`, `bookcorpus.txt`); the sample
    /// corpus (tests/fixtures/corpus, built into the binary) if not given.
    #[arg(long, value_name = "DIR")]
    pub corpus: Option<PathBuf>,
}

pub fn run(_global: &GlobalArgs, args: FixtureArgs) -> anyhow::Result<ExitCode> {
    let corpus = match &args.corpus {
        Some(dir) => FixtureCorpus::read(dir)?,
        None => FixtureCorpus::bundled(),
    };
    let files = write_fixture(&corpus, &args.out)?;
    for path in [
        &files.wikipedia_parquet,
        &files.bookcorpus_parquet,
        &files.bookcorpus_archive,
    ] {
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
