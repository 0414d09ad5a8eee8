//! Stages 2–5 over one chunk: clean, split, row rule, tokenize. A function of the chunk
//! alone, so the chunks of a window run in parallel.

use super::{RowRule, deal::Dealt};
use crate::{
    Result,
    clean::{CleanCounts, TextCleaner},
    source::CorpusKind,
    stage::{ChunkSplitter, Cleaner, Tokenizer},
    tokenize::BertWordPiece,
};

/// The stages, built once and shared by the threads.
pub(super) struct TextStages<'a> {
    pub cleaner: TextCleaner,
    pub splitter: &'a dyn ChunkSplitter,
    pub row_rule: RowRule,
    pub tokenizer: BertWordPiece,
    /// Keep Wikipedia's sentences as split, for the `--write-sentences` CSV.
    pub export: bool,
}

/// What one chunk became.
#[derive(Default)]
pub(super) struct ChunkOutput {
    pub tokens: Vec<u16>,
    /// Sentence lengths in tokens.
    pub lengths: Vec<u32>,
    /// Document index of each sentence, relative to the chunk's first text.
    pub documents: Vec<u32>,
    /// Under the CSV round trip: whether each Wikipedia sentence reads as a number or NA.
    pub numeric: Vec<bool>,
    /// Wikipedia's sentences as split, when they are exported.
    pub texts: Vec<String>,
    pub counts: CleanCounts,
}

impl TextStages<'_> {
    /// Cleans the chunk's texts (in place), splits Wikipedia's articles, and tokenizes
    /// every sentence.
    pub fn process(&self, dealt: &mut Dealt) -> Result<ChunkOutput> {
        let mut out = ChunkOutput {
            counts: clean_in_place(&self.cleaner, &mut dealt.chunk.texts),
            ..ChunkOutput::default()
        };
        let kind = dealt.kind;
        let texts = &dealt.chunk.texts;
        match kind.has_articles() {
            true => self
                .splitter
                .split_chunk(dealt.at, texts, &mut |document, sentence| {
                    self.add_sentence(kind, sentence, document as u32, &mut out)
                })?,
            // A BookCorpus row, a sentence of the CSV: one sentence each, as it is.
            false => {
                for text in texts {
                    self.add_sentence(kind, text, 0, &mut out)?;
                }
            }
        }
        Ok(out)
    }

    /// One sentence of a document: exported, put through the row rule (Wikipedia's),
    /// tokenized.
    fn add_sentence(
        &self,
        kind: CorpusKind,
        sentence: &str,
        document: u32,
        out: &mut ChunkOutput,
    ) -> Result<()> {
        let wikipedia = kind.is_wikipedia();
        if self.export && wikipedia {
            out.texts.push(sentence.to_string());
        }
        let sentence = match wikipedia {
            true => {
                let (kept, numeric) = self.row_rule.apply(sentence);
                out.numeric.extend(numeric);
                kept
            }
            false => sentence.into(),
        };
        let before = out.tokens.len();
        self.tokenizer.encode_into(&sentence, &mut out.tokens)?;
        out.lengths.push((out.tokens.len() - before) as u32);
        out.documents.push(document);
        Ok(())
    }
}

/// Cleans every text in place; what the rules changed.
pub(super) fn clean_in_place(cleaner: &TextCleaner, texts: &mut [String]) -> CleanCounts {
    let mut counts = CleanCounts::default();
    let mut cleaned = String::new();
    for text in texts {
        counts.add(&cleaner.clean(text, &mut cleaned));
        // The old text's buffer is the next one's to clean into.
        std::mem::swap(text, &mut cleaned);
    }
    counts
}
