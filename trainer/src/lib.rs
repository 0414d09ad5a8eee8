//! BERT pre-training on earlyberts builds, with burn.
//!
//! - [`model`]: `BertForPreTraining` as a tree of small modules configured by [`model::BertConfig`].
//! - [`data`]: the examples of each optimizer step, collated into padded micro-batches.
//! - [`schedule`]: Hugging Face's polynomial learning-rate schedule with warm-up.
//! - [`train`]: the [`train::Trainer`] — accumulation, loss, AdamW with PyTorch semantics.
//! - [`checkpoint`]: Hugging Face checkpoints in (safetensors, `pytorch_model.bin`) and out.
//! - [`state`]: the training state beside each checkpoint, for resume.
//! - [`device`]: `--device cpu|cuda[:N]`.
//! - [`publish`]: a run's checkpoints as a git repository with one branch per step.
//! - [`mod@bench`]: timing full training steps (`trainer bench`), model FLOPs.
//! - [`plot`]: loss, learning-rate and throughput curves of a run as SVG.

pub mod bench;
pub mod checkpoint;
pub mod data;
pub mod device;
pub mod model;
pub mod plot;
pub mod publish;
pub mod schedule;
pub mod state;
pub mod train;
