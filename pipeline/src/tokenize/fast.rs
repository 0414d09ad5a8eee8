//! The fast path: BERT normalisation, pre-tokenisation and WordPiece in one pass per char.
//!
//! It reproduces the `tokenizers` pipeline char by char — clean_text (drop controls, `\0`,
//! U+FFFD; whitespace splits), Chinese characters isolated, NFD with non-spacing marks
//! dropped, lower-casing, splitting on whitespace and punctuation — using the same Unicode
//! tables (`unicode-normalization-alignments`, `unicode_categories`). Words are matched
//! greedily, longest piece first, against two hash tables (word-initial pieces and `##`
//! continuations). ASCII takes a shortcut that needs no table at all.
//!
//! Two rare cases go to the `tokenizers` crate instead ([`FastWordPiece::applies`]): a `[`,
//! which may open a literal special token such as `[MASK]`, and spacing or enclosing
//! combining marks (categories Mc, Me), around which NFD's canonical reordering could
//! differ from a char-by-char decomposition.

use std::{
    collections::HashMap,
    hash::{BuildHasherDefault, Hasher},
};

use earlyberts_format::Vocab;
use unicode_categories::UnicodeCategories;
use unicode_normalization_alignments::char::decompose_canonical;

use super::MAX_CHARS_PER_WORD;

/// FxHash (the rustc hasher): a multiply-rotate hash, fast on short keys. Its lack of DoS
/// resistance does not matter for a fixed vocabulary.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type PieceMap = HashMap<Box<[u8]>, u16, BuildHasherDefault<FxHasher>>;

/// BERT's "Chinese character" ranges (the CJK ideograph blocks), as in `tokenizers`.
fn is_chinese(c: char) -> bool {
    matches!(
        c as u32,
        0x4E00..=0x9FFF
            | 0x3400..=0x4DBF
            | 0x20000..=0x2A6DF
            | 0x2A700..=0x2B73F
            | 0x2B740..=0x2B81F
            | 0x2B920..=0x2CEAF
            | 0xF900..=0xFAFF
            | 0x2F800..=0x2FA1F
    )
}

fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || c.is_punctuation()
}

/// The word being assembled: normalised text and its length in chars.
#[derive(Default)]
struct Word {
    text: String,
    chars: usize,
}

/// WordPiece over normalised text, for sentences [`FastWordPiece::applies`] to.
pub struct FastWordPiece {
    initial: PieceMap,
    continuation: PieceMap,
    longest_piece: usize,
    unk: u16,
}

impl FastWordPiece {
    /// Indexes the vocabulary's pieces.
    pub fn new(vocab: &Vocab) -> FastWordPiece {
        let mut initial = PieceMap::default();
        let mut continuation = PieceMap::default();
        let mut longest_piece = 0;
        for id in 0..vocab.len() {
            let token = vocab.token(id as u16).expect("ids below len exist");
            let (map, piece) = match token.strip_prefix("##") {
                Some(rest) if !rest.is_empty() => (&mut continuation, rest),
                _ => (&mut initial, token),
            };
            longest_piece = longest_piece.max(piece.len());
            map.entry(piece.as_bytes().into()).or_insert(id as u16);
        }
        FastWordPiece {
            initial,
            continuation,
            longest_piece,
            unk: vocab.special().unk,
        }
    }

    /// No `[` and no spacing or enclosing combining mark.
    pub fn applies(sentence: &str) -> bool {
        sentence.chars().all(|c| {
            if c.is_ascii() {
                c != '['
            } else {
                !(c.is_mark_spacing_combining() || c.is_mark_enclosing())
            }
        })
    }

    /// Appends the ids of `sentence`, which must satisfy [`FastWordPiece::applies`].
    pub fn encode_into(&self, sentence: &str, out: &mut Vec<u16>) {
        let mut word = Word::default();
        for c in sentence.chars() {
            if c.is_ascii() {
                match c {
                    'A'..='Z' | 'a'..='z' | '0'..='9' => {
                        word.text.push(c.to_ascii_lowercase());
                        word.chars += 1;
                    }
                    ' ' | '\t' | '\n' | '\r' => self.flush(&mut word, out),
                    c if c.is_ascii_punctuation() => {
                        self.flush(&mut word, out);
                        self.encode_single(c, out);
                    }
                    // Other ASCII controls (and DEL) are dropped by clean_text, joining
                    // what surrounds them.
                    _ => {}
                }
            } else if c == '\u{FFFD}' || c.is_other() {
                // dropped by clean_text
            } else if c.is_whitespace() {
                self.flush(&mut word, out);
            } else if is_chinese(c) {
                self.flush(&mut word, out);
                self.push_normalized(c, &mut word, out);
                self.flush(&mut word, out);
            } else {
                self.push_normalized(c, &mut word, out);
            }
        }
        self.flush(&mut word, out);
    }

    /// NFD, drop non-spacing marks, lower-case; then split on whitespace and punctuation.
    fn push_normalized(&self, c: char, word: &mut Word, out: &mut Vec<u16>) {
        decompose_canonical(c, |d| {
            if d.is_mark_nonspacing() {
                return;
            }
            for l in d.to_lowercase() {
                if l.is_whitespace() {
                    self.flush(word, out);
                } else if is_punctuation(l) {
                    self.flush(word, out);
                    self.encode_single(l, out);
                } else {
                    word.text.push(l);
                    word.chars += 1;
                }
            }
        });
    }

    fn encode_single(&self, c: char, out: &mut Vec<u16>) {
        let mut buf = [0u8; 4];
        self.encode_word(c.encode_utf8(&mut buf), 1, out);
    }

    fn flush(&self, word: &mut Word, out: &mut Vec<u16>) {
        if word.chars > 0 {
            self.encode_word(&word.text, word.chars, out);
            word.text.clear();
            word.chars = 0;
        }
    }

    /// Greedy longest-match-first; a word with an uncoverable rest, or longer than the
    /// limit, is one `[UNK]`.
    fn encode_word(&self, word: &str, chars: usize, out: &mut Vec<u16>) {
        if chars > MAX_CHARS_PER_WORD {
            out.push(self.unk);
            return;
        }
        let bytes = word.as_bytes();
        let mark = out.len();
        let mut start = 0;
        while start < bytes.len() {
            let map = if start == 0 {
                &self.initial
            } else {
                &self.continuation
            };
            let mut end = bytes.len().min(start + self.longest_piece);
            let id = loop {
                while !word.is_char_boundary(end) {
                    end -= 1;
                }
                if end == start {
                    out.truncate(mark);
                    out.push(self.unk);
                    return;
                }
                if let Some(&id) = map.get(&bytes[start..end]) {
                    break id;
                }
                end -= 1;
            };
            out.push(id);
            start = end;
        }
    }
}
