//! The example stages over a sentence store: pair, mask, write — shards in training order,
//! in parallel, then the manifest.
//!
//! Example `k` depends only on the store, the recipe, the seed and `k` (its pair is
//! `Pairing::example(k)`, its masking stream is `(seed, "mask", k)`), so shards can be
//! written in any order on any number of threads, and a build limited to its first `N`
//! examples equals the first `N` of a full build.

use std::{ops::Range, path::Path, sync::OnceLock};

use earlyberts_format::random::{Stage, Stream};
use earlyberts_format::{
    BuildInfo, BuildWriter, Example, InputFile, Manifest, RecipeInfo, SpecialTokens, Vocab,
    VocabInfo, verify::Progress,
};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use crate::stage::ExampleSource;
use crate::{
    Error, Result,
    mask::MaskingPolicy,
    pairs::{Pairing, PairingStats},
    recipe::{Recipe, RecipeKind},
    reference::{Caps, ReferenceMaker, ReferencePlan},
    store::{SentenceStore, StoreRecord},
};

/// Builds example `k` from the store.
pub struct ExampleMaker<'a> {
    store: &'a SentenceStore,
    pairing: &'a Pairing,
    masking: MaskingPolicy,
    special: SpecialTokens,
    seed: u64,
}

impl<'a> ExampleMaker<'a> {
    /// The examples of `pairing` over `store` for `seed`; refuses a store whose ids refer to
    /// another vocabulary than `vocab`.
    pub fn new(
        store: &'a SentenceStore,
        pairing: &'a Pairing,
        recipe: &Recipe,
        vocab: &Vocab,
        seed: u64,
    ) -> Result<ExampleMaker<'a>> {
        check_store(store, vocab)?;
        Ok(ExampleMaker {
            store,
            pairing,
            masking: recipe.masking,
            special: vocab.special(),
            seed,
        })
    }

    /// The pairing (for its statistics and for audits).
    pub fn pairing(&self) -> &Pairing {
        self.pairing
    }

    /// Example `k` of the training order; `first` and `second` are scratch buffers.
    pub fn example(&self, k: u64, first: &mut Vec<u16>, second: &mut Vec<u16>) -> Example {
        let pair = self.pairing.example(k);
        first.clear();
        second.clear();
        self.store.sentence_into(pair.first, first);
        self.store.sentence_into(pair.second, second);
        let mut stream = Stream::new(self.seed, Stage::Mask, k);
        self.masking
            .apply(first, second, pair.label, &self.special, &mut stream)
    }
}

impl ExampleSource for ExampleMaker<'_> {
    fn examples(&self, range: Range<u64>) -> Vec<Example> {
        let (mut first, mut second) = (Vec::new(), Vec::new());
        range
            .map(|k| self.example(k, &mut first, &mut second))
            .collect()
    }

    fn pair_counts(&self) -> (u64, u64) {
        (self.pairing.random_next_pairs(), self.pairing.len())
    }

    fn pair_is_consistent(&self, k: u64) -> bool {
        let pair = self.pairing.example(k);
        pair.label == earlyberts_format::NspLabel::RandomNext || pair.second == pair.first + 1
    }
}

/// Refuses a store whose ids refer to another vocabulary than `vocab`.
pub fn check_store(store: &SentenceStore, vocab: &Vocab) -> Result<()> {
    let recorded = &store.manifest().made_from.vocab;
    if recorded.sha256 != vocab.sha256() {
        return Err(Error::Store {
            path: store.dir().to_path_buf(),
            reason: format!(
                "its ids refer to the vocabulary with sha256 {}, but the recipe's is {}; rebuild the store",
                recorded.sha256,
                vocab.sha256()
            ),
        });
    }
    Ok(())
}

/// Everything the bytes of a build's shards depend on. A finished build whose manifest
/// records the same fingerprint (and verifies) is current; an interrupted build with the
/// same fingerprint keeps its finished shards (`partial.json` records it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExamplesFingerprint {
    /// The recipe's hash.
    pub recipe: String,
    pub seed: u64,
    /// The inputs the store was made from.
    pub inputs: Vec<InputFile>,
    pub vocab: VocabInfo,
    /// The store as the build records it: how it was made and what it holds.
    pub store: StoreRecord,
    /// Examples the build holds.
    pub examples: u64,
}

