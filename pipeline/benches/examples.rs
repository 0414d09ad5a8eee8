//! Example-stage throughput of both recipe kinds: pair + mask + write on a generated
//! sentence store of 1,000,000 sentences (EARLYBERTS_BENCH_SENTENCES), on 1 and 2 threads,
//! then `verify` of the result; examples/s, tokens/s and peak RSS.
//!
//! `cargo bench -p earlyberts-pipeline --bench examples`

mod common;

use common::write_all_examples;
use std::time::Instant;

use earlyberts_format::{Vocab, verify::verify_build, write_atomic};
use earlyberts_pipeline::{
    clean::{CleanCounts, CleanRules},
    recipe::Recipe,
    split::LineBreaks,
    store::{STORE_MANIFEST, SentenceStore, StoreManifest, StoreTotals, StoreWriter},
    text::TextPlan,
};

/// The generated store's shard size.
const SENTENCES_PER_SHARD: u64 = 1 << 23;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let sentences: u64 = std::env::var("EARLYBERTS_BENCH_SENTENCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    let started = Instant::now();
    write_store(&store_dir, sentences);
    println!(
        "generated a store of {sentences} sentences in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let store = SentenceStore::open(&store_dir).unwrap();
    let vocab = Vocab::bert_base_uncased();
    for (kind, file) in [("keyed", "earlyberts-keyed"), ("reference", "earlyberts")] {
        let recipe_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../manifests/recipes/{file}.toml"));
        let mut recipe = Recipe::load(&recipe_path).unwrap();
        recipe.shards.examples_per_shard = 50_000;
        if let Ok(level) = std::env::var("EARLYBERTS_BENCH_ZSTD") {
            recipe.shards.zstd_level = level.parse().unwrap();
        }
        bench_kind(kind, &recipe, &store, &vocab, dir.path());
    }
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(str::to_owned)
        })
        .unwrap_or_default();
    println!("peak RSS: {}", rss.trim_start_matches("VmHWM:").trim());
}

/// The example stage of one recipe kind on 1 and 2 threads, then `verify` of the result.
fn bench_kind(
    kind: &str,
    recipe: &Recipe,
    store: &SentenceStore,
    vocab: &Vocab,
    dir: &std::path::Path,
) {
    for threads in [1, 2] {
        let out = dir.join(format!("{kind}-{threads}"));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let started = Instant::now();
        let manifest = pool.install(|| write_all_examples(&out, store, recipe, vocab));
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{kind}: pair + mask + write, {threads} thread(s): {} examples, {:.0} examples/s, {:.1} M tokens/s ({:.2} s)",
            manifest.totals.examples,
            manifest.totals.examples as f64 / seconds,
            manifest.totals.tokens as f64 / seconds / 1e6,
            seconds
        );
        let started = Instant::now();
        let report = pool.install(|| verify_build(&out, None, &()).unwrap());
        assert!(report.is_ok());
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{kind}: verify, {threads} thread(s): {:.2} GB/s of payload",
            report.payload_bytes as f64 / 1e9 / seconds
        );
    }
}

/// A store of `n` sentences of 5–60 word-piece ids, in documents of ~20 sentences.
fn write_store(dir: &std::path::Path, n: u64) {
    let mut writer = StoreWriter::new(dir, SENTENCES_PER_SHARD).unwrap();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move |bound: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % bound
    };
    let mut tokens = Vec::new();
    let mut total_tokens = 0;
    for i in 0..n {
        tokens.clear();
        tokens.extend((0..5 + next(56)).map(|_| 1000 + next(29_000) as u16));
        total_tokens += tokens.len() as u64;
        writer.push(&tokens, (i / 20) as u32).unwrap();
    }
    // The fingerprint of a plan with no inputs: the store's settings, made where a
    // real store's are.
    let plan = TextPlan::new(
        vec![],
        Vocab::bert_base_uncased(),
        CleanRules::default(),
        LineBreaks::Paragraph,
        SENTENCES_PER_SHARD,
        dir.to_path_buf(),
    );
    let totals = StoreTotals {
        documents: n.div_ceil(20),
        sentences: n,
        tokens: total_tokens,
        text_bytes: 0,
    };
    let shards = writer.finish().unwrap();
    let fingerprint = plan.fingerprint().unwrap();
    let manifest = StoreManifest::new(fingerprint, CleanCounts::default(), None, totals, shards);
    write_atomic(dir.join(STORE_MANIFEST), manifest.to_json().as_bytes()).unwrap();
}
