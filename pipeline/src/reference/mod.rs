//! The `reference` recipe kind: the examples the EarlyBERTs reference script
//! (`preprocess.py`) writes, from the same rows, byte for byte (reference-exact.md).
//!
//! - [`mt19937`]: the generator of all three libraries, with jump-ahead.
//! - [`python`], [`numpy`], [`torch`]: each library's use of it, as the script calls them.
//! - [`rows`]: the row rules — the CSV round trip of Wikipedia sentences, BookCorpus lines.
//! - [`examples`]: pairs, order, batches, masking and the cap, for a run history.

pub mod examples;
pub mod mt19937;
pub mod numpy;
pub mod python;
pub mod rows;
pub mod torch;

pub use self::examples::{Caps, History, ReferenceMaker, ReferenceParams, ReferencePlan};
