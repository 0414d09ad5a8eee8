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
    split::{
        LineBreaks,
        spacy::{SpacyKey, SpacyRan, SpacyRecord},
    },
};

/// File name of a store's manifest.
pub const STORE_MANIFEST: &str = "store.json";
/// Version of the store layout: 2 records what the store was made from as one
/// [`StoreFingerprint`] (`made_from`), the cleaning rules' version included.
pub const STORE_FORMAT_VERSION: u32 = 2;

/// The path stem of store shard `index`: `sentences/{index:06}`.
pub fn shard_stem(index: usize) -> String {
    format!("sentences/{index:06}")
}

/// `store.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreManifest {
    pub format_version: u32,
    /// Everything the store's bytes depend on; a plan whose fingerprint is this one would
    /// make the same store (`TextPlan::fingerprint` is the only constructor).
    pub made_from: StoreFingerprint,
    /// What each cleaning rule changed.
    pub clean_counts: CleanCounts,
    /// What the spaCy that split Wikipedia reported (none: the rule-based splitter, or
    /// sentences given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spacy_ran: Option<SpacyRan>,
    /// Counts over the whole store.
    pub totals: StoreTotals,
    /// The shards in order.
    pub shards: Vec<StoreShard>,
}

/// Why a `store.json` cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UnreadableManifest {
    #[error("its {STORE_MANIFEST} is of store format {}, and this pipeline makes and reads {STORE_FORMAT_VERSION}", found.map_or("none".into(), |v| v.to_string()))]
    OtherFormat { found: Option<u32> },
    #[error("{STORE_MANIFEST}: {0}")]
    Syntax(String),
}

/// Everything a store's bytes depend on: a store whose `store.json` records the same
/// fingerprint (and the same [`STORE_FORMAT_VERSION`]) is current. A new input of the text
/// stages is a new field here: `TextPlan::fingerprint` fills it, the store records it, and
/// `TextPlan::store_state` names it when it differs (`crate::difference`). If it can change
/// the sentences without changing the counts, [`StoreRecord`] (what a build records of its
/// store, and its examples' fingerprint holds) records it too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreFingerprint {
    /// The input files, in reading order, with their sha256.
    pub inputs: Vec<InputFile>,
    /// The vocabulary the ids refer to.
    pub vocab: VocabInfo,
    /// The version of the cleaning rules' definitions ([`crate::clean::RULES_VERSION`]).
    pub rules_version: u32,
    /// The cleaning rules in force.
    pub clean: CleanRules,
    /// The rule splitter's mode: a released mode's rules never change (a change that moves a
    /// boundary is a new mode), so the mode is its version.
    pub line_breaks: LineBreaks,
    /// Sentences per shard (the last shard may hold fewer).
    pub sentences_per_shard: u64,
    /// Whether Wikipedia's sentences were read as the reference read them back from its
    /// CSV file (NA strings → `None`, cut at NUL): the reference kind's row rule.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub csv_round_trip: bool,
    /// The spaCy setup that split Wikipedia (none: the rule-based splitter, or sentences
    /// given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spacy: Option<SpacyKey>,
}

/// What a build's manifest records of its store (`stages.store`): the store's settings and
/// counts that describe the examples' text, in the shape builds have always recorded. The
/// examples' fingerprint holds it, so a store made otherwise makes the examples again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreRecord {
    pub totals: StoreTotals,
    pub clean: CleanSummary,
    pub line_breaks: LineBreaks,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub csv_round_trip: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spacy: Option<SpacyRecord>,
}

/// Cleaning as a build's manifest records it.
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
    /// The manifest of a store made from `made_from`.
    pub fn new(
        made_from: StoreFingerprint,
        clean_counts: CleanCounts,
        spacy_ran: Option<SpacyRan>,
        totals: StoreTotals,
        shards: Vec<StoreShard>,
    ) -> StoreManifest {
        StoreManifest {
            format_version: STORE_FORMAT_VERSION,
            made_from,
            clean_counts,
            spacy_ran,
            totals,
            shards,
        }
    }

    /// What a build's manifest records of this store.
    pub fn record(&self) -> StoreRecord {
        let made_from = &self.made_from;
        StoreRecord {
            totals: self.totals,
            clean: CleanSummary {
                rules_version: made_from.rules_version,
                rules: made_from.clean,
                counts: self.clean_counts,
            },
            line_breaks: made_from.line_breaks,
            csv_round_trip: made_from.csv_round_trip,
            spacy: self.spacy_record(),
        }
    }

    /// The spaCy setup that split the store's Wikipedia and what it reported.
    pub fn spacy_record(&self) -> Option<SpacyRecord> {
        let (key, ran) = (self.made_from.spacy.as_ref()?, self.spacy_ran.as_ref()?);
        Some(SpacyRecord {
            key: key.clone(),
            ran: ran.ran.clone(),
            other_version_allowed: ran.other_version_allowed,
        })
    }

    /// Parses `store.json`'s bytes. The version is read first, so that a store of another
    /// layout is named as such, not as a schema error.
    pub fn parse(bytes: &[u8]) -> std::result::Result<StoreManifest, UnreadableManifest> {
        #[derive(Deserialize)]
        struct Version {
            format_version: Option<u32>,
        }
        let syntax = |e: serde_json::Error| UnreadableManifest::Syntax(e.to_string());
        let version: Version = serde_json::from_slice(bytes).map_err(syntax)?;
        match version.format_version {
            Some(STORE_FORMAT_VERSION) => serde_json::from_slice(bytes).map_err(syntax),
            found => Err(UnreadableManifest::OtherFormat { found }),
        }
    }

    /// Canonical text: pretty JSON and a trailing newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a store manifest serialises");
        text.push('\n');
        text
    }
}
