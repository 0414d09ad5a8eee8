//! [`BuildPlan`]: what `pipeline build` will do, resolved once from the recipe, the inputs
//! and the options before any work starts; and its stages, in order.
//!
//! A build is a list of [`BuildStage`]s ([`BuildPlan::stages`]). Each stage knows its name,
//! what its output depends on (its fingerprint), whether the output already present is
//! current, and how to make it. The caller walks the list: a current stage is skipped, the
//! others run in order, each with a progress counter. The same fingerprint decides both
//! "current, skip it" and "resume the shards an interrupted run left", so the two cannot
//! disagree. What a stage finds or makes (the opened store, the pairing, its count) is kept
//! in [`BuildState`] and computed once for the stages after it.
//!
//! A recipe kind with other stages (another source of randomness, another row rule) is
//! another list: the walk, the skip logic and the manifest's stage record stay as they are.

use std::path::PathBuf;

use earlyberts_format::{
    Build, DirLock, Invalid, MANIFEST_FILE, Manifest, SHARD_DIR, Vocab,
    provenance::{PROVENANCE_RECORD_LEN, ProvenanceIndex, ProvenanceInfo},
    verify::Progress,
    verify::verify_build,
};

use crate::{
    Error, Result,
    audit::{AuditReport, audit},
    difference::{differences, made_otherwise},
    disk,
    examples::{BuildPairs, ExampleSource, ExamplesFingerprint, StageRecord, write_examples},
    provenance::write_provenance,
    recipe::{InputOverrides, Recipe, RecipeKind},
    reference::History,
    split::spacy::SpacyOverrides,
    store::SentenceStore,
    text::{Prepared, StoreState, TextPlan, prepare},
};

/// Largest seed accepted: seeds are recorded and compared as integers, and the reference
/// runs use 0–4.
pub const MAX_SEED: u64 = u32::MAX as u64;

/// Examples the closing audit samples.
pub const AUDIT_SAMPLE: u64 = 10_000;

/// What the caller asks for, before anything is resolved.
#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    /// The recipe file.
    pub recipe: PathBuf,
    pub seed: u64,
    /// The build directory.
    pub out: PathBuf,
    /// The sentence store (default: `out/store`).
    pub store: Option<PathBuf>,
    /// A `vocab.txt` (default: the built-in uncased BERT vocabulary).
    pub vocab: Option<PathBuf>,
    /// Wikipedia globs replacing the recipe's.
    pub wikipedia: Option<Vec<String>>,
    /// BookCorpus globs replacing the recipe's.
    pub bookcorpus: Option<Vec<String>>,
    /// Examples per shard replacing the recipe's (this changes the recipe hash).
    pub examples_per_shard: Option<u64>,
    /// Only the first N examples of the training order.
    pub limit_examples: Option<u64>,
    /// The reference's `wiki-sentences.csv` in place of Wikipedia's articles.
    pub sentences: Option<Vec<String>>,
    /// The run history replacing the recipe's (reference kind).
    pub history: Option<History>,
    /// Changes to the recipe's spaCy setup.
    pub spacy: SpacyOverrides,
}

/// A build, resolved: the recipe with its overrides, the vocabulary, the text plan.
pub struct BuildPlan {
    pub recipe: Recipe,
    pub vocab: Vocab,
    pub seed: u64,
    pub out: PathBuf,
    pub text: TextPlan,
    pub limit_examples: Option<u64>,
}

