//! `pipeline build --recipe R --seed S --out DIR`: inputs → sentence store → verified,
//! audited example shards. Stages whose outputs are present and match are skipped.

use std::{path::PathBuf, process::ExitCode, time::Instant};

use anyhow::{Context, bail};
use earlyberts_format::{Build, MANIFEST_FILE, Manifest, RecipeInfo, Vocab, verify::verify_build};
use earlyberts_pipeline::{
    audit::audit,
    examples::write_examples,
    pairs::Pairing,
    prepare::{TextPlan, hash_inputs, prepare},
    recipe::Recipe,
    store::{STORE_MANIFEST, SentenceStore, StoreManifest},
};

use crate::{
    GlobalArgs,
    cmd::audit::print_report,
    progress::{Bar, bytes_bar, count_bar},
};

/// Largest seed accepted: seeds are recorded and compared as integers, and the reference
/// runs use 0–4.
const MAX_SEED: u64 = u32::MAX as u64;
/// Examples the closing audit samples.
const AUDIT_SAMPLE: u64 = 10_000;

#[derive(clap::Args)]
pub struct BuildArgs {
    /// The recipe (e.g. manifests/recipes/earlyberts.toml).
    #[arg(long, value_name = "FILE")]
    pub recipe: PathBuf,
    /// The seed of the pairing, the order and the masking (the reference: 0–4).
    #[arg(long)]
    pub seed: u64,
    /// The build directory.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// BookCorpus inputs (globs), replacing the recipe's.
    #[arg(long = "books", value_name = "GLOB")]
    pub books: Vec<String>,
    /// Examples per shard, replacing the recipe's (this changes the recipe hash).
    #[arg(long, value_name = "N")]
    pub examples_per_shard: Option<u64>,
    /// Build only the first N examples of the training order (identical to the first N of
    /// a full build); 40,000 steps × 256 = 10,240,000 is what `trainer run` uses.
    #[arg(long, value_name = "N")]
    pub limit_examples: Option<u64>,
    /// The sentence store (default: OUT/store); builds of several seeds can share one.
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// vocab.txt, when the recipe's vocabulary is not the built-in uncased BERT one.
    #[arg(long, value_name = "FILE")]
    pub vocab: Option<PathBuf>,
    /// Wikipedia inputs (globs), replacing the recipe's.
    #[arg(long = "wiki", value_name = "GLOB")]
    pub wiki: Vec<String>,
}

