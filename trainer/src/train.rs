//! The training loop: for each optimizer step, its examples in micro-batches, the mean MLM
//! cross-entropy over labelled tokens plus the mean NSP cross-entropy, each micro-batch's
//! loss divided by the number of micro-batches (the reference's accumulation), then one
//! AdamW update with PyTorch semantics at the scheduled rate.
//!
//! A [`Trainer`] is the whole training state: model, optimizer moments and the number of
//! steps taken (which fixes the learning rate, the data cursor and the dropout stream), so
//! saving it and resuming gives the same bits as never stopping.

use std::time::Instant;

use burn::{
    module::{AutodiffModule, Module, ModuleVisitor, Param, ParamId},
    nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig},
    optim::{
        AdamW, AdamWConfig, GradientsAccumulator, GradientsParams, Optimizer,
        adaptor::OptimizerAdaptor, record::AdaptorRecord,
    },
    record::{BinBytesRecorder, FullPrecisionSettings, Recorder},
    tensor::{Tensor, backend::AutodiffBackend},
};
use earlyberts_format::{
    Invalid,
    random::{Stage, Stream},
    training::REFERENCE_TRAINING,
};
use serde::{Deserialize, Serialize};

use crate::{
    Error, Result,
    data::{PadTo, StepFeed, collate},
    model::BertForPreTraining,
    schedule::LearningRateSchedule,
    setting::Setting,
};

/// How to train.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub batch_size: u64,
    pub micro_batch: u64,
    pub schedule: LearningRateSchedule,
    pub beta_1: f32,
    pub beta_2: f32,
    pub epsilon: f32,
    pub weight_decay: f32,
    /// Micro-batches are padded to a multiple of this many positions (see
    /// [`crate::data::PadTo`]); 1 = to the longest sequence. Runs saved before it existed
    /// padded to the longest.
    #[serde(default = "one")]
    pub pad_multiple: u64,
    /// Keys the dropout stream (docs/DETERMINISM.md); irrelevant with dropout off.
    pub seed: u64,
}

impl TrainConfig {
    /// The reference ([`REFERENCE_TRAINING`]: batch 256, AdamW(0.9, 0.999, eps 1e-8, decay
    /// 0.01 on every parameter), its schedule), `micro_batch` examples a pass.
    pub fn reference(micro_batch: u64) -> TrainConfig {
        let r = REFERENCE_TRAINING;
        TrainConfig {
            batch_size: r.batch_size,
            micro_batch,
            schedule: LearningRateSchedule::reference(),
            // burn's AdamW takes f32: the nearest f32 of each value, as torch's f32 update
            // uses it.
            beta_1: r.beta_1 as f32,
            beta_2: r.beta_2 as f32,
            epsilon: r.epsilon as f32,
            weight_decay: r.weight_decay as f32,
            pad_multiple: 1,
            seed: 0,
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

    /// Refuses a micro-batch that does not divide the batch.
    pub fn check(&self) -> Result<(), Invalid> {
        if self.micro_batch == 0 || !self.batch_size.is_multiple_of(self.micro_batch) {
            return Err(Invalid::Unusable {
                field: Setting::MicroBatch.name().into(),
                value: self.micro_batch.to_string(),
                reason: format!("does not divide the batch size {}", self.batch_size),
            });
        }
        if !(1..=512).contains(&self.pad_multiple) {
            return Err(Invalid::out_of_range(
                Setting::PadMultiple.name(),
                self.pad_multiple,
                "1..=512",
            ));
        }
        Ok(())
    }
}

fn one() -> u64 {
    1
}

/// One step's JSON log line.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StepLog {
    pub step: u64,
    pub lr: f64,
    pub loss: f64,
    pub mlm_loss: f64,
    pub nsp_loss: f64,
    pub mlm_accuracy: f64,
    pub nsp_accuracy: f64,
    /// L2 norm of the accumulated gradient, before the update.
    pub grad_norm: f64,
    pub first_example: u64,
    pub last_example: u64,
    pub tokens: u64,
    pub examples_per_s: f64,
    pub tokens_per_s: f64,
    pub elapsed_s: f64,
}

type AdamWAdaptor<B> = OptimizerAdaptor<AdamW, BertForPreTraining<B>, B>;

/// A model being trained, with its optimizer state and position.
pub struct Trainer<B: AutodiffBackend> {
    model: BertForPreTraining<B>,
    optimizer: AdamWAdaptor<B>,
    config: TrainConfig,
    /// Optimizer steps already taken.
    position: u64,
    loss: CrossEntropyLoss<B>,
    device: B::Device,
    /// The position table's length: no micro-batch is padded past it.
    max_positions: usize,
    /// Wall time of earlier sessions (resume), for the log's `elapsed_s`.
    elapsed_before: f64,
    started: Instant,
    /// Time each phase of a step (`trainer bench`): waits for the device at each boundary.
    timing: Option<PhaseTimes>,
}

/// Seconds spent in each phase of the last step, when timing is on: collation and forward
/// (with the losses), backward (with the gradient accumulation), and the optimizer update
/// (with the gradient norm and the step's one read).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct PhaseTimes {
    pub forward_s: f64,
    pub backward_s: f64,
    pub optimizer_s: f64,
}

