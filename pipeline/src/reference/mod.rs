//! The `reference` recipe kind: the examples the EarlyBERTs reference script
//! (`preprocess.py`) writes, from the same rows, byte for byte (reference-exact.md).
//!
//! - [`mt19937`]: the generator of all three libraries, with jump-ahead.
//! - [`python`], [`numpy`], [`torch`]: each library's use of it, as the script calls them.
//! - [`rows`]: the row rules — the CSV round trip of Wikipedia sentences, BookCorpus lines.
//! - [`history`]: how the script was run, the recipe's `[reference]`.
//! - [`plan`]: pairs, order and the runs' collator batches, for a run history.
//! - [`examples`]: the masking and the cap: any range of examples of a plan.

pub mod examples;
pub mod history;
pub mod mt19937;
pub mod numpy;
pub mod plan;
pub mod python;
pub mod rows;
pub mod torch;

pub use self::{
    examples::{Caps, ReferenceMaker},
    history::{History, ReferenceParams},
    plan::ReferencePlan,
};
