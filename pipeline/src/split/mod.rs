//! `split`: a rule-based English sentence splitter for Wikipedia and book text.
//!
//! It looks at every `.`, `!`, `?` and `…` that is followed by whitespace (after any run of
//! terminal marks, closing quotes and brackets) and decides from the word before and the
//! word after whether a sentence ends there. Blank lines end a sentence; single line breaks
//! end one too when lines are paragraphs ([`LineBreaks::Paragraph`], Wikipedia), or only
//! after headings and before list items when lines are wrapped ([`LineBreaks::Wrapped`]);
//! [`LineBreaks::SpacyLike`] ends one at a line break or blank line only after terminated
//! text, as spaCy mostly does on Wikipedia.
//!
//! The splitter only chooses cut points and trims whitespace, so no character is lost.
//!
//! The reference kind splits with spaCy instead, as the reference did ([`spacy`]: a pool of
//! Python workers; [`cache`]: its results on disk, per chunk of documents).

pub mod cache;
pub mod eval;
mod rules;
pub mod spacy;

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::stage::SentenceSplitter;

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
    /// the text after it (scripts/splitter_agreement.py measures how close this is).
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
        let mut start = 0;
        let mut line_start = 0;
        let mut paragraph_line = 0usize;
        while line_start < bytes.len() {
            let line_end = memchr_newline(bytes, line_start);
            let line = &text[line_start..line_end];
            if line.trim().is_empty() {
                if self.breaks_at_line_end(&text[start..line_start]) {
                    push_trimmed(text, start..line_start, out);
                    start = line_end;
                }
                paragraph_line = 0;
            } else {
                if paragraph_line > 0
                    && rules::starts_list_item(line)
                    && self.breaks_at_line_end(&text[start..line_start])
                {
                    push_trimmed(text, start..line_start, out);
                    start = line_start;
                }
                rules::cut_line(text, line_start, line_end, |cut| {
                    push_trimmed(text, start..cut, out);
                    start = cut;
                });
                let next = line_end + 1;
                let boundary_after = match self.line_breaks {
                    LineBreaks::Paragraph => true,
                    LineBreaks::Wrapped => {
                        rules::is_heading(&text[start.max(line_start)..line_end])
                            && next < bytes.len()
                            && rules::starts_like_sentence(&text[next..])
                    }
                    LineBreaks::SpacyLike => rules::ends_terminated(&text[start..line_end]),
                };
                if boundary_after {
                    push_trimmed(text, start..line_end, out);
                    start = line_end;
                }
                paragraph_line += 1;
            }
            line_start = line_end + 1;
        }
        push_trimmed(text, start..bytes.len(), out);
    }
}

impl RuleSplitter {
    /// Whether a blank line, or a list item, ends the sentence `before` it.
    fn breaks_at_line_end(&self, before: &str) -> bool {
        match self.line_breaks {
            LineBreaks::SpacyLike => before.trim().is_empty() || rules::ends_terminated(before),
            LineBreaks::Paragraph | LineBreaks::Wrapped => true,
        }
    }
}

fn memchr_newline(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |i| from + i)
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
