//! The earlyberts data pipeline, one module per stage, in data-flow order:
//!
//! 1. [`source`] — read the corpora (Wikipedia parquet, BookCorpus parquet or tar.bz2).
//! 2. [`clean`] — a recipe-chosen set of deterministic text rules.
//! 3. [`split`] — rule-based English sentence splitting.
//! 4. [`tokenize`] — uncased BERT WordPiece (HF `tokenizers`, plus an exact fast path).
//! 5. [`store`] — tokenized sentences in corpus order, memory-mapped.
//!
//! The traits of the text stages live in [`stage`]. Shards, manifests and verification
//! belong to `earlyberts-format`, shared with the trainer.

pub mod audit;
pub mod clean;
mod error;
pub mod examples;
pub mod fetch;
pub mod mask;
pub mod oracles;
pub mod pairs;
pub mod prepare;
pub mod recipe;
pub mod source;
pub mod split;
pub mod stage;
pub mod store;
pub mod tokenize;

pub use error::{Error, Result};