impl ExamplesFingerprint {
    /// The fingerprint of a build of `examples` examples of `recipe` over `store`.
    pub fn new(recipe: &Recipe, seed: u64, store: &SentenceStore, examples: u64) -> Self {
        let manifest = store.manifest();
        ExamplesFingerprint {
            recipe: recipe.info().hash,
            seed,
            inputs: manifest.made_from.inputs.clone(),
            vocab: manifest.made_from.vocab.clone(),
            store: manifest.record(),
            examples,
        }
    }

    /// The fingerprint a finished build records (`None` if its manifest does not say).
    pub fn of_manifest(manifest: &Manifest) -> Option<Self> {
        Some(ExamplesFingerprint {
            recipe: manifest.recipe.hash.clone(),
            seed: manifest.seed,
            inputs: manifest.inputs.clone(),
            vocab: manifest.vocab.clone(),
            store: crate::recorded::Recorded::of(manifest).store?,
            examples: manifest.totals.examples,
        })
    }
}

/// Writes the examples `0..fingerprint.examples` of `source` into `out`, shards in
/// parallel, then the manifest, which records `stages` (what each stage reported);
/// `progress` advances by examples.
pub fn write_examples(
    out: &Path,
    source: &dyn ExampleSource,
    recipe: &Recipe,
    fingerprint: &ExamplesFingerprint,
    stages: &StageRecord,
    progress: &dyn Progress,
) -> Result<Manifest> {
    let total = fingerprint.examples;
    progress.set_total(total);
    let plan = serde_json::to_value(fingerprint).expect("a fingerprint serialises");
    let writer = BuildWriter::resumable(out, recipe.shards, total, &plan)?;
    let shards = writer
        .shard_ranges()
        .into_par_iter()
        .enumerate()
        .map(|(index, range)| {
            let count = range.end - range.start;
            let entry = match writer.existing_shard(index) {
                Some(entry) => entry,
                None => writer.write_shard(index, &examples_in_parallel(source, range))?,
            };
            progress.advance(count);
            Ok(entry)
        })
        .collect::<Result<Vec<_>>>()?;
    let info = BuildInfo {
        recipe: recipe.info(),
        seed: fingerprint.seed,
        inputs: fingerprint.inputs.clone(),
        vocab: fingerprint.vocab.clone(),
        stages: serde_json::to_value(stages).expect("a stage record serialises"),
    };
    Ok(writer.commit(info, shards)?)
}

/// Examples per task below the shard: enough to amortise a task, small enough that a
/// build of one shard keeps every core busy.
const EXAMPLES_PER_TASK: u64 = 8192;

/// The examples of `range`, made in parallel pieces (whole runs of the source: the
/// reference kind makes a collator batch at once) and concatenated in order.
fn examples_in_parallel(source: &dyn ExampleSource, range: Range<u64>) -> Vec<Example> {
    let run = source.run_length().max(1);
    let piece = EXAMPLES_PER_TASK.div_ceil(run) * run;
    let starts: Vec<u64> = (range.start..range.end).step_by(piece as usize).collect();
    let pieces: Vec<Vec<Example>> = starts
        .into_par_iter()
        .map(|start| source.examples(start..(start + piece).min(range.end)))
        .collect();
    pieces.into_iter().flatten().collect()
}

impl Recipe {
    /// The recipe as a build records it: its name, parameters and their hash.
    pub fn info(&self) -> RecipeInfo {
        RecipeInfo::new(
            self.name.clone(),
            serde_json::to_value(self).expect("a recipe serialises"),
        )
    }
}

/// The pairs and order of a build, made the recipe kind's way.
pub enum BuildPairs {
    Keyed {
        pairing: Box<Pairing>,
        total: u64,
    },
    Reference {
        plan: Box<ReferencePlan>,
        /// Counted on first need (`BuildPairs::caps`): by the first example made, or the
        /// manifest's record.
        caps: OnceLock<Caps>,
    },
}

