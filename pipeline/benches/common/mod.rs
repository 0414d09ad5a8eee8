//! Setup shared by the benchmarks.

use earlyberts_format::{Manifest, Vocab};
use earlyberts_pipeline::{
    examples::{BuildPairs, ExamplesFingerprint, StageRecord, write_examples},
    recipe::Recipe,
    store::SentenceStore,
};

/// The example stage of a full build of seed 1, as `pipeline build` runs it, for either
/// recipe kind.
pub fn write_all_examples(
    out: &std::path::Path,
    store: &SentenceStore,
    recipe: &Recipe,
    vocab: &Vocab,
) -> Manifest {
    let t = std::time::Instant::now();
    let pairs = BuildPairs::new(store, recipe, 1, None).unwrap();
    let paired = t.elapsed().as_secs_f64();
    // The reference kind counts its caps when its source is made.
    let source = pairs.source(store, recipe, vocab, 1).unwrap();
    let counted = t.elapsed().as_secs_f64();
    let fingerprint = ExamplesFingerprint::new(recipe, 1, store, pairs.len());
    let stages = StageRecord::new(store, &pairs, recipe, vocab);
    let manifest =
        write_examples(out, source.as_ref(), recipe, &fingerprint, &stages, &()).unwrap();
    let written = t.elapsed().as_secs_f64();
    println!(
        "  phases: pairs {paired:.2} s, caps {:.2} s, shards {:.2} s",
        counted - paired,
        written - counted
    );
    manifest
}
