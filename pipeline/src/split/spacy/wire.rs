//! The one encoding of spaCy's sentences, shared by the worker protocol and the results on
//! disk ([`super::cache`]); it is a leaf: it imports nothing of the spaCy stage.
//!
//! A block of `n` documents is, per document, a `u32` sentence count and per sentence a
//! `u32` byte length and the sentence's UTF-8 bytes; integers are little-endian. The worker
//! (`spacy_worker.py`) writes the same bytes in its result frames.

use serde::{Deserialize, Serialize};

/// Sentences of each document of a batch.
pub type Sentences = Vec<Vec<String>>;

/// What a worker reports of itself: facts of the build.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpacyInfo {
    /// spaCy's version.
    pub spacy: String,
    /// The model, `lang_name` (`en_core_web_sm`).
    pub model: String,
    pub model_version: String,
    /// The components that ran, in order.
    pub components: Vec<String>,
    pub max_length: u64,
}

impl SpacyInfo {
    /// One line for messages: `3.8.0 with en_core_web_sm 3.8.0 (tok2vec, parser)`.
    pub fn describe(&self) -> String {
        format!(
            "{} with {} {} ({})",
            self.spacy,
            self.model,
            self.model_version,
            self.components.join(", ")
        )
    }
}

/// Appends the block of `sentences` to `out`.
pub fn encode(sentences: &Sentences, out: &mut Vec<u8>) {
    for document in sentences {
        push_u32(out, document.len());
        for sentence in document {
            push_u32(out, sentence.len());
            out.extend_from_slice(sentence.as_bytes());
        }
    }
}

/// Appends `n` as a little-endian `u32` (every count and length here fits: a frame is at
/// most 2 GiB).
pub fn push_u32(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u32).to_le_bytes());
}

/// The block of `documents` documents that is the whole of `body`, or `None` if `body` is
/// not exactly that.
pub fn decode(body: &[u8], documents: usize) -> Option<Sentences> {
    let mut reader = Reader { body, at: 0 };
    let mut out = Vec::with_capacity(documents);
    for _ in 0..documents {
        let count = reader.u32()?;
        let mut sentences = Vec::with_capacity(count.min(1 << 16));
        for _ in 0..count {
            let n = reader.u32()?;
            sentences.push(std::str::from_utf8(reader.bytes(n)?).ok()?.to_string());
        }
        out.push(sentences);
    }
    (reader.at == body.len()).then_some(out)
}

/// Reads a leading `u32` of `body`: it and the rest.
pub fn split_u32(body: &[u8]) -> Option<(usize, &[u8])> {
    let mut reader = Reader { body, at: 0 };
    let n = reader.u32()?;
    Some((n, &body[reader.at..]))
}

struct Reader<'a> {
    body: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn bytes(&mut self, n: usize) -> Option<&[u8]> {
        let bytes = self.body.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(bytes)
    }

    fn u32(&mut self) -> Option<usize> {
        let word = self.bytes(4)?;
        Some(u32::from_le_bytes(word.try_into().ok()?) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_decode_only_when_whole() {
        let sentences = vec![vec!["A.".to_string(), "B\nb.".to_string()], vec![]];
        let mut body = Vec::new();
        encode(&sentences, &mut body);
        assert_eq!(decode(&body, 2), Some(sentences));
        assert_eq!(decode(&body[..body.len() - 1], 2), None, "cut short");
        assert_eq!(decode(&body, 1), None, "bytes left over");
        assert_eq!(decode(&body, 3), None, "a document missing");
        let mut prefixed = Vec::new();
        push_u32(&mut prefixed, 7);
        prefixed.extend_from_slice(b"rest");
        assert_eq!(split_u32(&prefixed), Some((7, &b"rest"[..])));
        assert_eq!(split_u32(b"abc"), None);
    }

    #[test]
    fn a_length_past_the_end_is_no_block() {
        let mut body = Vec::new();
        push_u32(&mut body, 1);
        push_u32(&mut body, u32::MAX as usize);
        body.extend_from_slice(b"x");
        assert_eq!(decode(&body, 1), None);
    }
}
