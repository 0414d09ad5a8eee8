//! The cost of `trainer replay` for BERT-base on the CPU, timed as a user runs the command:
//! a random BERT-base initial checkpoint and target, one candidate build of 8 × 128-token
//! examples, `--steps 1` and `--steps 2` at `--batch-size 8 --micro-batch 8`. The
//! difference of the two is one replayed step; the rest is the fixed cost (reading both
//! checkpoints, building the model, comparing 110 M weights). Prints both and what the
//! EarlyBERTs replay (10 steps of 256, so 320 such steps per micro-batch size) would take.
//!
//! `cargo bench -p earlyberts-trainer --bench replay` (EARLYBERTS_BENCH_ROUNDS=N repeats).

mod common;

use std::{path::Path, process::Command, time::Instant};

use burn::backend::Flex;
use common::{BATCH, SEQ, fixed_length_build, listing};
use earlyberts_format::Vocab;
use earlyberts_trainer::{checkpoint::save_checkpoint, model::BertConfig};

fn main() {
    if listing() {
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let root = dir.path();
    fixed_length_build(root, 2 * BATCH);
    let config = BertConfig::base();
    for (name, seed) in [("init", 1), ("target", 2)] {
        let model = config.init::<Flex>(seed, &Default::default());
        save_checkpoint(
            &root.join(name),
            &model,
            &config,
            &Vocab::bert_base_uncased(),
        )
        .expect("a checkpoint is written");
    }
    let rounds: usize = std::env::var("EARLYBERTS_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(2);
    let (mut one, mut two) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        one.push(replay(root, 1));
        two.push(replay(root, 2));
    }
    let best = |times: &[f64]| times.iter().cloned().fold(f64::INFINITY, f64::min);
    let step = best(&two) - best(&one);
    let fixed = best(&one) - step;
    println!(
        "trainer replay, BERT-base on the CPU, {BATCH} × {SEQ} tokens per step: {step:.2} s per replayed step, {fixed:.2} s fixed (best of {rounds}: --steps 1 {:.2} s, --steps 2 {:.2} s)",
        best(&one),
        best(&two)
    );
    println!(
        "10 steps of 256 examples of {SEQ} tokens ≈ {:.0} min per candidate and micro-batch size",
        (320.0 * step + fixed) / 60.0
    );
}

/// Seconds of one `trainer replay` of `steps` steps.
fn replay(root: &Path, steps: u64) -> f64 {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .arg("replay")
        .arg("--init")
        .arg(root.join("init"))
        .arg("--target")
        .arg(root.join("target"))
        .arg("--build")
        .arg(root.join("build"))
        // The generated build records no recipe batch size (the reference's 256 then).
        .args(["--steps", &steps.to_string(), "--override-batch-size"])
        .args([
            "--batch-size",
            &BATCH.to_string(),
            "--micro-batch",
            &BATCH.to_string(),
        ])
        .args(["--device", "cpu", "-q"])
        .output()
        .expect("the trainer runs");
    // Exit 1: the random target matches no build, as expected.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    started.elapsed().as_secs_f64()
}
