//! `trainer bench`: the cost of full optimizer steps (forward, backward, AdamW) on the chosen
//! device, on fixed-length synthetic examples or on the first steps of a real build.
//!
//! Model FLOPs count the work this model does per step: 6 FLOPs per parameter per token
//! for the encoder's matrices (forward 2, backward 4), the attention products
//! (QKᵀ and AV: 2 · 2 · seq · hidden per token per layer, ×3 with backward), and the MLM
//! head on labelled positions only (6 · (hidden² + hidden · vocab) each). Embeddings,
//! LayerNorm, softmax and the optimizer are left out, as MFU conventionally does.

use std::{
    fs,
    path::{Path, PathBuf},
    time::Instant,
};

use burn::tensor::backend::AutodiffBackend;
use earlyberts_format::{
    Build, BuildInfo, Example, NspLabel, ShardLayout, training::REFERENCE_TRAINING, write_build,
};
use serde::Serialize;

use crate::{
    Error, Result,
    data::{PadTo, StepFeed},
    device::{HostWaits, OnDevice},
    model::{BertConfig, BertForPreTraining},
    run::{Start, TrainOptions, build_vocabulary, config_named, open_build, verify},
    train::{PhaseTimes, TrainConfig, Trainer},
};

/// What to time.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// `base`, `tiny` or a `config.json`.
    pub config: String,
    /// The device's name, for the report.
    pub device: String,
    /// Examples of exactly this many tokens (when `build` is `None`).
    pub seq: usize,
    /// The first steps of this build instead.
    pub build: Option<PathBuf>,
    /// The `vocab.txt` of `build`, when it is not the built-in one.
    pub vocab: Option<PathBuf>,
    /// Or synthetic examples with these lengths, one per line (in order, cycling).
    pub lengths: Option<PathBuf>,
    /// Examples per step; default: the build's, or the reference's on synthetic examples.
    pub batch_size: Option<u64>,
    /// Time `batch_size` on a build made for another.
    pub override_batch_size: bool,
    pub micro_batch: u64,
    /// See [`TrainConfig::pad_multiple`].
    pub pad_multiple: u64,
    /// Which steps are timed, and whether phase by phase.
    pub timing: Timing,
    /// The device's peak TFLOP/s, for MFU.
    pub peak_tflops: Option<f64>,
}

impl OnDevice for BenchOptions {
    type Output = BenchReport;

    /// Times full training steps on `device`.
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<BenchReport> {
        let config = config_named(&self.config)?;
        let opened = self.build.as_deref().map(open_build).transpose()?;
        let batch_size = match &opened {
            Some(build) => TrainOptions {
                batch_size: self.batch_size,
                override_batch_size: self.override_batch_size,
                ..TrainOptions::default()
            }
            .batch_size_on(build)?,
            None => self.batch_size.unwrap_or(REFERENCE_TRAINING.batch_size),
        };
        let train = TrainConfig {
            batch_size,
            pad_multiple: self.pad_multiple,
            ..TrainConfig::reference(self.micro_batch)
        };
        train.check()?;
        if let Some(build) = &opened {
            verify(build.dir())?;
        }
        let tmp = std::env::temp_dir().join(format!("earlyberts-bench-{}", std::process::id()));
        let n = batch_size as usize * (self.timing.warmup + self.timing.steps);
        let (build, data) = match (opened, &self.lengths) {
            (Some(build), _) => {
                let data = format!("build {}", build.dir().display());
                (build, data)
            }
            (None, Some(file)) => {
                let lengths = read_lengths(file, config.max_position_embeddings)?;
                let build = write_examples_build(&tmp, &examples_of_lengths(n, &lengths))?;
                (build, format!("lengths {}", file.display()))
            }
            (None, None) => {
                let build = write_examples_build(&tmp, &fixed_length_examples(n, self.seq))?;
                (build, format!("fixed {} tokens", self.seq))
            }
        };
        let vocab = build_vocabulary(
            build.dir(),
            &build,
            self.vocab.as_deref(),
            &Start::Random(0),
        )?;
        let feed = StepFeed::new(build, batch_size, &vocab);
        let model = config.init::<B>(0, &device);
        let timed = bench(model, &config, train, &feed, self.timing, &device);
        let _ = fs::remove_dir_all(&tmp);
        let timed = timed?;
        let step_s = median(&timed.times);
        let mean_tokens = timed.tokens.iter().sum::<u64>() as f64 / timed.tokens.len() as f64;
        let achieved = timed.flops / step_s / 1e12;
        Ok(BenchReport {
            config: self.config,
            device: self.device,
            data,
            batch_size,
            micro_batch: self.micro_batch,
            pad_multiple: self.pad_multiple,
            steps: self.timing.steps,
            first_step_s: timed.first_step_s,
            step_s,
            step_times_s: timed.times,
            phases: timed.phases,
            last_loss: timed.last_loss,
            sequences_per_s: batch_size as f64 / step_s,
            tokens_per_s: mean_tokens / step_s,
            model_tflops_per_step: timed.flops / 1e12,
            achieved_tflops: achieved,
            mfu: self.peak_tflops.map(|peak| achieved / peak),
            host_reads_per_step: timed.host_reads_per_step,
            syncs_per_step: timed.syncs_per_step,
        })
    }
}

