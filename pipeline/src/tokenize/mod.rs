//! `tokenize`: uncased BERT WordPiece, exactly as `BertTokenizerFast` (`bert-base-uncased`).
//!
//! [`BertWordPiece`] holds two implementations that give identical ids:
//! - the reference path, the HF `tokenizers` crate configured like `BertTokenizerFast`
//!   (BertNormalizer with clean_text, Chinese characters, lowercase and accent stripping;
//!   BertPreTokenizer; WordPiece with `##`, `[UNK]`, 100 characters per word at most; the
//!   five special tokens registered so that a literal `[MASK]` in text is the special id);
//! - a fast path ([`fast::FastWordPiece`]) doing the same normalisation char by char;
//!   it leaves to the crate only sentences with a `[` or a spacing combining mark.
//!
//! A differential test runs both over fixture and generated text and requires 0 differences.

pub mod fast;

use earlyberts_format::Vocab;
use tokenizers::{
    AddedToken, models::wordpiece::WordPiece, normalizers::bert::BertNormalizer,
    pre_tokenizers::bert::BertPreTokenizer,
};

use crate::{Error, Result, stage::Tokenizer};

/// Longest word WordPiece splits; longer words become `[UNK]` (BERT's default).
pub const MAX_CHARS_PER_WORD: usize = 100;

/// Uncased BERT WordPiece with an exact fast path.
pub struct BertWordPiece {
    reference: tokenizers::Tokenizer,
    fast: fast::FastWordPiece,
}

impl BertWordPiece {
    /// Builds both paths from a vocabulary.
    pub fn new(vocab: &Vocab) -> Result<BertWordPiece> {
        let lines: Vec<&str> = (0..vocab.len())
            .map(|id| vocab.token(id as u16).expect("ids below len exist"))
            .collect();
        let ids =
            WordPiece::read_bytes(lines.join("\n").as_bytes()).map_err(|e| Error::Tokenizer {
                reason: e.to_string(),
            })?;
        let model = WordPiece::builder()
            .vocab(ids)
            .unk_token("[UNK]".into())
            .continuing_subword_prefix("##".into())
            .max_input_chars_per_word(MAX_CHARS_PER_WORD)
            .build()
            .map_err(|e| Error::Tokenizer {
                reason: e.to_string(),
            })?;
        let mut reference = tokenizers::Tokenizer::new(model);
        reference
            .with_normalizer(Some(BertNormalizer::new(true, true, None, true)))
            .map_err(|e| Error::Tokenizer {
                reason: e.to_string(),
            })?;
        reference.with_pre_tokenizer(Some(BertPreTokenizer));
        let specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
        reference
            .add_special_tokens(specials.map(|t| AddedToken::from(t, true)))
            .map_err(|e| Error::Tokenizer {
                reason: e.to_string(),
            })?;
        Ok(BertWordPiece {
            reference,
            fast: fast::FastWordPiece::new(vocab),
        })
    }

    /// The ids from the `tokenizers` crate alone (the oracle of the fast path).
    pub fn encode_reference(&self, sentence: &str, out: &mut Vec<u16>) -> Result<()> {
        let encoding =
            self.reference
                .encode_fast(sentence, false)
                .map_err(|e| Error::Tokenizer {
                    reason: e.to_string(),
                })?;
        out.extend(encoding.get_ids().iter().map(|&id| id as u16));
        Ok(())
    }

    /// Whether `sentence` takes the fast path.
    pub fn is_fast(sentence: &str) -> bool {
        fast::FastWordPiece::applies(sentence)
    }
}

impl Tokenizer for BertWordPiece {
    fn encode_into(&self, sentence: &str, out: &mut Vec<u16>) -> Result<()> {
        if fast::FastWordPiece::applies(sentence) {
            self.fast.encode_into(sentence, out);
            Ok(())
        } else {
            self.encode_reference(sentence, out)
        }
    }
}

#[cfg(test)]
mod tests;
