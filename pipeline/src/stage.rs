//! The text stages' traits, in pipeline order. Each stage is small, deterministic and
//! allocation-conscious: callers hand in output buffers that are reused across documents.

use std::ops::Range;

/// Rewrites raw corpus text by a fixed set of rules before sentence splitting.
pub trait Cleaner {
    /// Cleans `text` into `out` (cleared first) and returns what each rule changed.
    fn clean(&self, text: &str, out: &mut String) -> crate::clean::CleanCounts;
}

/// Splits text into sentences.
pub trait SentenceSplitter {
    /// Appends the byte range of every sentence of `text` to `out`, in order. Ranges are
    /// trimmed of whitespace, never empty, and together cover every non-whitespace
    /// character of `text`.
    fn split(&self, text: &str, out: &mut Vec<Range<usize>>);
}

/// Turns one sentence into WordPiece ids.
pub trait Tokenizer {
    /// Appends the ids of `sentence` (no `[CLS]`/`[SEP]` added) to `out`.
    fn encode_into(&self, sentence: &str, out: &mut Vec<u16>) -> Result<(), crate::Error>;
}
