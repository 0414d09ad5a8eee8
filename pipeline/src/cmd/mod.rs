//! One module per subcommand: its arguments (`XArgs`) beside its `run`.

pub mod audit;
pub mod build;
pub mod fetch;
pub mod fixture;
pub mod inspect;
pub mod prepare;
pub mod sentences;
pub mod tokenize;
pub mod verify;

use earlyberts_format::Invalid;
use earlyberts_pipeline::Error;

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
    match err {
        Error::Invalid(invalid) => match FLAGS.iter().find(|(f, _)| *f == invalid.field()) {
            Some((_, flag)) => anyhow::anyhow!(flag_message(flag, &invalid)),
            None => Error::Invalid(invalid).into(),
        },
        Error::TooManyExamples {
            requested,
            available,
        } => anyhow::anyhow!(
            "--limit-examples {requested} is more than the {available} examples this corpus gives"
        ),
        Error::Format(earlyberts_format::Error::VocabMismatch {
            path,
            expected,
            found,
        }) => anyhow::anyhow!(
            "the recipe wants the vocabulary with sha256 {expected}, but '{}' has sha256 {found}; pass it with --vocab",
            path.display()
        ),
        err => err.into(),
    }
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