/// `n` examples of exactly `seq` tokens: `[CLS] A [SEP] B [SEP]`, 15% of positions labelled.
pub fn fixed_length_examples(n: usize, seq: usize) -> Vec<Example> {
    examples_of_lengths(n, &[seq])
}

/// `n` synthetic examples whose lengths cycle through `lengths` (each at least 4):
/// `[CLS] A [SEP] B [SEP]` with A and B halves, 15% of positions labelled.
pub fn examples_of_lengths(n: usize, lengths: &[usize]) -> Vec<Example> {
    (0..n)
        .map(|k| {
            let seq = lengths[k % lengths.len()];
            assert!(seq >= 4, "an example needs at least 4 tokens");
            let mut token_ids: Vec<u16> = (0..seq)
                .map(|i| 1000 + ((k * seq + i) * 7919 % 20000) as u16)
                .collect();
            token_ids[0] = 101;
            token_ids[seq / 2 - 1] = 102;
            token_ids[seq - 1] = 102;
            let mlm_positions: Vec<u16> = (1..seq as u16 - 1)
                .filter(|p| (*p as usize * 20) % 133 < 20)
                .collect();
            let mlm_labels = mlm_positions
                .iter()
                .map(|&p| token_ids[p as usize])
                .collect();
            for &p in &mlm_positions {
                token_ids[p as usize] = 103;
            }
            Example {
                token_ids,
                segment_a_len: (seq / 2) as u16,
                mlm_positions,
                mlm_labels,
                nsp_label: if k % 2 == 0 {
                    NspLabel::IsNext
                } else {
                    NspLabel::RandomNext
                },
            }
        })
        .collect()
}

/// Sequence lengths, one per line, each in `4..=limit`.
pub fn read_lengths(path: &Path, limit: usize) -> Result<Vec<usize>> {
    let text = fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
    let bad = |line: usize, value: &str| Error::Data {
        reason: format!(
            "'{}' line {line}: '{value}' is not a sequence length in 4..={limit}",
            path.display()
        ),
    };
    let lengths = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| match l.trim().parse::<usize>() {
            Ok(n) if (4..=limit).contains(&n) => Ok(n),
            _ => Err(bad(i + 1, l.trim())),
        })
        .collect::<Result<Vec<_>>>()?;
    if lengths.is_empty() {
        return Err(Error::Data {
            reason: format!("'{}' has no sequence lengths", path.display()),
        });
    }
    Ok(lengths)
}

/// Writes `examples` as a build at `dir`.
pub fn write_examples_build(dir: &Path, examples: &[Example]) -> Result<Build> {
    let info = BuildInfo::synthetic("bench");
    write_build(dir, ShardLayout::default(), info, examples)?;
    Ok(Build::open(dir)?)
}

