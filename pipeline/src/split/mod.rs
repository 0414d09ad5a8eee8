//! `split`: a rule-based English sentence splitter for Wikipedia and book text.
//!
//! It looks at every `.`, `!`, `?` and `…` that is followed by whitespace (after any run of
//! terminal marks, closing quotes and brackets) and decides from the word before and the
//! word after whether a sentence ends there. Blank lines end a sentence; single line breaks
//! end one too when lines are paragraphs ([`LineBreaks::Paragraph`], Wikipedia), or only
//! after headings and before list items when lines are wrapped ([`LineBreaks::Wrapped`]);
//! [`LineBreaks::SpacyLike`] (the keyed recipe's) ends one at a line break or blank line only
//! after terminated text, and judges a few marks as spaCy's parser does on Wikipedia, so that
//! the keyed recipe's sentences are the reference's (scripts/splitter_agreement.py).
//!
//! Each mode's rules are part of what a recipe records: a change that moves any boundary of
//! a released mode is a new mode (the golden manifests of the keyed recipe pin `spacy_like`;
//! `the_paragraph_splitter_builds_its_old_bytes` pins `paragraph`).
//!
//! The splitter only chooses cut points and trims whitespace, so no character is lost.
//!
//! The reference kind splits with spaCy instead, as the reference did ([`spacy`]: a pool of
//! Python workers and their results on disk, per chunk of documents). Both are
//! [`ChunkSplitter`]s.

pub mod eval;
mod lines;
mod rules;
pub mod spacy;
mod words;

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::{
    Result,
    source::ChunkAt,
    stage::{ChunkSplitter, SentenceSplitter},
};

/// Which splitter makes Wikipedia's sentences (a recipe's `text.splitter`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitterChoice {
    /// This crate's rule-based splitter ([`RuleSplitter`]).
    #[default]
    Rules,
    /// spaCy with the model `model` at version `version`, as the reference split.
    Spacy { model: String, version: String },
}

impl SplitterChoice {
    pub fn is_rules(&self) -> bool {
        *self == SplitterChoice::Rules
    }
}

/// What a single line break means.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineBreaks {
    /// Every line is a paragraph, heading or list item (Wikipedia text as published).
    #[default]
    Paragraph,
    /// Lines are wrapped prose: a line break ends a sentence only after a heading-like line
    /// or before a list item.
    Wrapped,
    /// As spaCy's parser mostly splits Wikipedia text: a line break or a blank line ends a
    /// sentence only after text that ends as a sentence does (a terminal mark, maybe closing
    /// quotes or brackets); a heading, a list item or another unterminated line stays with
    /// the text after it, unless a clause opener follows a heading (`According to …`). A
    /// closing quote at a line's end starts the next sentence, as spaCy's tokens put it;
    /// glued sentences (`homeless.The`), `. ,`, spaced ellipses, `v.`, `pro-U.S.` and
    /// inline numbered lists are judged as spaCy judges them (`rules::Marks::SpacyLike`).
    /// scripts/splitter_agreement.py measures how close this is.
    SpacyLike,
}

/// The English rule-based splitter.
#[derive(Clone, Debug, Default)]
pub struct RuleSplitter {
    line_breaks: LineBreaks,
}

impl RuleSplitter {
    /// A splitter treating line breaks as `line_breaks` says.
    pub fn new(line_breaks: LineBreaks) -> RuleSplitter {
        RuleSplitter { line_breaks }
    }
}

impl SentenceSplitter for RuleSplitter {
    fn split(&self, text: &str, out: &mut Vec<Range<usize>>) {
        let bytes = text.as_bytes();
        let marks = match self.line_breaks {
            LineBreaks::SpacyLike => rules::Marks::SpacyLike,
            LineBreaks::Paragraph | LineBreaks::Wrapped => rules::Marks::Classic,
        };
        let mut start = 0;
        let mut line_start = 0;
        let mut paragraph_line = 0usize;
        while line_start < bytes.len() {
            let line_end = memchr_newline(bytes, line_start);
            let line = &text[line_start..line_end];
            if line.trim().is_empty() {
                if let Some(cut) = self.cut_at_line_end(text, start, line_start) {
                    push_trimmed(text, start..cut, out);
                    start = cut;
                }
                paragraph_line = 0;
            } else {
                if paragraph_line > 0
                    && lines::starts_list_item(line)
                    && let Some(cut) = self.cut_at_line_end(text, start, line_start)
                {
                    push_trimmed(text, start..cut, out);
                    start = cut;
                }
                rules::cut_line(text, line_start, line_end, marks, |cut| {
                    push_trimmed(text, start..cut, out);
                    start = cut;
                });
                let next = line_end + 1;
                let cut_after = match self.line_breaks {
                    LineBreaks::Paragraph => Some(line_end),
                    LineBreaks::Wrapped => {
                        (lines::is_heading(&text[start.max(line_start)..line_end])
                            && next < bytes.len()
                            && lines::starts_like_sentence(&text[next..]))
                        .then_some(line_end)
                    }
                    LineBreaks::SpacyLike => lines::spacy_line_end(text, start, line_end),
                };
                if let Some(cut) = cut_after {
                    push_trimmed(text, start..cut, out);
                    start = cut;
                }
                paragraph_line += 1;
            }
            line_start = line_end + 1;
        }
        push_trimmed(text, start..bytes.len(), out);
    }
}

impl ChunkSplitter for RuleSplitter {
    fn split_chunk(
        &self,
        _at: ChunkAt,
        documents: &[String],
        sentence: &mut dyn FnMut(usize, &str) -> Result<()>,
    ) -> Result<()> {
        let mut ranges = Vec::new();
        for (document, text) in documents.iter().enumerate() {
            ranges.clear();
            self.split(text, &mut ranges);
            for range in &ranges {
                sentence(document, &text[range.clone()])?;
            }
        }
        Ok(())
    }
}

impl RuleSplitter {
    /// Where a blank line, or a list item, ends the sentence begun at `start` (the text
    /// before `end`), if it does.
    fn cut_at_line_end(&self, text: &str, start: usize, end: usize) -> Option<usize> {
        match self.line_breaks {
            LineBreaks::SpacyLike => lines::spacy_line_end(text, start, end),
            LineBreaks::Paragraph | LineBreaks::Wrapped => Some(end),
        }
    }
}

fn memchr_newline(bytes: &[u8], from: usize) -> usize {
    memchr::memchr(b'\n', &bytes[from..]).map_or(bytes.len(), |i| from + i)
}

/// Pushes `range` shrunk to exclude surrounding whitespace, unless nothing is left.
fn push_trimmed(text: &str, range: Range<usize>, out: &mut Vec<Range<usize>>) {
    let piece = &text[range.clone()];
    let trimmed_start = piece.len() - piece.trim_start().len();
    let trimmed = piece.trim();
    if !trimmed.is_empty() {
        let start = range.start + trimmed_start;
        out.push(start..start + trimmed.len());
    }
}

/// Convenience: the sentences of `text` as string slices.
pub fn sentences<'t>(splitter: &impl SentenceSplitter, text: &'t str) -> Vec<&'t str> {
    let mut ranges = Vec::new();
    splitter.split(text, &mut ranges);
    ranges.into_iter().map(|r| &text[r]).collect()
}

#[cfg(test)]
mod tests;