impl BuildPlan {
    /// Resolves `options`: loads and validates the recipe, applies the overrides, checks
    /// the vocabulary and expands the input globs. Nothing is written.
    pub fn new(options: BuildOptions) -> Result<BuildPlan> {
        let mut recipe = Recipe::load(&options.recipe)?;
        if let Some(n) = options.examples_per_shard {
            recipe.shards.examples_per_shard = n;
        }
        if let Some(history) = options.history {
            // Checked here, so that the error names the option it came from.
            history.validate().map_err(|e| match e {
                Invalid::Unusable { value, reason, .. } => Invalid::Unusable {
                    field: "history".into(),
                    value,
                    reason,
                },
                other => other,
            })?;
            let RecipeKind::Reference(reference) = &mut recipe.kind else {
                return Err(Error::Invalid(Invalid::Unusable {
                    field: "history".into(),
                    value: format!("{history:?}").to_lowercase(),
                    reason: "a history is what the reference kind reproduces; this recipe is keyed"
                        .into(),
                }));
            };
            reference.history = history;
        }
        recipe.validate()?;
        if options.seed > MAX_SEED {
            return Err(
                Invalid::out_of_range("seed", options.seed, format!("0..={MAX_SEED}")).into(),
            );
        }
        let vocab = recipe.vocabulary(options.vocab.as_deref())?;
        let store = options.store.unwrap_or_else(|| options.out.join("store"));
        let inputs = InputOverrides {
            wikipedia: options.wikipedia,
            bookcorpus: options.bookcorpus,
            sentences: options.sentences,
        };
        let mut text = recipe.text_plan(vocab.clone(), &inputs, store)?;
        text.apply_spacy(&options.spacy)?;
        Ok(BuildPlan {
            recipe,
            vocab,
            seed: options.seed,
            out: options.out,
            text,
            limit_examples: options.limit_examples,
        })
    }

    /// The stages of this recipe's builds, in the order they run. Both kinds share them:
    /// what differs is where the examples come from (`BuildState::source`).
    pub fn stages(&self) -> Vec<Box<dyn BuildStage>> {
        vec![
            Box::new(StoreStage),
            Box::new(ExampleStage),
            Box::new(ProvenanceStage),
            Box::new(AuditStage),
        ]
    }

    /// Takes the locks of the build directory and of the store (one writer each); the
    /// kernel releases them however the process ends.
    pub fn lock(&self, holder: &str) -> Result<[DirLock; 2]> {
        Ok([
            DirLock::acquire(&self.out, holder)?,
            DirLock::acquire(&self.text.out, holder)?,
        ])
    }

    /// A state to walk the stages with.
    pub fn start(&self) -> BuildState<'_> {
        BuildState {
            plan: self,
            store: None,
            pairs: None,
        }
    }
}

/// What the stages found or made so far; each part is computed once, when first needed.
pub struct BuildState<'p> {
    plan: &'p BuildPlan,
    store: Option<SentenceStore>,
    pairs: Option<BuildPairs>,
}

impl BuildState<'_> {
    /// The sentence store (opened on first use).
    pub fn store(&mut self) -> Result<&SentenceStore> {
        if self.store.is_none() {
            self.store = Some(SentenceStore::open(&self.plan.text.out)?);
        }
        Ok(self.store.as_ref().expect("opened above"))
    }

    /// The number of examples the build holds: all pairs, or the limit if one was given.
    pub fn examples(&mut self) -> Result<u64> {
        Ok(self.pairs()?.len())
    }

    /// Pairs the store once, the recipe kind's way.
    fn pairs(&mut self) -> Result<&BuildPairs> {
        if self.pairs.is_none() {
            let plan = self.plan;
            let store = self.store()?;
            let pairs = BuildPairs::new(store, &plan.recipe, plan.seed, plan.limit_examples)?;
            self.pairs = Some(pairs);
        }
        Ok(self.pairs.as_ref().expect("paired above"))
    }

    /// What the examples' bytes depend on.
    fn examples_fingerprint(&mut self) -> Result<ExamplesFingerprint> {
        let total = self.examples()?;
        let plan = self.plan;
        Ok(ExamplesFingerprint::new(
            &plan.recipe,
            plan.seed,
            self.store()?,
            total,
        ))
    }

    /// Where the examples come from.
    fn source(&mut self) -> Result<Box<dyn ExampleSource + '_>> {
        self.pairs()?;
        let plan = self.plan;
        let store = self.store.as_ref().expect("opened by pairs");
        let pairs = self.pairs.as_ref().expect("paired above");
        pairs.source(store, &plan.recipe, &plan.vocab, plan.seed)
    }

    /// Writes the provenance index of the finished build.
    fn provenance(&mut self, progress: &dyn Progress) -> Result<ProvenanceInfo> {
        let build = Build::open(&self.plan.out)?;
        self.pairs()?;
        let store = self.store.as_ref().expect("opened by pairs");
        let pairs = self.pairs.as_ref().expect("paired above");
        write_provenance(&build, pairs, store, &self.plan.recipe.masking, progress)
    }

    /// What the stages report, for the manifest's `stages`.
    fn stage_record(&mut self) -> Result<StageRecord> {
        self.pairs()?;
        let store = self.store.as_ref().expect("opened by pairs");
        let pairs = self.pairs.as_ref().expect("paired above");
        Ok(StageRecord::new(
            store,
            pairs,
            &self.plan.recipe,
            &self.plan.vocab,
        ))
    }
}