/// Model FLOPs of one training pass over `examples`, padded per micro-batch of `micro` as
/// `pad_to` says.
pub fn model_flops(config: &BertConfig, examples: &[Example], micro: usize, pad_to: PadTo) -> f64 {
    let (h, f, l, v) = (
        config.hidden_size as f64,
        config.intermediate_size as f64,
        config.num_hidden_layers as f64,
        config.vocab_size as f64,
    );
    let per_token_matrices = 6.0 * l * (4.0 * h * h + 2.0 * h * f);
    let mut flops = 0.0;
    for chunk in examples.chunks(micro.max(1)) {
        let longest = chunk.iter().map(|e| e.token_ids.len()).max().unwrap_or(0);
        let seq = pad_to.len(longest) as f64;
        let padded_tokens = seq * chunk.len() as f64;
        let attention = 3.0 * 4.0 * seq * h * l;
        let labelled: usize = chunk.iter().map(|e| e.mlm_positions.len()).sum();
        flops += padded_tokens * (per_token_matrices + attention)
            + labelled as f64 * 6.0 * (h * h + h * v);
    }
    flops
}

/// What `trainer bench` prints.
#[derive(Debug, Serialize)]
pub struct BenchReport {
    pub config: String,
    pub device: String,
    pub data: String,
    pub batch_size: u64,
    pub micro_batch: u64,
    pub pad_multiple: u64,
    pub steps: usize,
    /// Seconds of the very first step (on a GPU: kernel compilation and autotuning).
    pub first_step_s: f64,
    /// Median seconds per optimizer step after the warm-up steps.
    pub step_s: f64,
    /// Every timed step, in order.
    pub step_times_s: Vec<f64>,
    /// Median seconds of each phase over the timed steps; none with `--no-phases`.
    pub phases: Option<PhaseTimes>,
    /// The loss of the last step (finite, or the bench fails).
    pub last_loss: f64,
    pub sequences_per_s: f64,
    /// Real (unpadded) tokens per second.
    pub tokens_per_s: f64,
    pub model_tflops_per_step: f64,
    pub achieved_tflops: f64,
    /// `achieved_tflops` over `--peak-tflops`, when given.
    pub mfu: Option<f64>,
    /// Tensors a timed step copied to host memory ([`HostWaits`]): 1 (the step's
    /// statistics), as in `trainer run`.
    pub host_reads_per_step: f64,
    /// Explicit device waits per timed step: the bench's own, one after each phase of each
    /// micro-batch and one after the step, to time them; `trainer run` makes none.
    pub syncs_per_step: f64,
}

/// What [`bench()`] measured.
pub struct Timed {
    pub first_step_s: f64,
    /// The timed steps' seconds and real tokens.
    pub times: Vec<f64>,
    pub tokens: Vec<u64>,
    /// Median phase times over the timed steps, when timed.
    pub phases: Option<PhaseTimes>,
    /// Mean model FLOPs of a timed step.
    pub flops: f64,
    pub last_loss: f64,
    /// See [`BenchReport::host_reads_per_step`].
    pub host_reads_per_step: f64,
    /// See [`BenchReport::syncs_per_step`].
    pub syncs_per_step: f64,
}

/// Which steps [`bench()`] times.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// Untimed steps first (on a GPU: kernel compilation and autotuning).
    pub warmup: usize,
    /// Timed steps.
    pub steps: usize,
    /// Each phase (forward, backward, optimizer) apart: a device sync after each, which a
    /// GPU pays for; off, steps run as `trainer run` runs them.
    pub phases: bool,
}

