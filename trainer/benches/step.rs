//! CPU training-step cost (burn-flex): full optimizer steps (forward + backward + AdamW, the
//! [`Trainer`] the binary runs) on a build of fixed-length examples, 8 sequences × 128 tokens
//! per step in one micro-batch, 15% of positions labelled (`trainer bench` times the same on any
//! device and batch shape). Prints step time, sequences/s and
//! tokens/s for `tiny` and BERT-base.
//!
//! `cargo bench -p earlyberts-trainer --bench step` (EARLYBERTS_BENCH_BASE=0 skips base).

use std::time::Instant;

use burn::backend::{Autodiff, Flex};
use earlyberts_format::{Build, Vocab};
use earlyberts_trainer::{
    bench,
    data::StepFeed,
    model::BertConfig,
    train::{TrainConfig, Trainer},
};

type Cpu = Autodiff<Flex>;

const BATCH: usize = 8;
const SEQ: usize = 128;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let build = fixed_length_build(dir.path());
    measure("tiny, 8 × 128 tokens", BertConfig::tiny(), &build, 6);
    if std::env::var("EARLYBERTS_BENCH_BASE").as_deref() != Ok("0") {
        measure("base, 8 × 128 tokens", BertConfig::base(), &build, 3);
    }
}

fn fixed_length_build(dir: &std::path::Path) -> std::path::PathBuf {
    let out = dir.join("build");
    bench::write_examples_build(&out, &bench::fixed_length_examples(64, SEQ))
        .expect("the build is written");
    out
}

fn measure(label: &str, config: BertConfig, build: &std::path::Path, steps: usize) {
    let device = Default::default();
    let feed = StepFeed::new(
        Build::open(build).expect("the build opens"),
        BATCH as u64,
        &Vocab::bert_base_uncased(),
    );
    let train = TrainConfig {
        batch_size: BATCH as u64,
        ..TrainConfig::reference(BATCH as u64)
    };
    let mut trainer =
        Trainer::new(config.init::<Cpu>(0, &device), train, &device).expect("a valid config");
    let mut times = Vec::new();
    for _ in 0..steps {
        let started = Instant::now();
        trainer.step(&feed).expect("a step");
        times.push(started.elapsed().as_secs_f64());
    }
    let best = times.iter().cloned().fold(f64::INFINITY, f64::min);
    println!(
        "{label:<24} step {best:>8.3} s (best of {steps})  {:>9.0} tokens/s  {:>7.1} sequences/s",
        (BATCH * SEQ) as f64 / best,
        BATCH as f64 / best
    );
}