/// What a stage's progress counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Bytes,
    Examples,
}

/// What a stage found of its output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    /// There and current: the stage is skipped.
    Current {
        dir: PathBuf,
        /// Whether every file was re-hashed to establish it.
        verified: bool,
    },
    /// Not there, or not finished: the stage makes it.
    Missing,
    /// There, but made otherwise (`why`, in words): the stage makes it again.
    Stale { dir: PathBuf, why: String },
}

impl Found {
    fn current_if(current: bool, dir: &std::path::Path, verified: bool) -> Found {
        match current {
            true => Found::Current {
                dir: dir.to_path_buf(),
                verified,
            },
            false => Found::Missing,
        }
    }
}

/// What a stage made.
pub enum StageOutput {
    Store(Prepared),
    Examples(Manifest),
    Provenance(ProvenanceInfo),
    Audit(AuditReport),
}

/// What a stage is: its name in messages and progress bars, what it does to its output
/// (a failure says `cannot {verb} '{output}'`), which directory that is, and what its
/// progress counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StageInfo {
    pub name: &'static str,
    pub verb: &'static str,
    pub output: Output,
    pub unit: Unit,
}

/// The directory a stage writes (or checks).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// The sentence store.
    Store,
    /// The build directory.
    Build,
}

impl Output {
    /// The directory in `plan`.
    pub fn dir(self, plan: &BuildPlan) -> &std::path::Path {
        match self {
            Output::Store => &plan.text.out,
            Output::Build => &plan.out,
        }
    }
}

/// One stage of a build.
pub trait BuildStage {
    /// What it is.
    fn info(&self) -> StageInfo;
    /// Whether the output present is what [`BuildStage::run`] would make.
    fn current(&self, state: &mut BuildState) -> Result<Found>;
    /// Makes the output.
    fn run(&self, state: &mut BuildState, progress: &dyn Progress) -> Result<StageOutput>;
    /// About how many bytes [`BuildStage::run`] has still to write (an upper estimate, less
    /// what a resumed run already wrote), checked against the free space before it runs.
    fn disk_needed(&self, _state: &mut BuildState) -> Result<u64> {
        Ok(0)
    }
}

/// The text stages into the sentence store ([`prepare`]); shared by the seeds' builds.
struct StoreStage;

impl BuildStage for StoreStage {
    fn disk_needed(&self, state: &mut BuildState) -> Result<u64> {
        let text = &state.plan.text;
        let mut bytes = 0;
        for (_, path) in &text.inputs {
            bytes += crate::source::text_bytes_estimate(path)?;
        }
        let need = (bytes as f64 * disk::STORE_PER_TEXT_BYTE) as u64;
        Ok(need.saturating_sub(disk::used_bytes(&text.out)))
    }

    fn info(&self) -> StageInfo {
        StageInfo {
            name: "store",
            verb: "prepare",
            output: Output::Store,
            unit: Unit::Bytes,
        }
    }

    fn current(&self, state: &mut BuildState) -> Result<Found> {
        let text = &state.plan.text;
        Ok(match text.store_state()? {
            StoreState::Current => Found::current_if(true, &text.out, false),
            StoreState::Absent => Found::Missing,
            StoreState::Stale(why) => Found::Stale {
                dir: text.out.clone(),
                why,
            },
        })
    }

    fn run(&self, state: &mut BuildState, progress: &dyn Progress) -> Result<StageOutput> {
        Ok(StageOutput::Store(prepare(&state.plan.text, progress)?))
    }
}

/// Pairs, masks and writes the shards and the manifest ([`write_examples`]).
struct ExampleStage;

