//! BERT pre-training on earlyberts builds, with burn.
//!
//! - [`model`]: `BertForPreTraining` as a tree of small modules configured by
//!   [`model::BertConfig`]; [`model::params`] describes every parameter once.
//! - [`data`]: the examples of each optimizer step, collated into padded micro-batches.
//! - [`schedule`]: Hugging Face's polynomial learning-rate schedule with warm-up.
//! - [`train`]: the [`train::Trainer`] — accumulation, loss, AdamW with PyTorch semantics.
//! - [`checkpoint`]: Hugging Face checkpoints in (safetensors, `pytorch_model.bin`) and out.
//! - [`state`]: the training state beside each checkpoint, for resume.
//! - [`run`]: [`run::RunPlan`] — a run resolved before training, and the training loop.
//! - [`replay`]: which build and micro-batch size made a checkpoint, by replaying its
//!   steps and comparing the updates.
//! - [`suite`]: an audit of a run's checkpoints (hashes, identical revisions, distances,
//!   updates against the learning rates), without replaying.
//! - [`device`]: CPU or CUDA, and the one dispatch from a choice to a backend.
//! - [`panics`]: the first panics of any thread, for an error that names the cause.
//! - [`publish`]: a run's checkpoints as a git repository with one branch per step.
//! - [`mod@bench`]: timing full training steps (`trainer bench`), model FLOPs.
//! - [`plot`]: loss, learning-rate and throughput curves of a run as SVG.
//!
//! Errors are [`Error`] (no command-line flag in any message: the binary adds them).

pub mod bench;
pub mod checkpoint;
pub mod data;
pub mod device;
mod error;
pub mod model;
pub mod panics;
pub mod plot;
pub mod publish;
pub mod replay;
pub mod run;
pub mod schedule;
pub mod setting;
pub mod state;
pub mod suite;
pub mod train;

pub use error::{Error, Result};
