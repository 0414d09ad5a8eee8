//! The spaCy splitter, as the reference split: a pool of Python workers (`worker.rs`), their
//! results on disk per chunk of documents ([`cache`]), one encoding of sentences for both
//! ([`wire`]), and [`SpacySplitter`], the [`crate::stage::ChunkSplitter`] that puts them
//! together (`splitter.rs`, with [`SpacyPart`] for `prepare --part`).

pub mod cache;
pub mod parts;
mod splitter;
pub mod wire;
mod worker;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use self::{
    parts::{MissingWork, PartsRecord, SpacyWork},
    splitter::{SpacyPart, SpacySplitter},
    wire::{Sentences, SpacyInfo},
    worker::SpacyPool,
};

/// Which of the model's components run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpacyComponents {
    /// Every component, as the reference ran the model.
    Full,
    /// `tok2vec` and `parser` only: the boundaries are the parser's alone, and the same
    /// (proven on the test corpus), at about 2.7× the speed.
    #[default]
    Fast,
}

/// How to run spaCy.
#[derive(Clone, Debug)]
pub struct SpacyOptions {
    /// The Python interpreter.
    pub python: String,
    /// The model package to load (`en_core_web_sm`, or a mirror's name).
    pub model: String,
    pub components: SpacyComponents,
    /// `nlp.max_length`: the longest document in characters.
    pub max_length: u64,
    /// Worker processes.
    pub workers: usize,
    /// The longest a batch may take.
    pub timeout: Duration,
}

impl Default for SpacyOptions {
    fn default() -> Self {
        SpacyOptions {
            python: "python3".into(),
            model: "en_core_web_sm".into(),
            components: SpacyComponents::Fast,
            // spaCy's default is 1,000,000; no article of 20220301.en reaches it, and a
            // longer one would have stopped the reference. Raised so that one never stops a
            // build; recorded in the store.
            max_length: 10_000_000,
            workers: 1,
            timeout: Duration::from_secs(3600),
        }
    }
}

/// How spaCy splits, for a recipe that asks for it.
#[derive(Clone, Debug)]
pub struct SpacyPlan {
    /// The model the recipe pins and its version (`en_core_web_sm`, `3.5.0`).
    pub model: String,
    pub version: String,
    /// Run a model whose name or version is not the pinned one (recorded in the store).
    pub allow_other_version: bool,
    pub options: SpacyOptions,
}

impl SpacyPlan {
    /// The recipe's pinned model, loaded under its own name.
    pub fn pinned(model: &str, version: &str) -> SpacyPlan {
        SpacyPlan {
            model: model.into(),
            version: version.into(),
            allow_other_version: false,
            options: SpacyOptions {
                model: model.into(),
                ..SpacyOptions::default()
            },
        }
    }

    /// What the sentences depend on, as far as it is known before spaCy starts.
    pub fn key(&self) -> SpacyKey {
        SpacyKey {
            pinned_model: self.model.clone(),
            pinned_version: self.version.clone(),
            loaded: self.options.model.clone(),
            components: self.options.components,
            max_length: self.options.max_length,
        }
    }
}

/// What the command line changes of a recipe's spaCy setup.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpacyOverrides {
    pub python: Option<String>,
    /// The model package to load in place of the pinned name (a mirror).
    pub model: Option<String>,
    pub allow_other_version: bool,
    pub workers: Option<usize>,
    pub max_length: Option<u64>,
    /// Split chunks that parts of the work left, in this process (see
    /// `TextPlan::split_missing`).
    pub split_missing: bool,
}

impl SpacyOverrides {
    /// `plan` with these changes.
    pub fn apply(&self, plan: &mut SpacyPlan) {
        if let Some(python) = &self.python {
            plan.options.python = python.clone();
        }
        if let Some(model) = &self.model {
            plan.options.model = model.clone();
        }
        plan.allow_other_version |= self.allow_other_version;
        if let Some(n) = self.max_length {
            plan.options.max_length = n;
        }
        plan.options.workers = self.workers.unwrap_or_else(rayon::current_num_threads);
    }
}

/// The spaCy setup a store's sentences come from, as requested.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpacyKey {
    pub pinned_model: String,
    pub pinned_version: String,
    /// The model package loaded (the pinned one, or a mirror).
    pub loaded: String,
    pub components: SpacyComponents,
    pub max_length: u64,
}

impl SpacyKey {
    /// The setup in words, for errors.
    pub fn describe(&self) -> String {
        let components = match self.components {
            SpacyComponents::Full => "every component",
            SpacyComponents::Fast => "tok2vec and parser",
        };
        format!(
            "model '{}' for {} {} ({components}, max_length {})",
            self.loaded, self.pinned_model, self.pinned_version, self.max_length
        )
    }

    /// 12 hex digits naming the setup's results on disk ([`cache`]).
    pub fn fingerprint(&self) -> String {
        let json = serde_json::to_string(self).expect("a spaCy key serialises");
        format!("{:012x}", xxhash_rust::xxh3::xxh3_64(json.as_bytes()) >> 16)
    }
}

/// What the spaCy that split a store's Wikipedia reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpacyRan {
    /// spaCy's and the model's versions, the components run.
    pub ran: SpacyInfo,
    /// Whether a model other than the pinned one was allowed (and ran).
    pub other_version_allowed: bool,
}

/// What a build records of the spaCy that split its store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpacyRecord {
    pub key: SpacyKey,
    /// What the workers reported: spaCy's and the model's versions, the components run.
    pub ran: SpacyInfo,
    /// Whether a model other than the pinned one was allowed (and ran).
    pub other_version_allowed: bool,
}