impl BuildStage for ExampleStage {
    /// An example holds two sentences of the store's mean length, and three tokens more.
    fn disk_needed(&self, state: &mut BuildState) -> Result<u64> {
        let examples = state.examples()? as f64;
        let totals = state.store()?.manifest().totals;
        let per_example = 2.0 * totals.tokens as f64 / totals.sentences.max(1) as f64 + 3.0;
        let need = (examples * per_example * disk::SHARD_PER_TOKEN) as u64;
        Ok(need.saturating_sub(disk::used_bytes(&state.plan.out.join(SHARD_DIR))))
    }

    fn info(&self) -> StageInfo {
        StageInfo {
            name: "examples",
            verb: "build",
            output: Output::Build,
            unit: Unit::Examples,
        }
    }

    fn current(&self, state: &mut BuildState) -> Result<Found> {
        let fingerprint = state.examples_fingerprint()?;
        let out = &state.plan.out;
        let Ok(existing) = Manifest::load(&out.join(MANIFEST_FILE)) else {
            return Ok(Found::Missing);
        };
        let stale = |why: String| Found::Stale {
            dir: out.clone(),
            why,
        };
        let Some(recorded) = ExamplesFingerprint::of_manifest(&existing) else {
            return Ok(stale(
                "its manifest does not record the store it was made from".into(),
            ));
        };
        let changed = differences(&recorded, &fingerprint);
        if !changed.is_empty() {
            return Ok(stale(made_otherwise(&changed)));
        }
        let report = verify_build(out, None, &())?;
        if let Some(problem) = report.problems.first() {
            return Ok(stale(format!("it does not verify: {problem}")));
        }
        Ok(Found::current_if(true, out, true))
    }

    fn run(&self, state: &mut BuildState, progress: &dyn Progress) -> Result<StageOutput> {
        let fingerprint = state.examples_fingerprint()?;
        let plan = state.plan;
        let record = state.stage_record()?;
        let source = state.source()?;
        let manifest = write_examples(
            &plan.out,
            source.as_ref(),
            &plan.recipe,
            &fingerprint,
            &record,
            progress,
        )?;
        Ok(StageOutput::Examples(manifest))
    }
}

/// The build's provenance index ([`write_provenance`]): which sentences each example holds.
struct ProvenanceStage;

impl BuildStage for ProvenanceStage {
    fn disk_needed(&self, state: &mut BuildState) -> Result<u64> {
        Ok(state.examples()? * PROVENANCE_RECORD_LEN as u64)
    }

    fn info(&self) -> StageInfo {
        StageInfo {
            name: "provenance",
            verb: "index",
            output: Output::Build,
            unit: Unit::Examples,
        }
    }

    fn current(&self, state: &mut BuildState) -> Result<Found> {
        let out = &state.plan.out;
        let Ok(build) = Build::open(out) else {
            return Ok(Found::Missing);
        };
        let intact = match ProvenanceIndex::open(&build) {
            Ok(index) => index.is_intact()?,
            Err(_) => false,
        };
        Ok(Found::current_if(intact, out, true))
    }

    fn run(&self, state: &mut BuildState, progress: &dyn Progress) -> Result<StageOutput> {
        Ok(StageOutput::Provenance(state.provenance(progress)?))
    }
}

/// Audits a sample of the finished build against the recipe and the store.
struct AuditStage;

impl BuildStage for AuditStage {
    fn info(&self) -> StageInfo {
        StageInfo {
            name: "audit",
            verb: "audit",
            output: Output::Build,
            unit: Unit::Examples,
        }
    }

    /// A check is never "current": it runs every time.
    fn current(&self, _state: &mut BuildState) -> Result<Found> {
        Ok(Found::Missing)
    }

    fn run(&self, state: &mut BuildState, _progress: &dyn Progress) -> Result<StageOutput> {
        let plan = state.plan;
        let build = Build::open(&plan.out)?;
        let source = state.source()?;
        let report = audit(
            &build,
            &plan.recipe,
            &plan.vocab,
            Some(source.as_ref()),
            Some(AUDIT_SAMPLE),
        )?;
        Ok(StageOutput::Audit(report))
    }
}
