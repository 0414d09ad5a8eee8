//! The pipeline library's error type.

use std::path::PathBuf;

use earlyberts_format::Invalid;

/// Everything the pipeline stages can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// From the shard format crate (shards, manifests, vocabularies).
    #[error(transparent)]
    Format(#[from] earlyberts_format::Error),
    /// A stage that would not fit on its disk.
    #[error(
        "'{}': the {stage} stage needs about {} more and its disk has {} free: make {} of space (or build elsewhere: --out, --store) and run again",
        dir.display(), crate::disk::size_text(*need), crate::disk::size_text(*free),
        crate::disk::size_text(need - free)
    )]
    DiskFull {
        dir: PathBuf,
        stage: &'static str,
        need: u64,
        free: u64,
    },
    /// An operating-system failure on a file.
    #[error("'{}'", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The HF `tokenizers` crate refused a vocabulary or an input.
    #[error("tokenizer: {reason}")]
    Tokenizer { reason: String },
    /// A corpus file that cannot be read as the input format it should be.
    #[error("'{}' is not a usable {format} file: {}", path.display(), printable(reason))]
    Corpus {
        path: PathBuf,
        format: &'static str,
        reason: String,
    },
    /// A document whose text is not UTF-8.
    #[error("'{}': document {document} is not valid UTF-8", path.display())]
    NotUtf8 { path: PathBuf, document: u64 },
    /// A download that failed for good.
    #[error("{url}: {reason}")]
    Fetch { url: String, reason: String },
    /// A downloaded or present file whose size or hash is not the pinned one.
    #[error("'{}': {reason}", path.display())]
    Verify { path: PathBuf, reason: String },
    /// A source entry that cannot be fetched as it stands.
    #[error("source '{dest}': {reason}")]
    Source { dest: String, reason: String },
    /// A mirror for a host the sources do not use.
    #[error("host '{name}' is not one the sources use (hosts: {})", known.join(", "))]
    UnknownHost { name: String, known: Vec<String> },
    /// An input glob that matches nothing.
    #[error("'{}': no file matches (fetch the sources first, or give the inputs' paths)", pattern.display())]
    NoInput { pattern: PathBuf },
    /// A source without a known hash.
    #[error("source '{dest}': {}", if *lockable { "its hash is not pinned or locked: lock the sources (needs the network), or accept a plain URL without a hash" } else { "no hash is known for it" })]
    Unpinned { dest: String, lockable: bool },
    /// A file to fetch while fetching is offline.
    #[error("'{}': {}, and fetching is offline", path.display(), if *present { "present but does not verify" } else { "missing" })]
    Offline { path: PathBuf, present: bool },
    /// A recipe that cannot be used.
    #[error("recipe '{}': {reason}", path.display())]
    Recipe { path: PathBuf, reason: String },
    /// A value out of range (the caller knows where it came from).
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// A recipe value out of range.
    #[error("recipe '{}': {invalid}", path.display())]
    RecipeValue { path: PathBuf, invalid: Invalid },
    /// A build asked for more examples than its corpus gives.
    #[error("{requested} is more than the {available} examples this corpus gives")]
    TooManyExamples { requested: u64, available: u64 },
    /// The spaCy splitter could not run, or failed on a document.
    #[error("spaCy ({model}): {reason}")]
    Spacy { model: String, reason: String },
    /// The spaCy splitter cannot start: its interpreter, spaCy or the model is missing.
    #[error("spaCy ({model}): {}", missing.message(model, python, detail))]
    SpacyUnavailable {
        model: String,
        python: String,
        missing: SpacyMissing,
        detail: String,
    },
    /// A spaCy model other than the one the recipe pins.
    #[error("{0}")]
    SpacyVersion(Box<SpacyMismatch>),
    /// spaCy results on disk made by another spaCy than this run's.
    #[error("'{}' holds sentences made by spaCy {theirs}, but this run has spaCy {ours}: finish with the same installation, or remove the directory", path.display())]
    SpacyMixed {
        path: PathBuf,
        theirs: String,
        ours: String,
    },
    /// Parts of a store's spaCy work ran with another setup than this run's.
    #[error("'{}' records parts run with {theirs}, but this run asks for {ours}: run every part with the same --spacy-model and --spacy-max-length, and the assembly with those or none (to change the setup on purpose, remove that file: each setup's chunks are kept apart)", path.display())]
    SpacyPartsSetup {
        path: PathBuf,
        theirs: String,
        ours: String,
    },
    /// A part of the spaCy work of another N than the parts already run for the store.
    #[error("'{}' records parts of N = {theirs}, and this is a part of N = {ours}: run it as K/{theirs}, or remove that file to run parts of another N (finished chunks are kept)", path.display())]
    SpacyPartsCount {
        path: PathBuf,
        theirs: usize,
        ours: usize,
    },
    /// Chunks of the spaCy work that parts ran for were not split, and may not be here.
    #[error(
        "{summary}; run those parts again (`prepare --part K/N`), or allow splitting them in this process (--split-missing)"
    )]
    SpacyWorkMissing {
        /// What is missing and what it costs (`split::spacy::MissingWork`, displayed).
        summary: String,
    },
    /// A chunk of the spaCy work went missing (or was damaged) while the store was assembled.
    #[error("spaCy's sentences of chunk {chunk} of '{}' are missing or damaged ('{}'): run its part again, or allow splitting it in this process (--split-missing)", input.display(), path.display())]
    SpacyChunkMissing {
        input: PathBuf,
        chunk: usize,
        path: PathBuf,
    },
    /// A sentence store that is damaged or does not match what it should hold.
    #[error("sentence store '{}': {reason}", path.display())]
    Store { path: PathBuf, reason: String },
    /// A build without its provenance index, or with a damaged one.
    #[error("'{}' {reason}; run `pipeline build` again with the options that made the build: it writes the index and leaves the shards as they are", build.display())]
    NoProvenance { build: PathBuf, reason: String },
    /// A list of terms to count that cannot be used.
    #[error("terms file '{}': {reason}", path.display())]
    Terms { path: PathBuf, reason: String },
    /// An exposure table that cannot be read or written.
    #[error("exposure table '{}': {reason}", path.display())]
    Exposure { path: PathBuf, reason: String },
    /// A text query with nothing to search for.
    #[error("'{text}' has no tokens to search for")]
    EmptyQuery { text: String },
}