impl<B: AutodiffBackend> Trainer<B> {
    /// A trainer at step 0 with fresh optimizer moments.
    pub fn new(
        model: BertForPreTraining<B>,
        config: TrainConfig,
        device: &B::Device,
    ) -> Result<Trainer<B>> {
        config.check()?;
        let max_positions = model.bert.embeddings.position_embeddings.weight.dims()[0];
        Ok(Trainer {
            max_positions,
            model,
            optimizer: config.optimizer().init(),
            loss: CrossEntropyLossConfig::new().init(device),
            config,
            position: 0,
            device: device.clone(),
            elapsed_before: 0.0,
            started: Instant::now(),
            timing: None,
        })
    }

    /// A trainer that continues after `position` steps, with the optimizer moments that
    /// [`Trainer::optimizer_state`] saved for the same model.
    pub fn resume(
        model: BertForPreTraining<B>,
        config: TrainConfig,
        device: &B::Device,
        position: u64,
        optimizer_state: &[u8],
        elapsed_before: f64,
    ) -> Result<Trainer<B>> {
        let mut trainer = Trainer::new(model, config, device)?;
        let moments: Vec<Option<AdaptorRecord<AdamW, B>>> =
            BinBytesRecorder::<FullPrecisionSettings>::default()
                .load(optimizer_state.to_vec(), device)
                .map_err(|e| Error::OptimizerState {
                    reason: format!("does not load: {e}"),
                })?;
        let ids = param_ids(&trainer.model);
        if ids.len() != moments.len() {
            return Err(Error::OptimizerState {
                reason: format!("has {} parameters, the model {}", moments.len(), ids.len()),
            });
        }
        let record: <AdamWAdaptor<B> as Optimizer<BertForPreTraining<B>, B>>::Record = ids
            .into_iter()
            .zip(moments)
            .filter_map(|(id, m)| m.map(|m| (id, m)))
            .collect();
        trainer.optimizer = trainer.optimizer.load_record(record);
        trainer.position = position;
        trainer.elapsed_before = elapsed_before;
        Ok(trainer)
    }

    /// The optimizer moments, in the model's parameter order (parameter ids are random and
    /// not stored), as bytes for [`Trainer::resume`].
    pub fn optimizer_state(&self) -> Result<Vec<u8>> {
        let mut record = self.optimizer.to_record();
        let moments: Vec<Option<AdaptorRecord<AdamW, B>>> = param_ids(&self.model)
            .iter()
            .map(|id| record.remove(id))
            .collect();
        BinBytesRecorder::<FullPrecisionSettings>::default()
            .record(moments, ())
            .map_err(|e| Error::OptimizerState {
                reason: format!("does not serialise: {e}"),
            })
    }

