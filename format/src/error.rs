//! The one error type of this crate.
//!
//! Variants carry structured context (the file, the shard, the example) so the
//! binaries can print a single line such as
//! `shard 'shards/000003.ebs.zst': example 3172 is malformed: mlm position 600 is past the end (length 512)`.

use std::{io, path::PathBuf};

/// Everything that can go wrong reading or writing shards, manifests and vocabularies.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Another process holds the directory's lock.
    #[error("'{}' is in use by {holder}: wait for it to finish, or write elsewhere", path.display())]
    Locked { path: PathBuf, holder: String },
    /// An operating-system level failure on a file.
    #[error("'{}'", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A file that does not have the structure of a shard (wrong magic, truncated, bad index).
    #[error("'{}' is not a valid shard: {reason}", path.display())]
    NotAShard { path: PathBuf, reason: String },
    /// A shard or manifest written by a format version this build does not read.
    #[error("'{}' has format version {found}; this build reads version {supported} (use a matching earlyberts release)", path.display())]
    UnsupportedVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    /// A zstd block that cannot be decompressed (flipped bits, truncation inside a frame).
    #[error("'{}': block {block} (examples {first_example}..{end_example} of the shard) is corrupt", path.display())]
    CorruptBlock {
        path: PathBuf,
        block: usize,
        first_example: u64,
        end_example: u64,
        #[source]
        source: io::Error,
    },
    /// A decoded record that breaks an invariant of the format.
    #[error("'{}': example {index} of the shard is malformed: {reason}", path.display())]
    MalformedExample {
        path: PathBuf,
        index: u64,
        reason: String,
    },
    /// An example handed to the writer that cannot be stored.
    #[error("example {index} cannot be written: {reason}")]
    InvalidExample { index: u64, reason: String },
    /// A manifest that is not valid JSON of the manifest schema.
    #[error("'{}' is not a valid manifest", path.display())]
    ManifestSyntax {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// A manifest that parses but contradicts itself.
    #[error("'{}' is inconsistent: {reason}", path.display())]
    ManifestInconsistent { path: PathBuf, reason: String },
    /// A vocabulary file that cannot serve as a BERT WordPiece vocabulary.
    #[error("vocabulary '{}' is invalid: {reason}", path.display())]
    Vocab { path: PathBuf, reason: String },
    /// A shard layout that cannot be written.
    #[error("invalid shard layout: {0}")]
    Layout(crate::Invalid),
    /// A vocabulary other than the one the ids refer to.
    #[error("'{}' has sha256 {found}, but the ids refer to the vocabulary with sha256 {expected}", path.display())]
    VocabMismatch {
        path: PathBuf,
        expected: String,
        found: String,
    },
    /// A provenance index that does not belong to its build, or is damaged.
    #[error("'{}' is not this build's provenance index: {reason}", path.display())]
    Provenance { path: PathBuf, reason: String },
    /// An example index outside the build.
    #[error("example {index} is out of range: the build holds {len} examples")]
    OutOfRange { index: u64, len: u64 },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn not_a_shard(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::NotAShard {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error and its causes on one line, joined by ": ", as the binaries print them (anyhow's
/// `{:#}`): for a library's callers that are no binary (`verify`'s report, the Python
/// package's exceptions).
pub fn one_line(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
