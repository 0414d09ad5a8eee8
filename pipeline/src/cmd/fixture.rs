//! `pipeline fixture --out DIR`: the bundled sample corpus in the published input formats;
//! with `--synthetic SCALE`, a generated corpus of the real sources' shape and size.

use std::{path::PathBuf, process::ExitCode, time::Instant};

use earlyberts_pipeline::{
    source::fixture::{FixtureCorpus, write_fixture},
    synthetic::{SyntheticCorpus, TextPool},
};

use crate::GlobalArgs;

#[derive(clap::Args)]
pub struct FixtureArgs {
    /// Where to write `wikipedia/*.parquet` and `bookcorpus/*.{parquet,tar.bz2}`; with
    /// --synthetic, `wikipedia/20220301.en/*.parquet` and `bookcorpus/bookcorpus.tar.bz2`, as
    /// `pipeline fetch` lays them down under its --data-dir.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Another corpus in the sample's form (`wikipedia.txt`, `bookcorpus.txt`); the sample
    /// corpus (tests/fixtures/corpus, built into the binary) if not given.
    #[arg(long, value_name = "DIR", conflicts_with = "synthetic")]
    pub corpus: Option<PathBuf>,
    /// Generate a corpus of the real one's shape at this fraction of its size (1: 6.46 M
    /// Wikipedia articles in 41 parquet files and 74 M BookCorpus lines, about 25 GB of
    /// text), from real sentences recombined.
    #[arg(long, value_name = "SCALE", value_parser = parse_scale)]
    pub synthetic: Option<f64>,
    /// The seed of the generated corpus.
    #[arg(long, default_value_t = 0, requires = "synthetic")]
    pub seed: u64,
    /// Write Wikipedia as the reference's `wiki-sentences.csv` (one sentence a record, for
    /// `pipeline build --sentences`) instead of parquet articles.
    #[arg(long, requires = "synthetic")]
    pub sentences: bool,
    /// More real text to draw sentences from, besides the sample corpus: `.parquet` (column
    /// `text`), `.conllu` (`# text = ` lines) or prose.
    #[arg(long, value_name = "FILE", requires = "synthetic")]
    pub text: Vec<PathBuf>,
}

fn parse_scale(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(scale) if scale > 0.0 && scale <= 100.0 => Ok(scale),
        _ => Err(format!(
            "'{text}' is not a scale in (0, 100] (1: the real size)"
        )),
    }
}

pub fn run(_global: &GlobalArgs, args: FixtureArgs) -> anyhow::Result<ExitCode> {
    if let Some(scale) = args.synthetic {
        return synthetic(&args, scale);
    }
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

fn synthetic(args: &FixtureArgs, scale: f64) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let pool = TextPool::new(&args.text)?;
    let corpus = SyntheticCorpus {
        scale,
        seed: args.seed,
        sentences: args.sentences,
    };
    let files = corpus.write(&pool, &args.out)?;
    let seconds = started.elapsed().as_secs_f64();
    let bytes = files.wikipedia_text_bytes + files.book_text_bytes;
    let (wiki_pool, book_pool) = pool.sizes();
    eprintln!(
        "synthetic corpus: {} articles ({:.2} GB of text), {} BookCorpus lines ({:.2} GB), \
         recombined from {wiki_pool} + {book_pool} sentences, in {seconds:.1} s ({:.0} MB/s)",
        files.articles,
        files.wikipedia_text_bytes as f64 / 1e9,
        files.book_lines,
        files.book_text_bytes as f64 / 1e9,
        bytes as f64 / 1e6 / seconds.max(1e-9),
    );
    for path in files.wikipedia.iter().chain([&files.bookcorpus_archive]) {
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
