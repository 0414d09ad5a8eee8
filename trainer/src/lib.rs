//! BERT pre-training on earlyberts builds, with burn.
//!
//! - [`model`]: `BertForPreTraining` as a tree of small modules configured by [`model::BertConfig`].
//! - [`data`]: the examples of each optimizer step, collated into padded micro-batches.
//! - [`schedule`]: Hugging Face's polynomial learning-rate schedule with warm-up.
//! - [`train`]: the loop — accumulation, loss, AdamW with PyTorch semantics.
//!
//! Not yet here (see the trainer issue): Hugging Face checkpoint import/export, resume,
//! the checkpoint schedule, `publish`, `plot`, and parity fixtures against `transformers`.

pub mod checkpoint;
pub mod data;
pub mod model;
pub mod schedule;
pub mod train;
