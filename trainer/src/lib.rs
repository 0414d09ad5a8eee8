//! BERT pre-training on earlyberts builds, with burn.
//!
//! - [`model`]: `BertForPreTraining` as a tree of small modules configured by [`model::BertConfig`].
//! - [`data`]: the examples of each optimizer step, collated into padded micro-batches.
//! - [`schedule`]: Hugging Face's polynomial learning-rate schedule with warm-up.
//! - [`train`]: the loop — accumulation, loss, AdamW with PyTorch semantics.
//! - [`checkpoint`]: Hugging Face checkpoints (safetensors under `BertForPreTraining` names).
//!
//! Not yet here (see the trainer issue): `pytorch_model.bin` import, resume with optimizer
//! state, `publish`, `plot`, and parity fixtures against `transformers`.

pub mod checkpoint;
pub mod data;
pub mod model;
pub mod schedule;
pub mod train;
