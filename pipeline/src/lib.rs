//! The earlyberts data pipeline: one module per stage, a plan that lists them, and the
//! checks over what they made.
//!
//! The stages, in data-flow order (sources → rows → sentences → tokens → store → pairs →
//! masks → shards):
//!
//! 1. [`fetch`] — download the pinned public sources, resumable and verified.
//! 2. [`source`] — read the corpora into rows (Wikipedia parquet, BookCorpus parquet or
//!    tar.bz2).
//! 3. [`clean`] — a recipe-chosen set of deterministic text rules.
//! 4. [`split`] — rule-based English sentence splitting (Wikipedia rows → sentences).
//! 5. [`tokenize`] — uncased BERT WordPiece (HF `tokenizers`, plus an exact fast path).
//! 6. [`store`] — tokenized sentences in corpus order, memory-mapped; [`text`] runs
//!    stages 2–6 over all inputs (`text::prepare`).
//! 7. [`pairs`] — next-sentence-prediction pairs and the training order.
//! 8. [`mask`] — static masking and the length rule.
//! 9. [`examples`] — pairs and masks into shards in training order, and the manifest
//!    (the shard format itself is `earlyberts-format`'s, shared with the trainer).
//!
//! Stages 7–9 for the `reference` recipe kind — the reference script's own random streams,
//! run history and row rules — are [`mod@reference`]'s.
//!
//! After them, [`provenance`]: the build's index of where each example came from, and the
//! queries `pipeline where` answers with it.
//!
//! Around them: [`recipe`] (every parameter of a build), [`recorded`] (what a build's
//! manifest records of them, read back typed), [`difference`] (which of them changed), [`plan`] (a build resolved once,
//! its stages listed in order, the skip and resume logic), [`disk`] (the space a stage
//! needs, checked before it writes), [`audit`] (does a build keep the recipe's promises),
//! [`oracles`] (the properties the tests and fuzzers check), [`synthetic`] (a generated
//! corpus of the real shape and size, for `make rehearse`). The traits of the text stages
//! live in [`stage`].

pub mod clean;
pub mod examples;
pub mod fetch;
pub mod mask;
pub mod pairs;
pub mod reference;
pub mod source;
pub mod split;
pub mod store;
pub mod text;
pub mod tokenize;

pub mod audit;
pub mod difference;
pub mod disk;
mod error;
pub mod exposure;
pub mod oracles;
pub mod plan;
pub mod provenance;
pub mod recipe;
pub mod recorded;
pub mod stage;
pub mod synthetic;

pub use error::{Error, Result, SpacyMissing};