/// Times optimizer steps as `timing` says.
pub fn bench<B: AutodiffBackend>(
    model: BertForPreTraining<B>,
    config: &BertConfig,
    train: TrainConfig,
    feed: &StepFeed,
    timing: Timing,
    device: &B::Device,
) -> Result<Timed> {
    let Timing {
        warmup,
        steps,
        phases: time_phases,
    } = timing;
    let micro = train.micro_batch as usize;
    let pad_to = PadTo {
        multiple: train.pad_multiple as usize,
        limit: config.max_position_embeddings,
    };
    let mut trainer = Trainer::new(model, train, device)?;
    trainer.time_phases(time_phases);
    let (mut times, mut tokens, mut phases, mut flops) = (vec![], vec![], vec![], 0.0);
    let (mut first_step_s, mut last_loss) = (0.0, f64::NAN);
    let mut waits_before = HostWaits::now();
    for i in 0..warmup + steps {
        if i == warmup {
            waits_before = HostWaits::now();
        }
        let step = trainer.position() + 1;
        let started = Instant::now();
        let log = trainer.step(feed)?;
        // Wait for queued kernels (a GPU backend runs asynchronously).
        crate::device::sync::<B>(device)?;
        let seconds = started.elapsed().as_secs_f64();
        last_loss = log.loss;
        if i == 0 {
            first_step_s = seconds;
        }
        if i >= warmup {
            times.push(seconds);
            tokens.push(log.tokens);
            phases.extend(trainer.phase_times());
            flops += model_flops(config, &feed.step(step)?.0, micro, pad_to);
        }
    }
    if !last_loss.is_finite() {
        return Err(Error::Diverged {
            step: trainer.position(),
            loss: last_loss,
        });
    }
    let phase = |f: fn(&PhaseTimes) -> f64| median(&phases.iter().map(f).collect::<Vec<_>>());
    let waits = HostWaits::now();
    let per_step = |n: u64| n as f64 / steps.max(1) as f64;
    Ok(Timed {
        host_reads_per_step: per_step(waits.reads - waits_before.reads),
        syncs_per_step: per_step(waits.syncs - waits_before.syncs),
        first_step_s,
        phases: time_phases.then(|| PhaseTimes {
            forward_s: phase(|p| p.forward_s),
            backward_s: phase(|p| p.backward_s),
            optimizer_s: phase(|p| p.optimizer_s),
        }),
        times,
        tokens,
        flops: flops / steps.max(1) as f64,
        last_loss,
    })
}

/// The median of `values` (not empty).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// `trainer bench --feed-only`: the data feed alone — steps read from a build and collated
/// into micro-batches on the device's backend, as `trainer run` makes them, with no model.
#[derive(Clone, Debug)]
pub struct FeedBench {
    pub build: PathBuf,
    pub vocab: Option<PathBuf>,
    pub batch_size: Option<u64>,
    pub override_batch_size: bool,
    pub micro_batch: u64,
    pub pad_multiple: u64,
    /// Steps `1..=steps` are read.
    pub steps: u64,
    /// For the report.
    pub device: String,
}

/// What `trainer bench --feed-only` prints.
#[derive(Debug, Serialize)]
pub struct FeedReport {
    pub device: String,
    pub data: String,
    pub batch_size: u64,
    pub micro_batch: u64,
    pub steps: u64,
    pub examples: u64,
    pub tokens: u64,
    pub seconds: f64,
    pub examples_per_s: f64,
    pub tokens_per_s: f64,
}

impl OnDevice for FeedBench {
    type Output = FeedReport;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<FeedReport> {
        let build = open_build(&self.build)?;
        let batch_size = TrainOptions {
            batch_size: self.batch_size,
            override_batch_size: self.override_batch_size,
            ..TrainOptions::default()
        }
        .batch_size_on(&build)?;
        TrainConfig {
            batch_size,
            pad_multiple: self.pad_multiple,
            ..TrainConfig::reference(self.micro_batch)
        }
        .check()?;
        let vocab = build_vocabulary(
            &self.build,
            &build,
            self.vocab.as_deref(),
            &Start::Random(0),
        )?;
        let feed = StepFeed::new(build, batch_size, &vocab);
        let pad_to = PadTo {
            multiple: self.pad_multiple as usize,
            limit: usize::MAX,
        };
        let started = Instant::now();
        let (mut examples, mut tokens) = (0, 0);
        for step in 1..=self.steps {
            let (batch, _, _) = feed.step(step)?;
            for micro in batch.chunks(self.micro_batch as usize) {
                tokens +=
                    crate::data::collate::<B>(micro, feed.pad(), pad_to, &device).tokens as u64;
            }
            examples += batch.len() as u64;
        }
        let seconds = started.elapsed().as_secs_f64();
        Ok(FeedReport {
            device: self.device,
            data: format!("build {}", self.build.display()),
            batch_size,
            micro_batch: self.micro_batch,
            steps: self.steps,
            examples,
            tokens,
            seconds,
            examples_per_s: examples as f64 / seconds.max(1e-9),
            tokens_per_s: tokens as f64 / seconds.max(1e-9),
        })
    }
}
