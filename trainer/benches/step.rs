//! CPU training-step cost (burn-flex): full optimizer steps (forward + backward + AdamW, the
//! [`Trainer`] the binary runs) on a build of fixed-length examples, 8 sequences × 128 tokens
//! per step in one micro-batch, 15% of positions labelled (`trainer bench` times the same on any
//! device and batch shape). Prints step time, sequences/s and
//! tokens/s for `tiny` and BERT-base.
//!
//! `cargo bench -p earlyberts-trainer --bench step` (EARLYBERTS_BENCH_BASE=0 skips base).

mod common;

use std::time::Instant;

use burn::backend::{Autodiff, Flex};
use common::{BATCH, SEQ, fixed_length_build, listing};
use earlyberts_format::{Build, Vocab};
use earlyberts_trainer::{
    data::StepFeed,
    model::BertConfig,
    train::{TrainConfig, Trainer},
};

type Cpu = Autodiff<Flex>;

fn main() {
    if listing() {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let build = fixed_length_build(dir.path(), 8 * BATCH);
    measure("tiny, 8 × 128 tokens", BertConfig::tiny(), &build, 6);
    if std::env::var("EARLYBERTS_BENCH_BASE").as_deref() != Ok("0") {
        measure("base, 8 × 128 tokens", BertConfig::base(), &build, 3);
    }
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
