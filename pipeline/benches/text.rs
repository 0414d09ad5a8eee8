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
    path::Path,
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

    let all_rules = CleanRules {
        control_chars: true,
        invisible: true,
        nfc: true,
        whitespace_runs: true,
        blank_lines: true,
    };
    let cleaner = TextCleaner::new(all_rules);
    let mut cleaned = String::new();
    report("clean (all rules on)", bytes, || {
        for d in &documents {
            cleaner.clean(d, &mut cleaned);
        }
    });

    let recipe = Recipe::load(&root.join("manifests/recipes/earlyberts-keyed.toml")).unwrap();
    let mut ranges = Vec::new();
    let mut sentences: Vec<&str> = Vec::new();
    // The keyed recipe's mode last: its sentences feed the stages below.
    // Three runs each, interleaved (the VM's speed drifts): compare the best.
    for round in 1..=3 {
        for mode in [LineBreaks::Paragraph, recipe.text.line_breaks] {
            let splitter = RuleSplitter::new(mode);
            report(&format!("split ({mode:?}, run {round})"), bytes, || {
                sentences.clear();
                for d in &documents {
                    ranges.clear();
                    splitter.split(d, &mut ranges);
                    sentences.extend(ranges.iter().map(|r| &d[r.clone()]));
                }
            });
        }
    }
    let sentence_bytes: usize = sentences.iter().map(|s| s.len()).sum();
    let fast = sentences
        .iter()
        .filter(|s| BertWordPiece::is_fast(s))
        .count();
    println!(
        "  {} sentences, {:.1}% on the tokenizer's fast path",
        sentences.len(),
        100.0 * fast as f64 / sentences.len() as f64
    );

    let tokenizer = BertWordPiece::new(&Vocab::bert_base_uncased()).unwrap();
    let mut ids = Vec::new();
    let tokenize_time = report(
        "tokenize (fast path + tokenizers fallback)",
        sentence_bytes,
        || {
            ids.clear();
            for s in &sentences {
                tokenizer.encode_into(s, &mut ids).unwrap();
            }
        },
    );
    println!(
        "  {:.1} M tokens/s",
        ids.len() as f64 / tokenize_time.as_secs_f64() / 1e6
    );
    let ascii: Vec<&str> = sentences
        .iter()
        .copied()
        .filter(|s| BertWordPiece::is_fast(s))
        .collect();
    let ascii_bytes: usize = ascii.iter().map(|s| s.len()).sum();
    report("tokenize (fast-path sentences only)", ascii_bytes, || {
        ids.clear();
        for s in &ascii {
            tokenizer.encode_into(s, &mut ids).unwrap();
        }
    });
    let sample = &sentences[..sentences.len() / 10];
    let sample_bytes: usize = sample.iter().map(|s| s.len()).sum();
    report(
        "tokenize (tokenizers crate only, 10% sample)",
        sample_bytes,
        || {
            ids.clear();
            for s in sample {
                tokenizer.encode_reference(s, &mut ids).unwrap();
            }
        },
    );

    let dir = tempfile::tempdir().unwrap();
    let files = 4;
    let per_file = documents.len().div_ceil(files);
    let mut inputs = Vec::new();
    for (i, part) in documents.chunks(per_file).enumerate() {
        let path = dir.path().join(format!("wiki-{i}.parquet"));
        write_parquet(
            &path,
            vec![(
                "text",
                Arc::new(StringArray::from(part.to_vec())) as ArrayRef,
            )],
        )
        .unwrap();
        inputs.push((CorpusKind::Wikipedia, path));
    }
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
                    write_all_examples(&build, &store, &recipe, &plan.vocab);
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

    let ewt = root.join("../shared/data/bench/en_ewt-ud-dev.conllu");
    match std::fs::read_to_string(&ewt) {
        Ok(text) => {
            let gold = eval::read_conllu(&text);
            for mode in [LineBreaks::Paragraph, recipe.text.line_breaks] {
                let score = eval::evaluate(&RuleSplitter::new(mode), &gold);
                println!(
                    "EWT dev boundaries ({mode:?}): precision {:.4} recall {:.4} F1 {:.4} ({score:?})",
                    score.precision(),
                    score.recall(),
                    score.f1()
                );
            }
        }
        Err(_) => println!("EWT dev: skipped ({} absent)", ewt.display()),
    }
    println!("peak RSS: {}", peak_rss());
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
