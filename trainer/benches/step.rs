//! CPU training-step cost (burn-flex): full optimizer steps (forward + backward + AdamW, the
//! [`Trainer`] the binary runs) on a build of fixed-length examples, 8 sequences × 128 tokens
//! per step in one micro-batch, 15% of positions labelled. Prints step time, sequences/s and
//! tokens/s for `tiny` and BERT-base.
//!
//! `cargo bench -p earlyberts-trainer --bench step` (EARLYBERTS_BENCH_BASE=0 skips base).

use std::time::Instant;

use burn::backend::{Autodiff, Flex};
use earlyberts_format::{
    Build, BuildInfo, Example, NspLabel, RecipeInfo, ShardLayout, Vocab, write_build,
};
use earlyberts_trainer::{
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

/// 64 examples of exactly SEQ tokens: [CLS] A [SEP] B [SEP], every 7th position labelled.
fn fixed_length_build(dir: &std::path::Path) -> std::path::PathBuf {
    let examples: Vec<Example> = (0..64)
        .map(|k| {
            let mut token_ids: Vec<u16> = (0..SEQ)
                .map(|i| 1000 + ((k * SEQ + i) * 7919 % 20000) as u16)
                .collect();
            token_ids[0] = 101;
            token_ids[SEQ / 2 - 1] = 102;
            token_ids[SEQ - 1] = 102;
            let mlm_positions: Vec<u16> = (1..SEQ as u16 - 1).filter(|p| p % 7 == 3).collect();
            let mlm_labels = mlm_positions
                .iter()
                .map(|&p| token_ids[p as usize])
                .collect();
            for &p in &mlm_positions {
                token_ids[p as usize] = 103;
            }
            Example {
                token_ids,
                segment_a_len: (SEQ / 2) as u16,
                mlm_positions,
                mlm_labels,
                nsp_label: if k % 2 == 0 {
                    NspLabel::IsNext
                } else {
                    NspLabel::RandomNext
                },
            }
        })
        .collect();
    let info = BuildInfo {
        recipe: RecipeInfo::new("bench", serde_json::json!({})),
        seed: 0,
        inputs: vec![],
        vocab: Vocab::bert_base_uncased().info(),
        stages: serde_json::json!({}),
    };
    let out = dir.join("build");
    write_build(&out, ShardLayout::default(), info, &examples).expect("the build is written");
    out
}

fn measure(label: &str, config: BertConfig, build: &std::path::Path, steps: usize) {
    let device = Default::default();
    let feed = StepFeed::new(Build::open(build).expect("the build opens"), BATCH as u64);
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
