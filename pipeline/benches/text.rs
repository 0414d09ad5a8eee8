//! Text-stage throughput on ≥ 100 MB of text, one core: clean, split, tokenize, and the
//! whole `prepare` (parquet → sentence store); plus the splitter's boundary F1 on UD
//! English-EWT and the process's peak RSS.
//!
//! `cargo bench -p earlyberts-pipeline --bench text` (EARLYBERTS_BENCH_MB sets the size).
//! The corpus repeats and shuffles the fixture corpus and ../shared/data/bench texts (used
//! when present, skipped when absent).

mod common;

use common::write_all_examples;
use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use arrow_array::{ArrayRef, StringArray};
use earlyberts_format::{Vocab, verify::verify_build};
use earlyberts_pipeline::{
    clean::{CleanRules, TextCleaner},
    recipe::Recipe,
    source::{CorpusKind, fixture::write_parquet},
    split::{LineBreaks, RuleSplitter, eval},
    stage::{Cleaner, SentenceSplitter, Tokenizer},
    store::SentenceStore,
    text::{TextPlan, prepare},
    tokenize::BertWordPiece,
};

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` / `cargo test --benches`
    }
    let megabytes: usize = std::env::var("EARLYBERTS_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let documents = corpus(&root, megabytes << 20);
    let bytes: usize = documents.iter().map(String::len).sum();
    println!(
        "corpus: {} documents, {:.1} MB",
        documents.len(),
        bytes as f64 / 1e6
    );
    let recipe = Recipe::load(&root.join("manifests/recipes/earlyberts-keyed.toml")).unwrap();
    bench_clean(&documents, bytes);
    let sentences = bench_split(&documents, bytes, recipe.text.line_breaks);
    bench_tokenize(&sentences);
    bench_prepare(&documents, bytes, &recipe);
    bench_ewt(&root, recipe.text.line_breaks);
    println!("peak RSS: {}", peak_rss());
}

/// Every cleaning rule over the corpus.
fn bench_clean(documents: &[String], bytes: usize) {
    let cleaner = TextCleaner::new(CleanRules::all());
    let mut cleaned = String::new();
    report("clean (all rules on)", bytes, || {
        for d in documents {
            cleaner.clean(d, &mut cleaned);
        }
    });
}

/// The rule splitter in `Paragraph` mode and the keyed recipe's `mode`, three runs each,
/// interleaved (the VM's speed drifts: compare the best); the sentences of `mode`.
fn bench_split(documents: &[String], bytes: usize, mode: LineBreaks) -> Vec<&str> {
    let mut ranges = Vec::new();
    let mut sentences: Vec<&str> = Vec::new();
    // The keyed recipe's mode last: its sentences feed the stages after.
    for round in 1..=3 {
        for mode in [LineBreaks::Paragraph, mode] {
            let splitter = RuleSplitter::new(mode);
            report(&format!("split ({mode:?}, run {round})"), bytes, || {
                sentences.clear();
                for d in documents {
                    ranges.clear();
                    splitter.split(d, &mut ranges);
                    sentences.extend(ranges.iter().map(|r| &d[r.clone()]));
                }
            });
        }
    }
    let fast = sentences
        .iter()
        .filter(|s| BertWordPiece::is_fast(s))
        .count();
    println!(
        "  {} sentences, {:.1}% on the tokenizer's fast path",
        sentences.len(),
        100.0 * fast as f64 / sentences.len() as f64
    );
    sentences
}

/// WordPiece over `sentences`: the whole tokenizer, its fast path alone, the `tokenizers`
/// crate alone (a 10% sample).
fn bench_tokenize(sentences: &[&str]) {
    let tokenizer = BertWordPiece::new(&Vocab::bert_base_uncased()).unwrap();
    let mut ids = Vec::new();
    let mut run = |name: &str, sentences: &[&str], reference: bool| {
        let bytes = sentences.iter().map(|s| s.len()).sum();
        let time = report(name, bytes, || {
            ids.clear();
            for s in sentences {
                match reference {
                    true => tokenizer.encode_reference(s, &mut ids).unwrap(),
                    false => tokenizer.encode_into(s, &mut ids).unwrap(),
                }
            }
        });
        (time, ids.len())
    };
    let (time, tokens) = run(
        "tokenize (fast path + tokenizers fallback)",
        sentences,
        false,
    );
    println!(
        "  {:.1} M tokens/s",
        tokens as f64 / time.as_secs_f64() / 1e6
    );
    let ascii: Vec<&str> = sentences
        .iter()
        .copied()
        .filter(|s| BertWordPiece::is_fast(s))
        .collect();
    run("tokenize (fast-path sentences only)", &ascii, false);
    let sample = &sentences[..sentences.len() / 10];
    run("tokenize (tokenizers crate only, 10% sample)", sample, true);
}

/// The whole `prepare` (parquet → store) and then the example stage, on 1 and 2 threads.
fn bench_prepare(documents: &[String], bytes: usize, recipe: &Recipe) {
    let dir = tempfile::tempdir().unwrap();
    let inputs = write_wikipedia(dir.path(), documents, 4);
    for threads in [1, 2] {
        let plan = TextPlan::new(
            inputs.clone(),
            Vocab::bert_base_uncased(),
            CleanRules::default(),
            recipe.text.line_breaks,
            1 << 23,
            dir.path().join(format!("store-{threads}")),
        );
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let plural = if threads == 1 { "" } else { "s" };
        let prepare_time = report(
            &format!("prepare (parquet → store, {threads} thread{plural})"),
            bytes,
            || {
                pool.install(|| prepare(&plan, &()).unwrap());
            },
        );
        let store = SentenceStore::open(&plan.out).unwrap();
        let build = dir.path().join(format!("build-{threads}"));
        let examples_time = report(
            &format!("  then pair + mask + write + verify ({threads}t)"),
            bytes,
            || {
                pool.install(|| {
                    write_all_examples(&build, &store, recipe, &plan.vocab);
                    assert!(verify_build(&build, None, &()).unwrap().is_ok());
                });
            },
        );
        println!(
            "{:<48} {:>8.1} MB/s of input text",
            format!("whole pipeline, parquet → verified shards ({threads}t)"),
            bytes as f64 / 1e6 / (prepare_time + examples_time).as_secs_f64()
        );
    }
}

/// `documents` as `files` Wikipedia parquet files in `dir`.
fn write_wikipedia(dir: &Path, documents: &[String], files: usize) -> Vec<(CorpusKind, PathBuf)> {
    let per_file = documents.len().div_ceil(files);
    let mut inputs = Vec::new();
    for (i, part) in documents.chunks(per_file).enumerate() {
        let path = dir.join(format!("wiki-{i}.parquet"));
        let texts = Arc::new(StringArray::from(part.to_vec())) as ArrayRef;
        write_parquet(&path, vec![("text", texts)]).unwrap();
        inputs.push((CorpusKind::Wikipedia, path));
    }
    inputs
}

/// The splitter's boundaries against UD English-EWT's gold ones (skipped when absent).
fn bench_ewt(root: &Path, mode: LineBreaks) {
    let ewt = root.join("../shared/data/bench/en_ewt-ud-dev.conllu");
    let Ok(text) = std::fs::read_to_string(&ewt) else {
        println!("EWT dev: skipped ({} absent)", ewt.display());
        return;
    };
    let gold = eval::read_conllu(&text);
    for mode in [LineBreaks::Paragraph, mode] {
        let score = eval::evaluate(&RuleSplitter::new(mode), &gold);
        println!(
            "EWT dev boundaries ({mode:?}): precision {:.4} recall {:.4} F1 {:.4} ({score:?})",
            score.precision(),
            score.recall(),
            score.f1()
        );
    }
}

/// Runs `work` once and prints MB/s for `bytes` of input.
fn report(label: &str, bytes: usize, mut work: impl FnMut()) -> Duration {
    let started = Instant::now();
    work();
    let elapsed = started.elapsed();
    println!(
        "{label:<48} {:>8.1} MB/s  ({:.2} s)",
        bytes as f64 / 1e6 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    elapsed
}

/// Documents of about 3 KB from the fixture and bench texts, shuffled, repeated to `target`.
fn corpus(root: &Path, target: usize) -> Vec<String> {
    let mut paragraphs: Vec<String> = Vec::new();
    let fixture =
        std::fs::read_to_string(root.join("tests/fixtures/corpus/wikipedia.txt")).unwrap();
    paragraphs.extend(
        fixture
            .split("\n\n")
            .filter(|p| !p.starts_with("###"))
            .map(|p| {
                p.lines()
                    .filter(|l| !l.starts_with("###"))
                    .collect::<Vec<_>>()
                    .join("\n")
            }),
    );
    let bench = root.join("../shared/data/bench");
    if let Ok(text) = std::fs::read_to_string(bench.join("pg5200.txt")) {
        paragraphs.extend(
            text.split("\r\n\r\n")
                .chain(text.split("\n\n"))
                .map(|p| p.replace("\r\n", " ").replace('\n', " ")),
        );
    }
    if let Ok(text) = std::fs::read_to_string(bench.join("en_ewt-ud-dev.conllu")) {
        paragraphs.extend(
            eval::read_conllu(&text)
                .into_iter()
                .map(|p| p.sentences.join(" ")),
        );
    }
    paragraphs.retain(|p| !p.trim().is_empty());
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move |bound: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % bound as u64) as usize
    };
    let mut documents = Vec::new();
    let mut total = 0;
    while total < target {
        let mut document = String::new();
        while document.len() < 3000 {
            if !document.is_empty() {
                document.push('\n');
            }
            document.push_str(&paragraphs[next(paragraphs.len())]);
        }
        total += document.len();
        documents.push(document);
    }
    documents
}

fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        })
        .unwrap_or_else(|| "unknown".into())
}