/// What the spaCy splitter lacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpacyMissing {
    /// The Python interpreter does not run.
    Python,
    /// spaCy is not importable.
    Spacy,
    /// The model does not load.
    Model,
}

impl SpacyMissing {
    fn message(&self, model: &str, python: &str, detail: &str) -> String {
        match self {
            SpacyMissing::Python => format!("cannot run '{python}' ({detail}): install Python 3"),
            SpacyMissing::Spacy => format!(
                "'{python}' cannot import spacy ({detail}): install it with `pip install spacy`"
            ),
            SpacyMissing::Model => format!("cannot load the spaCy model '{model}' ({detail})"),
        }
    }
}

/// The model a recipe pins and the one that loaded.
#[derive(Debug, thiserror::Error)]
#[error(
    "the recipe pins {pinned_model} {pinned_version}, but '{loaded}' is {found_model} {found_version}; install the pinned model, or allow this one explicitly"
)]
pub struct SpacyMismatch {
    pub pinned_model: String,
    pub pinned_version: String,
    pub loaded: String,
    pub found_model: String,
    pub found_version: String,
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// The pipeline library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A reason from a reader, fit for a one-line message: readers of damaged files quote the
/// bytes they choked on, so control characters are escaped and the text is cut at 200 chars.
fn printable(reason: &str) -> String {
    let mut out: String = reason
        .chars()
        .take(200)
        .flat_map(|c| {
            if c.is_control() || c == '\u{fffd}' {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if reason.chars().count() > 200 {
        out.push('…');
    }
    out
}
