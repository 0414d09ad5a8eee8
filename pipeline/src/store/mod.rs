//! `store`: tokenized sentences in corpus order, sharded and memory-mapped.
//!
//! ```text
//! STORE/
//! ├── store.json                 written last: what the store holds and how it was made
//! └── sentences/
//!     ├── 000000.tokens          u16 LE token ids of all sentences, back to back
//!     ├── 000000.offsets         u64 LE, sentences+1 entries: sentence i is tokens[o[i]..o[i+1]]
//!     ├── 000000.docs            u32 LE, the document index of each sentence
//!     └── 000001.*               the next `sentences_per_shard` sentences
//! ```
//!
//! A shard's `hash` is xxh3-128 over the 48 bytes of the xxh3-128 hashes (u128 LE) of its
//! `.tokens`, `.offsets` and `.docs` files, in that order. Offsets are relative to the
//! shard. Files are written under temporary names and renamed when complete.

mod reader;
mod writer;

use serde::{Deserialize, Serialize};

use earlyberts_format::{InputFile, PayloadHash, VocabInfo};

pub use self::{reader::SentenceStore, writer::StoreWriter};
use crate::{
    clean::{CleanCounts, CleanRules},
    split::LineBreaks,
};

/// File name of a store's manifest.
pub const STORE_MANIFEST: &str = "store.json";
/// Version of the store layout.
pub const STORE_FORMAT_VERSION: u32 = 1;

/// The path stem of store shard `index`: `sentences/{index:06}`.
pub fn shard_stem(index: usize) -> String {
    format!("sentences/{index:06}")
}

/// `store.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreManifest {
    pub format_version: u32,
    /// The input files, in reading order, with their sha256.
    pub inputs: Vec<InputFile>,
    /// The vocabulary the ids refer to.
    pub vocab: VocabInfo,
    /// Cleaning rules in force and what each changed.
    pub clean: CleanSummary,
    /// How line breaks were read by the splitter.
    pub line_breaks: LineBreaks,
    /// Sentences per shard (the last shard may hold fewer).
    pub sentences_per_shard: u64,
    /// Whether Wikipedia's sentences were read as the reference read them back from its
    /// CSV file (NA strings → `None`, cut at NUL): the reference kind's row rule.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub csv_round_trip: bool,
    /// The spaCy that split Wikipedia (none: the rule-based splitter, or sentences given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spacy: Option<crate::split::spacy::SpacyRecord>,
    /// Counts over the whole store.
    pub totals: StoreTotals,
    /// The shards in order.
    pub shards: Vec<StoreShard>,
}

/// Cleaning as recorded in the store manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CleanSummary {
    pub rules_version: u32,
    pub rules: CleanRules,
    pub counts: CleanCounts,
}

/// Counts over a store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreTotals {
    /// Documents read (Wikipedia articles; one per BookCorpus file).
    pub documents: u64,
    /// Sentences stored.
    pub sentences: u64,
    /// Tokens stored.
    pub tokens: u64,
    /// Bytes of input text read.
    pub text_bytes: u64,
}

/// One store shard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreShard {
    /// Path stem relative to the store: `sentences/000000`.
    pub stem: String,
    pub sentences: u64,
    pub tokens: u64,
    pub hash: PayloadHash,
}

impl StoreManifest {
    /// Canonical text: pretty JSON and a trailing newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a store manifest serialises");
        text.push('\n');
        text
    }
}
