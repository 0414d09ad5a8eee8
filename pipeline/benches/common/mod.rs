//! Setup shared by the benchmarks.

use earlyberts_format::{Manifest, Vocab};
use earlyberts_pipeline::{
    examples::{ExampleMaker, ExamplesFingerprint, write_examples},
    pairs::Pairing,
    recipe::Recipe,
    store::SentenceStore,
};

/// The example stage of a full build of seed 1, as `pipeline build` runs it.
pub fn write_all_examples(
    out: &std::path::Path,
    store: &SentenceStore,
    recipe: &Recipe,
    vocab: &Vocab,
) -> Manifest {
    let pairing = Pairing::of_store(store, &recipe.pairs, 1);
    let maker = ExampleMaker::new(store, &pairing, recipe, vocab, 1).unwrap();
    let fingerprint = ExamplesFingerprint::new(recipe, 1, store, pairing.len());
    let stages = serde_json::json!({});
    write_examples(out, &maker, recipe, &fingerprint, stages, &()).unwrap()
}