impl BuildPairs {
    /// Pairs `store` for `seed`; the build holds the first `limit` examples (all if `None`).
    pub fn new(
        store: &SentenceStore,
        recipe: &Recipe,
        seed: u64,
        limit: Option<u64>,
    ) -> Result<BuildPairs> {
        if let RecipeKind::Reference(params) = &recipe.kind {
            let plan = ReferencePlan::new(store, params, seed, limit)?;
            return Ok(BuildPairs::Reference {
                plan: Box::new(plan),
                caps: OnceLock::new(),
            });
        }
        let pairing = Pairing::of_store(store, &recipe.pairs, seed);
        let available = pairing.len();
        let total = limit.unwrap_or(available);
        if total > available {
            return Err(Error::TooManyExamples {
                requested: total,
                available,
            });
        }
        Ok(BuildPairs::Keyed {
            pairing: Box::new(pairing),
            total,
        })
    }

    /// Examples the build holds.
    pub fn len(&self) -> u64 {
        match self {
            BuildPairs::Keyed { total, .. } => *total,
            BuildPairs::Reference { plan, .. } => plan.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The two store sentences example `k` is made of (segment A's, segment B's).
    pub fn sentences(&self, k: u64) -> (u64, u64) {
        match self {
            BuildPairs::Keyed { pairing, .. } => {
                let pair = pairing.example(k);
                (pair.first, pair.second)
            }
            BuildPairs::Reference { plan, .. } => plan.rows_of_line(k),
        }
    }

    /// The reference kind's caps: its cap pass (a count over every example, in parallel
    /// by shard) the first time they are asked for. `None` for the keyed kind.
    fn caps(&self, store: &SentenceStore, recipe: &Recipe, vocab: &Vocab) -> Option<&Caps> {
        let BuildPairs::Reference { plan, caps } = self else {
            return None;
        };
        Some(caps.get_or_init(|| {
            let per = recipe.shards.examples_per_shard.max(1);
            let chunks: Vec<Range<u64>> = (0..plan.len().div_ceil(per))
                .map(|i| i * per..((i + 1) * per).min(plan.len()))
                .collect();
            Caps::count(plan, store, &recipe.masking, vocab, &chunks)
        }))
    }

    /// The examples over `store`: the keyed maker, or the reference's.
    pub fn source<'a>(
        &'a self,
        store: &'a SentenceStore,
        recipe: &Recipe,
        vocab: &Vocab,
        seed: u64,
    ) -> Result<Box<dyn ExampleSource + 'a>> {
        check_store(store, vocab)?;
        Ok(match self {
            BuildPairs::Keyed { pairing, .. } => {
                Box::new(ExampleMaker::new(store, pairing, recipe, vocab, seed)?)
            }
            BuildPairs::Reference { plan, .. } => {
                let caps = self.caps(store, recipe, vocab).expect("a reference build");
                Box::new(ReferenceMaker::new(
                    plan,
                    store,
                    &recipe.masking,
                    vocab,
                    caps,
                ))
            }
        })
    }

    /// What the pairing made of `store`'s sentences, for the manifest's `stages`.
    pub fn record(&self, store: &SentenceStore, recipe: &Recipe, vocab: &Vocab) -> PairsRecord {
        let sentences = store.len();
        match self {
            BuildPairs::Keyed { pairing, .. } => PairsRecord::Keyed(pairing.stats(sentences)),
            BuildPairs::Reference { plan, .. } => PairsRecord::Reference {
                pairing: PairingStats {
                    sentences,
                    pairs: plan.pairs(),
                    random_next_pairs: plan.random_next_pairs(),
                    unpaired_sentences: sentences - 2 * plan.pairs(),
                },
                capped_examples: self.caps(store, recipe, vocab).map_or(0, Caps::len),
            },
        }
    }
}

/// What a build's manifest records of its stages (`stages`): the store it was made from and
/// what the pairing made of it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StageRecord {
    pub store: StoreRecord,
    pub pairs: PairsRecord,
}

impl StageRecord {
    /// The record of a build of `pairs` over `store`.
    pub fn new(
        store: &SentenceStore,
        pairs: &BuildPairs,
        recipe: &Recipe,
        vocab: &Vocab,
    ) -> StageRecord {
        StageRecord {
            store: store.manifest().record(),
            pairs: pairs.record(store, recipe, vocab),
        }
    }
}

/// What the pairing made of the store's sentences (`stages.pairs`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum PairsRecord {
    Keyed(PairingStats),
    /// The reference's pairs, and the examples its 80 cap cut.
    Reference {
        #[serde(flatten)]
        pairing: PairingStats,
        capped_examples: u64,
    },
}
