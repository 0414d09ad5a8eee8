//! The example stages over a sentence store: pair, mask, write — shards in training order,
//! in parallel, then the manifest.
//!
//! Example `k` depends only on the store, the recipe, the seed and `k` (its pair is
//! `Pairing::example(k)`, its masking stream is `(seed, "mask", k)`), so shards can be
//! written in any order on any number of threads, and a build limited to its first `N`
//! examples equals the first `N` of a full build.

use std::path::Path;

use earlyberts_format::random::{Stage, Stream};
use earlyberts_format::{
    BuildInfo, BuildWriter, Example, Manifest, RecipeInfo, SpecialTokens, Vocab, verify::Progress,
};
use rayon::prelude::*;

use crate::{Error, Result, pairs::Pairing, recipe::Recipe, store::SentenceStore};

/// Builds example `k` from the store.
pub struct ExampleMaker<'a> {
    store: &'a SentenceStore,
    pairing: Pairing,
    recipe: &'a Recipe,
    special: SpecialTokens,
    seed: u64,
}

impl<'a> ExampleMaker<'a> {
    /// Pairs the store's sentences for `seed`.
    pub fn new(
        store: &'a SentenceStore,
        recipe: &'a Recipe,
        vocab: &Vocab,
        seed: u64,
    ) -> ExampleMaker<'a> {
        let pairing = Pairing::new(store.len(), |i| store.document(i), &recipe.pairs, seed);
        ExampleMaker {
            store,
            pairing,
            recipe,
            special: vocab.special(),
            seed,
        }
    }

    /// The pairing (for its statistics and for audits).
    pub fn pairing(&self) -> &Pairing {
        &self.pairing
    }

    /// Example `k` of the training order; `first` and `second` are scratch buffers.
    pub fn example(&self, k: u64, first: &mut Vec<u16>, second: &mut Vec<u16>) -> Example {
        let pair = self.pairing.example(k);
        first.clear();
        second.clear();
        self.store.sentence_into(pair.first, first);
        self.store.sentence_into(pair.second, second);
        let mut stream = Stream::new(self.seed, Stage::Mask, k);
        self.recipe
            .masking
            .apply(first, second, pair.label, &self.special, &mut stream)
    }
}

/// Refuses a store whose ids refer to another vocabulary than `vocab`.
pub fn check_store(store: &SentenceStore, vocab: &Vocab, context: &Path) -> Result<()> {
    let recorded = &store.manifest().vocab;
    if recorded.sha256 != vocab.sha256() {
        return Err(Error::Store {
            path: context.to_path_buf(),
            reason: format!(
                "its ids refer to the vocabulary with sha256 {}, but the recipe's is {}; rebuild the store",
                recorded.sha256,
                vocab.sha256()
            ),
        });
    }
    Ok(())
}

/// Writes the first `limit` examples (all, if `None`) into `out`; `progress` advances by
/// examples.
pub fn write_examples(
    out: &Path,
    store: &SentenceStore,
    recipe: &Recipe,
    vocab: &Vocab,
    seed: u64,
    limit: Option<u64>,
    progress: &dyn Progress,
) -> Result<Manifest> {
    check_store(store, vocab, out)?;
    let maker = ExampleMaker::new(store, recipe, vocab, seed);
    let available = maker.pairing().len();
    let total = limit.unwrap_or(available);
    if total > available {
        return Err(Error::Recipe {
            path: out.to_path_buf(),
            reason: format!(
                "--limit-examples {total} is more than the {available} examples the corpus gives"
            ),
        });
    }
    progress.set_total(total);
    // Everything the shards' bytes depend on: a re-run with the same plan keeps the whole
    // shards an interrupted run left.
    let plan = serde_json::json!({
        "recipe": RecipeInfo::new(recipe.name.clone(), serde_json::to_value(recipe).expect("a recipe serialises")).hash,
        "seed": seed,
        "store": store.manifest().inputs,
        "vocab": store.manifest().vocab,
        "tokens": store.manifest().totals.tokens,
    });
    let writer = BuildWriter::resumable(out, recipe.shards, total, &plan)?;
    let shards = writer
        .shard_ranges()
        .into_par_iter()
        .enumerate()
        .map(|(index, range)| {
            let count = range.end - range.start;
            let entry = match writer.existing_shard(index) {
                Some(entry) => entry,
                None => {
                    let (mut first, mut second) = (Vec::new(), Vec::new());
                    let examples = range.map(|k| maker.example(k, &mut first, &mut second));
                    writer.write_shard(index, examples)?
                }
            };
            progress.advance(count);
            Ok(entry)
        })
        .collect::<Result<Vec<_>>>()?;
    let stages = serde_json::json!({
        "store": {
            "totals": store.manifest().totals,
            "clean": store.manifest().clean,
            "line_breaks": store.manifest().line_breaks,
        },
        "pairs": maker.pairing().stats(store.len()),
    });
    let info = BuildInfo {
        recipe: RecipeInfo::new(
            recipe.name.clone(),
            serde_json::to_value(recipe).expect("a recipe serialises"),
        ),
        seed,
        inputs: store.manifest().inputs.clone(),
        vocab: store.manifest().vocab.clone(),
        stages,
    };
    Ok(writer.commit(info, shards)?)
}
