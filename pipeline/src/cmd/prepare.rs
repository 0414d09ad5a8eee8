//! `pipeline prepare --recipe R --out DIR`: the text stages into a sentence store.

use std::{
    io::{self, Write},
    path::PathBuf,
    process::ExitCode,
    time::Instant,
};

use anyhow::Context;
use earlyberts_pipeline::{
    recipe::{InputOverrides, Recipe},
    split::spacy::SpacyPart,
    text::{TextPlan, prepare, prepare_part},
};

use crate::{
    GlobalArgs,
    cmd::{PartsArgs, SpacyArgs, flag_context},
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
    /// Also write Wikipedia's sentences, as split, to FILE in the form of the reference's
    /// `wiki-sentences.csv` (to run the reference script, or `build --sentences`, on them).
    #[arg(long, value_name = "FILE")]
    pub write_sentences: Option<PathBuf>,
    /// Only part K of N of the spaCy work (chunks of 1,024 articles numbered across every
    /// input, every N-th from K): its results go to OUT/rows/, no store is written. Parts
    /// can run at once, on machines sharing OUT; a `prepare` without --part then assembles
    /// the store from them, with their spaCy setup (no spaCy flags needed).
    #[arg(long, value_name = "K/N", value_parser = parse_part)]
    pub part: Option<(usize, usize)>,
    /// Print where OUT's spaCy work stands, as one JSON object, and do nothing else (no
    /// spaCy, no store): `store`, `parts` (N, null where no part has run), `setup`, `chunks`,
    /// `chunks_missing`, `parts_missing` (the K with missing chunks), `core_hours_missing`,
    /// `complete`. Exit status 0 when every chunk is split (`prepare` then makes the store
    /// without spaCy), 1 when chunks are missing.
    #[arg(long, conflicts_with_all = ["part", "write_sentences"])]
    pub parts_status: bool,
    #[command(flatten)]
    pub spacy: SpacyArgs,
    #[command(flatten)]
    pub parts: PartsArgs,
}

fn parse_part(text: &str) -> Result<(usize, usize), String> {
    let parsed = text
        .split_once('/')
        .and_then(|(k, n)| Some((k.parse().ok()?, n.parse().ok()?)));
    match parsed {
        Some((k, n)) if k < n => Ok((k, n)),
        _ => Err(format!("'{text}' is not K/N with 0 <= K < N")),
    }
}

pub fn run(global: &GlobalArgs, args: PrepareArgs) -> anyhow::Result<ExitCode> {
    let recipe = Recipe::load(&args.recipe)?;
    let vocab = recipe
        .vocabulary(args.vocab.as_deref())
        .map_err(flag_context)?;
    let globs = |globs: &[String]| (!globs.is_empty()).then(|| globs.to_vec());
    let inputs = InputOverrides {
        wikipedia: globs(&args.wiki),
        bookcorpus: globs(&args.books),
        sentences: None,
    };
    let mut plan = recipe
        .text_plan(vocab, &inputs, args.out.clone())
        .map_err(flag_context)?;
    plan.export_sentences = args.write_sentences.clone();
    plan.apply_spacy(&args.spacy.overrides(global.threads, Some(&args.parts)))
        .map_err(flag_context)?;
    if args.parts_status {
        return parts_status(&plan);
    }
    if let Some(part) = args.part {
        let Some(spacy) = plan.spacy_part(part).map_err(flag_context)? else {
            anyhow::bail!(
                "--part splits the spaCy work, and this recipe and these inputs run no spaCy"
            );
        };
        return run_part(global, &plan, &spacy, part);
    }
    let _lock = earlyberts_format::DirLock::acquire(&plan.out, "pipeline prepare")?;
    if !global.quiet {
        tell_spacy_work(&plan)?;
    }
    let bar = bytes_bar(plan.input_bytes(), global.quiet);
    bar.set_prefix("prepare (text bytes; total is the compressed input size)");
    let started = Instant::now();
    let prepared = prepare(&plan, &Bar(bar.clone()))
        .map_err(flag_context)
        .with_context(|| format!("cannot prepare '{}'", args.out.display()))?;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let t = prepared.manifest.totals;
    eprintln!(
        "prepared {} documents, {} sentences, {} tokens from {:.1} MB of text in {seconds:.1} s ({:.1} MB/s) into '{}'{}",
        t.documents,
        t.sentences,
        t.tokens,
        t.text_bytes as f64 / 1e6,
        t.text_bytes as f64 / 1e6 / seconds.max(1e-9),
        args.out.display(),
        crate::cmd::resumed(&prepared)
    );
    Ok(ExitCode::SUCCESS)
}

/// `--part K/N`: that part's spaCy work, and no store (no lock either: parts run at once).
fn run_part(
    global: &GlobalArgs,
    plan: &TextPlan,
    spacy: &SpacyPart,
    (k, n): (usize, usize),
) -> anyhow::Result<ExitCode> {
    let bar = bytes_bar(plan.input_bytes(), global.quiet);
    bar.set_prefix(format!("spaCy part {k}/{n}"));
    let started = Instant::now();
    let report = prepare_part(plan, spacy, &Bar(bar.clone()))
        .map_err(flag_context)
        .with_context(|| format!("cannot prepare part {k}/{n} in '{}'", plan.out.display()))?;
    bar.finish_and_clear();
    eprintln!(
        "part {k}/{n}: {} chunk{}, {} split now, {} were done already, in {:.1} s; assemble with `pipeline prepare` without --part once every part is done",
        report.chunks,
        if report.chunks == 1 { "" } else { "s" },
        report.computed,
        report.cached,
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

/// `--parts-status`: the store's spaCy work as JSON on stdout, what is missing in words on
/// stderr; no lock (it only reads, and parts may be running).
fn parts_status(plan: &TextPlan) -> anyhow::Result<ExitCode> {
    let (Some(missing), Some(setup)) = (
        plan.spacy_to_split().map_err(flag_context)?,
        plan.spacy_key(),
    ) else {
        anyhow::bail!(
            "--parts-status reports the spaCy work, and this recipe and these inputs run no spaCy"
        );
    };
    let status = missing.status(setup);
    let mut out = io::stdout().lock();
    writeln!(out, "{}", serde_json::to_string(&status)?)?;
    out.flush()?;
    if status.complete {
        return Ok(ExitCode::SUCCESS);
    }
    match status.parts {
        Some(_) => eprintln!("{missing}"),
        None => eprintln!("{missing}; no part has run for this store (`prepare --part K/N`)"),
    }
    Ok(ExitCode::from(1))
}

/// Says how much spaCy work this run does here, before it starts (hours, at full scale);
/// nothing where `prepare` refuses to do it (parts ran, and `--split-missing` is off).
fn tell_spacy_work(plan: &TextPlan) -> anyhow::Result<()> {
    if plan.assembles_parts()? {
        return Ok(());
    }
    if let Some(missing) = plan.spacy_to_split().map_err(flag_context)?
        && !missing.is_empty()
    {
        let workers = plan.spacy.as_ref().map_or(1, |s| s.options.workers.max(1));
        eprintln!(
            "spaCy splits {} of {} chunks here: about {:.1} core-hours, {:.1} h on {workers} workers",
            missing.chunks.len(),
            missing.total,
            missing.core_hours(),
            missing.core_hours() / workers as f64
        );
    }
    Ok(())
}
