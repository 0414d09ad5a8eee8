//! `pipeline build --recipe R --seed S --out DIR`: inputs → sentence store → verified,
//! audited example shards. Stages whose outputs are present and match are skipped.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::Instant,
};

use anyhow::Context;
use earlyberts_format::provenance::PROVENANCE_RECORD_LEN;
use earlyberts_pipeline::{
    disk,
    plan::{BuildOptions, BuildPlan, BuildStage, Found, StageInfo, StageOutput, Unit},
    reference::History,
};

use crate::{
    GlobalArgs,
    cmd::{PartsArgs, SpacyArgs, audit::print_report, flag_context, resumed},
    progress::{Bar, bytes_bar, count_bar},
};

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
    /// How the reference script was run, replacing the recipe's (reference kind):
    /// `fresh`, `resumed` or `continued:C1,C2,…` (this changes the recipe hash).
    #[arg(long, value_name = "HISTORY", value_parser = parse_history)]
    pub history: Option<History>,
    /// Examples per shard, replacing the recipe's (this changes the recipe hash).
    #[arg(long, value_name = "N")]
    pub examples_per_shard: Option<u64>,
    /// Build only the first N examples of the training order (identical to the first N of
    /// a full build); 40,000 steps × 256 = 10,240,000 is what `trainer run` uses.
    #[arg(long, value_name = "N")]
    pub limit_examples: Option<u64>,
    /// The reference's own `wiki-sentences.csv` as Wikipedia's rows, in place of splitting
    /// the Wikipedia articles (`--wiki`).
    #[arg(long, value_name = "FILE", conflicts_with = "wiki")]
    pub sentences: Option<String>,
    /// The sentence store (default: OUT/store); builds of several seeds can share one.
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// vocab.txt, when the recipe's vocabulary is not the built-in uncased BERT one.
    #[arg(long, value_name = "FILE")]
    pub vocab: Option<PathBuf>,
    /// Wikipedia inputs (globs), replacing the recipe's.
    #[arg(long = "wiki", value_name = "GLOB")]
    pub wiki: Vec<String>,
    #[command(flatten)]
    pub spacy: SpacyArgs,
    #[command(flatten)]
    pub parts: PartsArgs,
}

impl BuildArgs {
    fn options(self, workers: Option<usize>) -> BuildOptions {
        let globs = |globs: Vec<String>| (!globs.is_empty()).then_some(globs);
        BuildOptions {
            recipe: self.recipe,
            seed: self.seed,
            out: self.out,
            store: self.store,
            vocab: self.vocab,
            wikipedia: globs(self.wiki),
            bookcorpus: globs(self.books),
            examples_per_shard: self.examples_per_shard,
            limit_examples: self.limit_examples,
            sentences: self.sentences.map(|file| vec![file]),
            history: self.history,
            spacy: self.spacy.overrides(workers, Some(&self.parts)),
        }
    }
}

fn parse_history(text: &str) -> Result<History, String> {
    History::parse(text)
        .ok_or_else(|| format!("'{text}' is not fresh, resumed or continued:C1,C2,…"))
}

pub fn run(global: &GlobalArgs, args: BuildArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let plan = BuildPlan::new(args.options(global.threads)).map_err(flag_context)?;
    let _locks = plan.lock("pipeline build")?;
    let mut state = plan.start();
    let stages = plan.stages();
    let mut passed = true;
    let mut times = Vec::with_capacity(stages.len());
    for (i, stage) in stages.iter().enumerate() {
        let StageInfo { name, unit, .. } = stage.info();
        let stage_started = Instant::now();
        match stage.current(&mut state).map_err(flag_context)? {
            Found::Current { dir, verified } => {
                times.push((name, stage_started.elapsed().as_secs_f64(), false));
                let verified = if verified { " and verified" } else { "" };
                eprintln!("{name}: up to date{verified} in '{}'", dir.display());
                continue;
            }
            Found::Stale { dir, why } => {
                eprintln!(
                    "{name}: '{}' is not current: {why}; making it again",
                    dir.display()
                )
            }
            Found::Missing => {}
        }
        let dir = stage.info().output.dir(&plan).to_path_buf();
        let left = stage.disk_needed(&mut state).map_err(flag_context)?;
        disk::check(&dir, name, left).map_err(flag_context)?;
        let bar = match unit {
            Unit::Bytes => bytes_bar(0, global.quiet),
            Unit::Examples => count_bar(0, global.quiet),
        };
        bar.set_prefix(format!("{}/{} {name}", i + 1, stages.len()));
        let output = stage
            .run(&mut state, &Bar(bar.clone()))
            .map_err(flag_context)
            .map_err(|e| on_full_disk(e, &dir, name, left))
            .with_context(|| failed(stage.as_ref(), &plan))?;
        bar.finish_and_clear();
        times.push((name, stage_started.elapsed().as_secs_f64(), true));
        passed &= render(&output)?;
    }
    let total = started.elapsed().as_secs_f64();
    eprintln!(
        "build finished in {total:.1} s ({})",
        stage_times(&times, total)
    );
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `store 0.1 s up to date; examples 12.3 s, 81%; …`: where a build's time went, from
/// `(stage, seconds, whether it ran)`.
fn stage_times(times: &[(&str, f64, bool)], total: f64) -> String {
    let parts: Vec<String> = times
        .iter()
        .map(|&(name, seconds, ran)| match ran {
            true => format!(
                "{name} {seconds:.1} s, {:.0}%",
                100.0 * seconds / total.max(1e-9)
            ),
            false => format!("{name} {seconds:.1} s up to date"),
        })
        .collect();
    parts.join("; ")
}

/// A stage stopped by a full disk (its estimate was short, or something else filled the
/// disk meanwhile) says how much it needed and that a rerun resumes.
fn on_full_disk(error: anyhow::Error, dir: &Path, stage: &str, left: u64) -> anyhow::Error {
    let full = error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::StorageFull)
    });
    if !full {
        return error;
    }
    let free = disk::free_bytes(dir).map_or(String::new(), |f| {
        format!(", {} free now", disk::size_text(f))
    });
    error.context(format!(
        "the disk of '{}' is full: the {stage} stage had about {} to write when it started{free}; \
         make space and run again (the build resumes)",
        dir.display(),
        disk::size_text(left)
    ))
}

/// The context of a stage's failure: what it could not make.
fn failed(stage: &dyn BuildStage, plan: &BuildPlan) -> String {
    let info = stage.info();
    format!("cannot {} '{}'", info.verb, info.output.dir(plan).display())
}

/// Prints what a stage made; false when it found a problem.
fn render(output: &StageOutput) -> anyhow::Result<bool> {
    match output {
        StageOutput::Store(prepared) => {
            let t = prepared.manifest.totals;
            eprintln!(
                "store: {} sentences, {} tokens from {} documents{}",
                t.sentences,
                t.tokens,
                t.documents,
                resumed(prepared)
            )
        }
        StageOutput::Examples(manifest) => eprintln!(
            "examples: {} in {} shards, root hash {}",
            manifest.totals.examples,
            manifest.shards.len(),
            manifest.root_hash
        ),
        StageOutput::Provenance(info) => eprintln!(
            "provenance: {} examples indexed ({:.1} MiB)",
            info.examples,
            (info.examples * PROVENANCE_RECORD_LEN as u64) as f64 / (1 << 20) as f64
        ),
        StageOutput::Audit(report) => {
            print_report(report)?;
            return Ok(report.is_ok());
        }
    }
    Ok(true)
}