    /// Optimizer steps taken so far.
    pub fn position(&self) -> u64 {
        self.position
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    pub fn model(&self) -> &BertForPreTraining<B> {
        &self.model
    }

    pub fn into_model(self) -> BertForPreTraining<B> {
        self.model
    }

    /// Seconds of training so far, earlier sessions included.
    pub fn elapsed(&self) -> f64 {
        self.elapsed_before + self.started.elapsed().as_secs_f64()
    }

    /// Runs the next optimizer step on its examples from `feed`.
    pub fn step(&mut self, feed: &StepFeed) -> Result<StepLog> {
        let step = self.position + 1;
        let step_started = Instant::now();
        let (examples, first_example, last_example) = feed.step(step)?;
        let pad = feed.pad();
        // Dropout masks are a function of (seed, step) alone, so a resumed run draws the same.
        B::seed(
            &self.device,
            Stream::new(self.config.seed, Stage::Dropout, step).next_u64(),
        );
        let micro_batches = (self.config.batch_size / self.config.micro_batch) as usize;
        let mut accumulator = GradientsAccumulator::new();
        let mut sums = Sums::<B>::default();
        let mut clock = PhaseClock::start(self.timing.is_some());
        for chunk in examples.chunks(self.config.micro_batch as usize) {
            let loss = self.forward(chunk, pad, micro_batches, &mut sums);
            clock.mark::<B>(&self.device, |t| &mut t.forward_s)?;
            let grads = GradientsParams::from_grads(loss.backward(), &self.model);
            accumulator.accumulate(&self.model, grads);
            clock.mark::<B>(&self.device, |t| &mut t.backward_s)?;
        }
        let grads = accumulator.grads();
        // The step's statistics stay on the device until this one read: a read drains the
        // backend's queue (and, on a GPU, the device), so one per step instead of ~200.
        let squares = grad_squares(&self.model, &grads);
        let stats = sums.read(squares);
        let lr = self.config.schedule.for_step(step);
        self.model = self.optimizer.step(lr, self.model.clone(), grads);
        clock.mark::<B>(&self.device, |t| &mut t.optimizer_s)?;
        if self.timing.is_some() {
            self.timing = Some(clock.times);
        }
        self.position = step;
        let n = micro_batches as f64;
        let seconds = step_started.elapsed().as_secs_f64();
        Ok(StepLog {
            step,
            lr,
            loss: (stats.mlm + stats.nsp) / n,
            mlm_loss: stats.mlm / n,
            nsp_loss: stats.nsp / n,
            mlm_accuracy: stats.mlm_hits / sums.mlm_count.max(1) as f64,
            nsp_accuracy: stats.nsp_hits / examples.len() as f64,
            grad_norm: stats.grad_squares.sqrt(),
            first_example,
            last_example,
            tokens: sums.tokens as u64,
            examples_per_s: examples.len() as f64 / seconds,
            tokens_per_s: sums.tokens as f64 / seconds,
            elapsed_s: self.elapsed(),
        })
    }

    /// Turns phase timing on or off; see [`Trainer::phase_times`].
    pub fn time_phases(&mut self, on: bool) {
        self.timing = on.then(PhaseTimes::default);
    }

    /// The last step's phase times, when timing is on.
    pub fn phase_times(&self) -> Option<PhaseTimes> {
        self.timing
    }

    /// The forward pass and losses of one micro-batch, divided by the number of
    /// micro-batches so that the accumulated gradient is the step's mean.
    fn forward(
        &self,
        examples: &[earlyberts_format::Example],
        pad: u16,
        micro_batches: usize,
        sums: &mut Sums<B>,
    ) -> Tensor<B, 1> {
        let pad_to = PadTo {
            multiple: self.config.pad_multiple as usize,
            limit: self.max_positions,
        };
        let batch = collate::<B>(examples, pad, pad_to, &self.device);
        sums.tokens += batch.tokens;
        let out = self.model.forward(
            batch.input_ids,
            batch.token_type_ids,
            batch.padding,
            batch.mlm_rows,
        );
        let nsp_loss = self
            .loss
            .forward(out.nsp_logits.clone(), batch.nsp_labels.clone());
        let nsp_hits = hits(out.nsp_logits, batch.nsp_labels);
        let (loss, mlm_loss, mlm_hits) = if batch.labelled > 0 {
            let mlm_loss = self
                .loss
                .forward(out.mlm_logits.clone(), batch.mlm_labels.clone());
            let mlm_hits = hits(out.mlm_logits, batch.mlm_labels);
            sums.mlm_count += batch.labelled;
            let stat = mlm_loss.clone().inner();
            (mlm_loss + nsp_loss.clone(), stat, mlm_hits)
        } else {
            let zero = Tensor::<B::InnerBackend, 1>::zeros([1], &self.device);
            (nsp_loss.clone(), zero.clone(), zero)
        };
        sums.add(Tensor::cat(
            vec![mlm_loss, nsp_loss.clone().inner(), mlm_hits, nsp_hits],
            0,
        ));
        loss.div_scalar(micro_batches as f64)
    }
}

/// Adds the time since the last mark to a phase, waiting for the device first; does
/// nothing when off, so an untimed step never waits.
struct PhaseClock {
    last: Option<Instant>,
    times: PhaseTimes,
}

impl PhaseClock {
    fn start(on: bool) -> PhaseClock {
        PhaseClock {
            last: on.then(Instant::now),
            times: PhaseTimes::default(),
        }
    }

