//! The training loop: for each optimizer step, its examples in micro-batches, the mean MLM
//! cross-entropy over labelled tokens plus the mean NSP cross-entropy, each micro-batch's
//! loss divided by the number of micro-batches (the reference's accumulation), then one
//! AdamW update with PyTorch semantics at the scheduled rate.

use std::time::Instant;

use burn::{
    module::AutodiffModule,
    nn::loss::CrossEntropyLossConfig,
    optim::{AdamWConfig, GradientsAccumulator, GradientsParams, Optimizer},
    tensor::{ElementConversion, Tensor, backend::AutodiffBackend},
};
use serde::Serialize;

use crate::{
    data::{StepFeed, collate},
    model::BertForPreTraining,
    schedule::LearningRateSchedule,
};

/// How to train.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    pub batch_size: u64,
    pub micro_batch: u64,
    pub schedule: LearningRateSchedule,
    pub beta_1: f32,
    pub beta_2: f32,
    pub epsilon: f32,
    pub weight_decay: f32,
    pub pad_id: u16,
}

impl TrainConfig {
    /// The reference: batch 256, AdamW(0.9, 0.999, eps 1e-8, decay 0.01 on every parameter).
    pub fn reference(micro_batch: u64) -> TrainConfig {
        TrainConfig {
            batch_size: 256,
            micro_batch,
            schedule: LearningRateSchedule::reference(),
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
            weight_decay: 0.01,
            pad_id: 0,
        }
    }

    /// burn's AdamW with every value set explicitly (its defaults differ from PyTorch's).
    pub fn optimizer(&self) -> AdamWConfig {
        AdamWConfig::new()
            .with_beta_1(self.beta_1)
            .with_beta_2(self.beta_2)
            .with_epsilon(self.epsilon)
            .with_weight_decay(self.weight_decay)
    }
}

/// One step's JSON log line.
#[derive(Clone, Debug, Serialize)]
pub struct StepLog {
    pub step: u64,
    pub lr: f64,
    pub loss: f64,
    pub mlm_loss: f64,
    pub nsp_loss: f64,
    pub mlm_accuracy: f64,
    pub nsp_accuracy: f64,
    pub first_example: u64,
    pub last_example: u64,
    pub tokens: u64,
    pub examples_per_s: f64,
    pub tokens_per_s: f64,
    pub elapsed_s: f64,
}

/// Trains `model` from step `first_step` to `last_step` (inclusive), calling `log` after
/// every step; returns the model.
pub fn train<B: AutodiffBackend>(
    mut model: BertForPreTraining<B>,
    feed: &StepFeed,
    config: &TrainConfig,
    steps: std::ops::RangeInclusive<u64>,
    device: &B::Device,
    mut log: impl FnMut(&StepLog, &BertForPreTraining<B>) -> anyhow::Result<()>,
) -> anyhow::Result<BertForPreTraining<B>> {
    anyhow::ensure!(
        config.micro_batch > 0 && config.batch_size.is_multiple_of(config.micro_batch),
        "--micro-batch {} does not divide the batch size {}",
        config.micro_batch,
        config.batch_size
    );
    let mut optimizer = config.optimizer().init::<B, BertForPreTraining<B>>();
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let micro_batches = (config.batch_size / config.micro_batch) as usize;
    let started = Instant::now();
    for step in steps {
        let step_started = Instant::now();
        let (examples, first_example, last_example) = feed.step(step)?;
        let mut accumulator = GradientsAccumulator::new();
        let (mut mlm_sum, mut nsp_sum, mut mlm_hits, mut mlm_count, mut nsp_hits, mut tokens) =
            (0.0, 0.0, 0usize, 0usize, 0usize, 0usize);
        for chunk in examples.chunks(config.micro_batch as usize) {
            let batch = collate::<B>(chunk, config.pad_id, device);
            tokens += batch.tokens;
            let out = model.forward(
                batch.input_ids,
                batch.token_type_ids,
                batch.padding,
                batch.mlm_rows,
            );
            let nsp_loss = loss_fn.forward(out.nsp_logits.clone(), batch.nsp_labels.clone());
            nsp_hits += count_hits(out.nsp_logits, batch.nsp_labels);
            let loss = if batch.labelled > 0 {
                let mlm_loss = loss_fn.forward(out.mlm_logits.clone(), batch.mlm_labels.clone());
                mlm_hits += count_hits(out.mlm_logits, batch.mlm_labels);
                mlm_count += batch.labelled;
                mlm_sum += mlm_loss.clone().into_scalar().elem::<f64>();
                mlm_loss + nsp_loss.clone()
            } else {
                nsp_loss.clone()
            };
            nsp_sum += nsp_loss.into_scalar().elem::<f64>();
            let loss: Tensor<B, 1> = loss.div_scalar(micro_batches as f64);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            accumulator.accumulate(&model, grads);
        }
        let lr = config.schedule.for_step(step);
        model = optimizer.step(lr, model, accumulator.grads());
        let (mlm_loss, nsp_loss) = (
            mlm_sum / micro_batches as f64,
            nsp_sum / micro_batches as f64,
        );
        let seconds = step_started.elapsed().as_secs_f64();
        let entry = StepLog {
            step,
            lr,
            loss: mlm_loss + nsp_loss,
            mlm_loss,
            nsp_loss,
            mlm_accuracy: mlm_hits as f64 / mlm_count.max(1) as f64,
            nsp_accuracy: nsp_hits as f64 / examples.len() as f64,
            first_example,
            last_example,
            tokens: tokens as u64,
            examples_per_s: examples.len() as f64 / seconds,
            tokens_per_s: tokens as f64 / seconds,
            elapsed_s: started.elapsed().as_secs_f64(),
        };
        log(&entry, &model)?;
    }
    Ok(model)
}

fn count_hits<B: AutodiffBackend>(
    logits: Tensor<B, 2>,
    labels: Tensor<B, 1, burn::tensor::Int>,
) -> usize {
    let n = labels.dims()[0];
    let predicted = logits.inner().argmax(1).reshape([n]);
    predicted
        .equal(labels.inner())
        .int()
        .sum()
        .into_scalar()
        .elem::<i64>() as usize
}

/// The model without autodiff, for evaluation and export.
pub fn frozen<B: AutodiffBackend>(
    model: &BertForPreTraining<B>,
) -> BertForPreTraining<B::InnerBackend> {
    model.valid()
}