pub fn run(global: &GlobalArgs, args: BuildArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let mut recipe = Recipe::load(&args.recipe)?;
    if let Some(n) = args.examples_per_shard {
        recipe.shards.examples_per_shard = n;
        recipe
            .validate()
            .map_err(anyhow::Error::msg)
            .context("--examples-per-shard")?;
    }
    if args.seed > MAX_SEED {
        bail!("--seed {} is out of range (0..={MAX_SEED})", args.seed);
    }
    let vocab = load_vocab(args.vocab.as_ref(), &recipe)?;
    let override_of = |globs: &[String]| (!globs.is_empty()).then(|| globs.to_vec());
    let inputs = recipe.input_files(
        override_of(&args.wiki).as_deref(),
        override_of(&args.books).as_deref(),
    )?;
    let store_dir = args.store.clone().unwrap_or_else(|| args.out.join("store"));
    // One writer per directory; the kernel releases the locks however the process ends.
    let _out_lock = earlyberts_format::DirLock::acquire(&args.out, "pipeline build")?;
    let _store_lock = earlyberts_format::DirLock::acquire(&store_dir, "pipeline build")?;

    // Stage 1: the sentence store.
    let plan = TextPlan {
        inputs,
        vocab: vocab.clone(),
        clean: recipe.text.clean,
        line_breaks: recipe.text.line_breaks,
        sentences_per_shard: recipe.text.sentences_per_shard,
        out: store_dir.clone(),
    };
    if store_is_current(&plan)? {
        eprintln!("store: up to date in '{}'", store_dir.display());
    } else {
        let bar = bytes_bar(0, global.quiet);
        bar.set_prefix("1/3 sentences");
        let manifest = prepare(&plan, &Bar(bar.clone()))
            .with_context(|| format!("cannot prepare '{}'", store_dir.display()))?;
        bar.finish_and_clear();
        eprintln!(
            "store: {} sentences, {} tokens from {} documents",
            manifest.totals.sentences, manifest.totals.tokens, manifest.totals.documents
        );
    }
    let store = SentenceStore::open(&store_dir)?;

    // Stage 2: the examples.
    let available =
        Pairing::new(store.len(), |i| store.document(i), &recipe.pairs, args.seed).len();
    let total = args.limit_examples.unwrap_or(available);
    if total > available {
        bail!("--limit-examples {total} is more than the {available} examples this corpus gives");
    }
    if examples_are_current(&args, &recipe, &store, total)? {
        eprintln!(
            "examples: up to date and verified in '{}'",
            args.out.display()
        );
    } else {
        let bar = count_bar(total, global.quiet);
        bar.set_prefix("2/3 examples");
        let manifest = write_examples(
            &args.out,
            &store,
            &recipe,
            &vocab,
            args.seed,
            args.limit_examples,
            &Bar(bar.clone()),
        )
        .with_context(|| format!("cannot build '{}'", args.out.display()))?;
        bar.finish_and_clear();
        eprintln!(
            "examples: {} in {} shards, root hash {}",
            manifest.totals.examples,
            manifest.shards.len(),
            manifest.root_hash
        );
    }

    // Stage 3: audit a sample.
    let build = Build::open(&args.out)?;
    let report = audit(&build, &recipe, &vocab, Some(&store), Some(AUDIT_SAMPLE))?;
    print_report(&report)?;
    eprintln!("build finished in {:.1} s", started.elapsed().as_secs_f64());
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn load_vocab(path: Option<&PathBuf>, recipe: &Recipe) -> anyhow::Result<Vocab> {
    let vocab = match path {
        Some(path) => Vocab::from_file(path)?,
        None => Vocab::bert_base_uncased(),
    };
    if vocab.sha256() != recipe.text.vocab_sha256 {
        bail!(
            "the recipe wants the vocabulary with sha256 {}, but '{}' has sha256 {}; pass it with --vocab",
            recipe.text.vocab_sha256,
            vocab.source().display(),
            vocab.sha256()
        );
    }
    let [_, end] = recipe.masking.random_token_range;
    if end as usize > vocab.len() {
        bail!(
            "masking.random_token_range ends at {end}, past the vocabulary's {} entries",
            vocab.len()
        );
    }
    Ok(vocab)
}

/// Whether the store exists and was made from the same inputs with the same parameters.
fn store_is_current(plan: &TextPlan) -> anyhow::Result<bool> {
    let path = plan.out.join(STORE_MANIFEST);
    let Ok(text) = std::fs::read(&path) else {
        return Ok(false);
    };
    let Ok(existing) = serde_json::from_slice::<StoreManifest>(&text) else {
        return Ok(false);
    };
    Ok(existing.inputs == hash_inputs(&plan.inputs)?
        && existing.vocab == plan.vocab.info()
        && existing.clean.rules == plan.clean
        && existing.line_breaks == plan.line_breaks
        && existing.sentences_per_shard == plan.sentences_per_shard
        && SentenceStore::open(&plan.out).is_ok())
}

/// Whether the build exists for the same recipe, seed, inputs and size, and verifies.
fn examples_are_current(
    args: &BuildArgs,
    recipe: &Recipe,
    store: &SentenceStore,
    total: u64,
) -> anyhow::Result<bool> {
    let Ok(existing) = Manifest::load(&args.out.join(MANIFEST_FILE)) else {
        return Ok(false);
    };
    let recipe_info = RecipeInfo::new(recipe.name.clone(), serde_json::to_value(recipe)?);
    let same = existing.recipe.hash == recipe_info.hash
        && existing.seed == args.seed
        && existing.inputs == store.manifest().inputs
        && existing.totals.examples == total;
    Ok(same && verify_build(&args.out, None, &())?.is_ok())
}
