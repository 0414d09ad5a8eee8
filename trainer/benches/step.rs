//! CPU training-step cost (burn-flex): a full optimizer step of the `tiny` config (batch 8,
//! micro-batch 8), and one forward + backward + AdamW update of BERT-base on a micro-batch of
//! 8 sequences × 128 tokens. Prints step time and tokens/s.
//!
//! `cargo bench -p earlyberts-trainer --bench step` (EARLYBERTS_BENCH_BASE=0 skips base).

use std::time::Instant;

use burn::{
    backend::{Autodiff, Flex},
    nn::loss::CrossEntropyLossConfig,
    optim::{GradientsParams, Optimizer},
    tensor::{Bool, Int, Tensor, TensorData},
};
use earlyberts_trainer::{model::BertConfig, train::TrainConfig};

type Cpu = Autodiff<Flex>;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    measure("tiny, 8 × 128 tokens", BertConfig::tiny(), 8, 128, 5);
    if std::env::var("EARLYBERTS_BENCH_BASE").as_deref() != Ok("0") {
        measure("base, 8 × 128 tokens", BertConfig::base(), 8, 128, 2);
    }
}

/// Times `repeats` updates on one synthetic micro-batch (15% of positions labelled).
fn measure(label: &str, config: BertConfig, batch: usize, seq: usize, repeats: usize) {
    let device = Default::default();
    let mut model = config.init::<Cpu>(0, &device);
    let mut optimizer = TrainConfig::reference(batch as u64)
        .optimizer()
        .init::<Cpu, _>();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let ids: Vec<i64> = (0..batch * seq)
        .map(|i| 1000 + (i * 7919 % 20000) as i64)
        .collect();
    let types: Vec<i64> = (0..batch * seq)
        .map(|i| i64::from(i % seq >= seq / 2))
        .collect();
    let rows: Vec<i64> = (0..batch * seq)
        .filter(|i| i % 7 == 3)
        .map(|i| i as i64)
        .collect();
    let labels: Vec<i64> = rows.iter().map(|r| 2000 + r % 5000).collect();
    let n = rows.len();
    let mut times = Vec::new();
    for _ in 0..repeats {
        let started = Instant::now();
        let out = model.forward(
            Tensor::<Cpu, 2, Int>::from_data(TensorData::new(ids.clone(), [batch, seq]), &device),
            Tensor::<Cpu, 2, Int>::from_data(TensorData::new(types.clone(), [batch, seq]), &device),
            Tensor::<Cpu, 2, Bool>::from_data(
                TensorData::new(vec![false; batch * seq], [batch, seq]),
                &device,
            ),
            Tensor::<Cpu, 1, Int>::from_data(TensorData::new(rows.clone(), [n]), &device),
        );
        let nsp =
            Tensor::<Cpu, 1, Int>::from_data(TensorData::new(vec![0i64; batch], [batch]), &device);
        let mlm = Tensor::<Cpu, 1, Int>::from_data(TensorData::new(labels.clone(), [n]), &device);
        let loss = loss_fn.forward(out.mlm_logits, mlm) + loss_fn.forward(out.nsp_logits, nsp);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(1e-4, model, grads);
        times.push(started.elapsed().as_secs_f64());
    }
    let best = times.iter().cloned().fold(f64::INFINITY, f64::min);
    println!(
        "{label:<24} step {best:>8.3} s (best of {repeats})  {:>9.0} tokens/s  {:>7.1} sequences/s",
        (batch * seq) as f64 / best,
        batch as f64 / best
    );
}