    fn mark<B: AutodiffBackend>(
        &mut self,
        device: &B::Device,
        phase: impl Fn(&mut PhaseTimes) -> &mut f64,
    ) -> Result<()> {
        let Some(last) = self.last else {
            return Ok(());
        };
        crate::device::sync::<B>(device)?;
        let now = Instant::now();
        *phase(&mut self.times) += (now - last).as_secs_f64();
        self.last = Some(now);
        Ok(())
    }
}

/// A step's sums: on the device, `[MLM loss, NSP loss, MLM hits, NSP hits]` added up over
/// the micro-batches; on the host, the counts known without the device.
struct Sums<B: AutodiffBackend> {
    device: Option<Tensor<B::InnerBackend, 1>>,
    mlm_count: usize,
    tokens: usize,
}

impl<B: AutodiffBackend> Default for Sums<B> {
    fn default() -> Self {
        Sums {
            device: None,
            mlm_count: 0,
            tokens: 0,
        }
    }
}

/// The step's statistics, read from the device.
struct StepStats {
    mlm: f64,
    nsp: f64,
    mlm_hits: f64,
    nsp_hits: f64,
    grad_squares: f64,
}

impl<B: AutodiffBackend> Sums<B> {
    fn add(&mut self, stats: Tensor<B::InnerBackend, 1>) {
        self.device = Some(match self.device.take() {
            Some(sum) => sum + stats,
            None => stats,
        });
    }

    /// The one read of the step: the sums and the gradient's squared norm.
    fn read(&self, grad_squares: Tensor<B::InnerBackend, 1>) -> StepStats {
        let sums = self.device.clone().expect("a step has micro-batches");
        let values: Vec<f64> = crate::device::read(Tensor::cat(vec![sums, grad_squares], 0))
            .iter::<f64>()
            .collect();
        StepStats {
            mlm: values[0],
            nsp: values[1],
            mlm_hits: values[2],
            nsp_hits: values[3],
            grad_squares: values[4],
        }
    }
}

/// How many rows of `logits` have their largest value at the label, as a `[1]` float.
fn hits<B: AutodiffBackend>(
    logits: Tensor<B, 2>,
    labels: Tensor<B, 1, burn::tensor::Int>,
) -> Tensor<B::InnerBackend, 1> {
    let n = labels.dims()[0];
    let predicted = logits.inner().argmax(1).reshape([n]);
    predicted.equal(labels.inner()).float().sum()
}

/// The model's parameter ids in module order.
fn param_ids<B: AutodiffBackend>(model: &BertForPreTraining<B>) -> Vec<ParamId> {
    struct Ids(Vec<ParamId>);
    impl<B: burn::tensor::backend::Backend> ModuleVisitor<B> for Ids {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            self.0.push(param.id);
        }
    }
    let mut ids = Ids(Vec::new());
    model.visit(&mut ids);
    ids.0
}

/// The squared global L2 norm of `grads` over the model's parameters, as a `[1]` tensor on
/// the device.
fn grad_squares<B: AutodiffBackend>(
    model: &BertForPreTraining<B>,
    grads: &GradientsParams,
) -> Tensor<B::InnerBackend, 1> {
    struct Squares<'a, B: AutodiffBackend> {
        grads: &'a GradientsParams,
        sum: Option<Tensor<B::InnerBackend, 1>>,
    }
    impl<B: AutodiffBackend> ModuleVisitor<B> for Squares<'_, B> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
                let square = g.powi_scalar(2).sum();
                self.sum = Some(match self.sum.take() {
                    Some(sum) => sum + square,
                    None => square,
                });
            }
        }
    }
    let mut squares = Squares::<B> { grads, sum: None };
    model.visit(&mut squares);
    let device = model.bert.embeddings.word_embeddings.weight.device();
    squares.sum.unwrap_or_else(|| Tensor::zeros([1], &device))
}

/// The model without autodiff, for evaluation and export.
pub fn frozen<B: AutodiffBackend>(
    model: &BertForPreTraining<B>,
) -> BertForPreTraining<B::InnerBackend> {
    model.valid()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_optimizer_values_are_the_f32s_it_always_used() {
        let c = TrainConfig::reference(8);
        assert_eq!(
            (c.beta_1, c.beta_2, c.epsilon, c.weight_decay),
            (0.9f32, 0.999f32, 1e-8f32, 0.01f32)
        );
        assert_eq!((c.batch_size, c.micro_batch), (256, 8));
        assert_eq!(
            crate::model::BertConfig::base().dropout,
            REFERENCE_TRAINING.dropout
        );
        assert_eq!(
            REFERENCE_TRAINING.max_grad_norm, None,
            "the trainer never clips: a clipping reference needs it to"
        );
    }
}
