//! The fast path: WordPiece over printable ASCII.
//!
//! For such text BERT's normaliser only lower-cases (no accents, no Chinese characters, no
//! control characters to drop), and its pre-tokeniser splits on whitespace and isolates
//! ASCII punctuation. Words are then matched greedily, longest piece first, against two
//! hash tables (word-initial pieces and `##` continuations) keyed by the piece text.

use std::{
    collections::HashMap,
    hash::{BuildHasherDefault, Hasher},
};

use earlyberts_format::Vocab;

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

/// WordPiece for sentences of printable ASCII without `[` (see [`AsciiWordPiece::applies`]).
pub struct AsciiWordPiece {
    initial: PieceMap,
    continuation: PieceMap,
    longest_piece: usize,
    unk: u16,
}

impl AsciiWordPiece {
    /// Indexes the vocabulary's pieces.
    pub fn new(vocab: &Vocab) -> AsciiWordPiece {
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
        AsciiWordPiece {
            initial,
            continuation,
            longest_piece,
            unk: vocab.special().unk,
        }
    }

    /// Printable ASCII, tab, newline and carriage return only, and no `[` (which could open
    /// a literal special token such as `[MASK]`).
    pub fn applies(sentence: &str) -> bool {
        sentence
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'[' || matches!(b, b'\t' | b'\n' | b'\r'))
    }

    /// Appends the ids of `sentence`, which must satisfy [`AsciiWordPiece::applies`].
    pub fn encode_into(&self, sentence: &str, out: &mut Vec<u16>) {
        let mut word = [0u8; MAX_CHARS_PER_WORD + 1];
        let mut len = 0usize;
        for &b in sentence.as_bytes() {
            if b.is_ascii_alphanumeric() {
                if len <= MAX_CHARS_PER_WORD {
                    word[len] = b.to_ascii_lowercase();
                }
                len += 1;
                continue;
            }
            if len > 0 {
                self.encode_word(&word[..len.min(MAX_CHARS_PER_WORD + 1)], out);
                len = 0;
            }
            if b.is_ascii_punctuation() {
                self.encode_word(&[b], out);
            }
        }
        if len > 0 {
            self.encode_word(&word[..len.min(MAX_CHARS_PER_WORD + 1)], out);
        }
    }

    /// Greedy longest-match-first; a word with an uncoverable rest, or longer than the
    /// limit, is one `[UNK]`.
    fn encode_word(&self, word: &[u8], out: &mut Vec<u16>) {
        if word.len() > MAX_CHARS_PER_WORD {
            out.push(self.unk);
            return;
        }
        let mark = out.len();
        let mut start = 0;
        while start < word.len() {
            let map = if start == 0 {
                &self.initial
            } else {
                &self.continuation
            };
            let mut end = word.len().min(start + self.longest_piece);
            let id = loop {
                if end == start {
                    out.truncate(mark);
                    out.push(self.unk);
                    return;
                }
                if let Some(&id) = map.get(&word[start..end]) {
                    break id;
                }
                end -= 1;
            };
            out.push(id);
            start = end;
        }
    }
}
