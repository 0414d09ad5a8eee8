//! The WordPiece vocabulary (`vocab.txt`): one token per line, the line number is the id.
//!
//! The uncased BERT vocabulary ships inside the crate, pinned by its sha256, so that every
//! tool can decode ids without a download.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::Arc,
};

use crate::{Error, Result, VocabInfo, hash::sha256_hex};

/// sha256 of the uncased BERT vocabulary (`bert-base-uncased`, 30,522 entries).
pub const BERT_BASE_UNCASED_SHA256: &str =
    "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3";

const BERT_BASE_UNCASED: &[u8] =
    include_bytes!("../../manifests/vocab/bert-base-uncased-vocab.txt");

/// The five special tokens BERT needs, by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpecialTokens {
    pub pad: u16,
    pub unk: u16,
    pub cls: u16,
    pub sep: u16,
    pub mask: u16,
}

impl SpecialTokens {
    /// Whether `id` is one of the five: such a token is never masked, and the audit counts
    /// only the others as maskable.
    #[inline]
    pub fn is_special(&self, id: u16) -> bool {
        [self.pad, self.unk, self.cls, self.sep, self.mask].contains(&id)
    }
}

/// A parsed vocabulary.
#[derive(Clone, Debug)]
pub struct Vocab {
    source: PathBuf,
    tokens: Vec<String>,
    ids: HashMap<String, u16>,
    special: SpecialTokens,
    sha256: String,
    /// The file's bytes as read: what `sha256` is of, and what a checkpoint's `vocab.txt`
    /// holds.
    bytes: Arc<[u8]>,
}

impl Vocab {
    /// The built-in uncased BERT vocabulary.
    pub fn bert_base_uncased() -> Vocab {
        Vocab::parse(Path::new("<built-in bert-base-uncased>"), BERT_BASE_UNCASED)
            .expect("the built-in vocabulary is valid")
    }

    /// The vocabulary at `path` (the built-in uncased BERT one if `None`), refused unless
    /// its sha256 is `expected`: the one the ids at hand refer to.
    pub fn expecting(path: Option<&Path>, expected: &str) -> Result<Vocab> {
        let vocab = match path {
            Some(path) => Vocab::from_file(path)?,
            None => Vocab::bert_base_uncased(),
        };
        if vocab.sha256() != expected {
            return Err(Error::VocabMismatch {
                path: vocab.source().to_path_buf(),
                expected: expected.to_string(),
                found: vocab.sha256().to_string(),
            });
        }
        Ok(vocab)
    }

    /// Reads a `vocab.txt` file.
    pub fn from_file(path: &Path) -> Result<Vocab> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Vocab::parse(path, &bytes)
    }

    /// Parses vocabulary bytes; `source` names them in errors.
    pub fn parse(source: &Path, bytes: &[u8]) -> Result<Vocab> {
        let invalid = |reason: String| Error::Vocab {
            path: source.to_path_buf(),
            reason,
        };
        let text = std::str::from_utf8(bytes).map_err(|e| {
            invalid(format!(
                "not UTF-8 at byte {} (is this a vocab.txt?)",
                e.valid_up_to()
            ))
        })?;
        let tokens: Vec<String> = text.lines().map(str::to_owned).collect();
        if tokens.len() > 1 << 16 {
            return Err(invalid(format!(
                "{} entries; token ids are u16, so at most 65,536 fit",
                tokens.len()
            )));
        }
        let mut ids = HashMap::with_capacity(tokens.len());
        for (id, token) in tokens.iter().enumerate() {
            if token.is_empty() {
                return Err(invalid(format!("line {} is empty", id + 1)));
            }
            if let Some(first) = ids.insert(token.clone(), id as u16) {
                return Err(invalid(format!(
                    "'{token}' appears on lines {} and {}",
                    first as usize + 1,
                    id + 1
                )));
            }
        }
        let find = |name: &str| {
            ids.get(name)
                .copied()
                .ok_or_else(|| invalid(format!("special token '{name}' is missing")))
        };
        let special = SpecialTokens {
            pad: find("[PAD]")?,
            unk: find("[UNK]")?,
            cls: find("[CLS]")?,
            sep: find("[SEP]")?,
            mask: find("[MASK]")?,
        };
        Ok(Vocab {
            source: source.to_path_buf(),
            tokens,
            ids,
            special,
            sha256: sha256_hex(bytes),
            bytes: bytes.into(),
        })
    }

    /// Where the vocabulary came from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether the vocabulary has no entry (never true for a parsed one).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The token of `id`.
    pub fn token(&self, id: u16) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    /// The id of `token`.
    pub fn id(&self, token: &str) -> Option<u16> {
        self.ids.get(token).copied()
    }

    /// The special tokens' ids.
    pub fn special(&self) -> SpecialTokens {
        self.special
    }

    /// sha256 of the file's bytes.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The file's bytes, exactly as read (their sha256 is [`Vocab::sha256`]): a copy of the
    /// vocabulary hashes the same, whatever its line endings.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// What a manifest records about this vocabulary.
    pub fn info(&self) -> VocabInfo {
        VocabInfo {
            sha256: self.sha256.clone(),
            size: self.tokens.len() as u32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_vocabulary_is_the_pinned_one() {
        let vocab = Vocab::bert_base_uncased();
        assert_eq!(vocab.sha256(), BERT_BASE_UNCASED_SHA256);
        assert_eq!(vocab.len(), 30522);
        assert_eq!(
            vocab.special(),
            SpecialTokens {
                pad: 0,
                unk: 100,
                cls: 101,
                sep: 102,
                mask: 103
            }
        );
        assert_eq!(vocab.token(1996), Some("the"));
        assert_eq!(vocab.id("##s"), Some(2015));
        assert_eq!(vocab.bytes(), BERT_BASE_UNCASED);
        assert_eq!(sha256_hex(vocab.bytes()), BERT_BASE_UNCASED_SHA256);
    }

    #[test]
    fn bad_vocabularies_are_refused() {
        let base = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                format!("{base}a\na\n").into_bytes(),
                "'a' appears on lines 6 and 7",
            ),
            ("[PAD]\n[UNK]\n[CLS]\n[SEP]\n".into(), "'[MASK]' is missing"),
            (format!("{base}\nb\n").into_bytes(), "line 6 is empty"),
            (vec![b'[', 0xff, b'\n'], "not UTF-8"),
        ];
        for (bytes, message) in cases {
            let err = Vocab::parse(Path::new("v.txt"), &bytes)
                .unwrap_err()
                .to_string();
            assert!(err.contains(message), "{err:?} lacks {message:?}");
            assert!(err.starts_with("vocabulary 'v.txt' is invalid"), "{err}");
        }
        assert!(Vocab::parse(Path::new("v.txt"), base.as_bytes()).is_ok());
    }
}
