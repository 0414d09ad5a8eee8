//! `pipeline prepare --recipe R --out DIR`: the text stages into a sentence store.

use std::{path::PathBuf, process::ExitCode, time::Instant};

use anyhow::Context;
use earlyberts_pipeline::{
    prepare::{TextPlan, prepare},
    recipe::Recipe,
};

use crate::{
    GlobalArgs,
    cmd::build::load_vocab,
    progress::{Bar, bytes_bar},
};

#[derive(clap::Args)]
pub struct PrepareArgs {
    /// The recipe (e.g. manifests/recipes/earlyberts.toml).
    #[arg(long, value_name = "FILE")]
    pub recipe: PathBuf,
    /// Where to write the sentence store.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// BookCorpus inputs (globs), replacing the recipe's.
    #[arg(long = "books", value_name = "GLOB")]
    pub books: Vec<String>,
    /// vocab.txt, when the recipe's vocabulary is not the built-in uncased BERT one.
    #[arg(long, value_name = "FILE")]
    pub vocab: Option<PathBuf>,
    /// Wikipedia inputs (globs), replacing the recipe's.
    #[arg(long = "wiki", value_name = "GLOB")]
    pub wiki: Vec<String>,
}

pub fn run(global: &GlobalArgs, args: PrepareArgs) -> anyhow::Result<ExitCode> {
    let recipe = Recipe::load(&args.recipe)?;
    let vocab = load_vocab(args.vocab.as_ref(), &recipe)?;
    let override_of = |globs: &[String]| (!globs.is_empty()).then(|| globs.to_vec());
    let inputs = recipe.input_files(
        override_of(&args.wiki).as_deref(),
        override_of(&args.books).as_deref(),
    )?;
    let plan = TextPlan {
        inputs,
        vocab,
        clean: recipe.text.clean,
        line_breaks: recipe.text.line_breaks,
        sentences_per_shard: recipe.text.sentences_per_shard,
        out: args.out.clone(),
    };
    let _lock = earlyberts_format::DirLock::acquire(&plan.out, "pipeline prepare")?;
    let total: u64 = plan
        .inputs
        .iter()
        .filter_map(|(_, p)| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let bar = bytes_bar(total, global.quiet);
    bar.set_prefix("prepare (text bytes; total is the compressed input size)");
    let started = Instant::now();
    let manifest = prepare(&plan, &Bar(bar.clone()))
        .with_context(|| format!("cannot prepare '{}'", args.out.display()))?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let t = manifest.totals;
    eprintln!(
        "prepared {} documents, {} sentences, {} tokens from {:.1} MB of text in {seconds:.1} s ({:.1} MB/s) into '{}'",
        t.documents,
        t.sentences,
        t.tokens,
        t.text_bytes as f64 / 1e6,
        t.text_bytes as f64 / 1e6 / seconds.max(1e-9),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
