//! The stages' traits, in pipeline order (the text stages: [`Cleaner`], [`SentenceSplitter`]
//! inside a [`ChunkSplitter`], [`Tokenizer`]; `crate::text` runs them). Each text stage is small, deterministic and
//! allocation-conscious: callers hand in output buffers that are reused across documents.
//! The example stage has one source per recipe kind ([`ExampleSource`]).

use std::ops::Range;

use earlyberts_format::Example;

use crate::source::ChunkAt;

/// The first text stage, [`Cleaner`] (and what it reports, [`CleanCounts`]), lives with its
/// rules in `crate::clean`, whose registry sizes the counts.
pub use crate::clean::{CleanCounts, Cleaner};

/// Splits text into sentences.
pub trait SentenceSplitter {
    /// Appends the byte range of every sentence of `text` to `out`, in order. Ranges are
    /// trimmed of whitespace, never empty, and together cover every non-whitespace
    /// character of `text`.
    fn split(&self, text: &str, out: &mut Vec<Range<usize>>);
}

/// Splits the documents of a chunk into sentences: a [`SentenceSplitter`] one document at a
/// time (the rule splitter), or spaCy a chunk at a time (its workers, its results on disk).
pub trait ChunkSplitter: Sync {
    /// Calls `sentence(document, text)` for every sentence of `documents` (the cleaned texts
    /// of the chunk at `at`), document by document, in order.
    fn split_chunk(
        &self,
        at: ChunkAt,
        documents: &[String],
        sentence: &mut dyn FnMut(usize, &str) -> Result<(), crate::Error>,
    ) -> Result<(), crate::Error>;
}

/// Turns one sentence into WordPiece ids.
pub trait Tokenizer {
    /// Appends the ids of `sentence` (no `[CLS]`/`[SEP]` added) to `out`.
    fn encode_into(&self, sentence: &str, out: &mut Vec<u16>) -> Result<(), crate::Error>;
}

/// Where a build's examples come from, for either recipe kind: any range on its own.
pub trait ExampleSource: Sync {
    /// Examples `range` of the training order.
    fn examples(&self, range: Range<u64>) -> Vec<Example>;
    /// The corpus's pairs with a random second sentence, and all its pairs.
    fn pair_counts(&self) -> (u64, u64);
    /// Whether example `k`'s pair keeps the pairing's promise: label 0 pairs a sentence
    /// with the one after it.
    fn pair_is_consistent(&self, k: u64) -> bool;
    /// Consecutive examples that are cheapest made together; an audit samples runs of
    /// this length.
    fn run_length(&self) -> u64 {
        1
    }
}
