//! The row rule: a Wikipedia sentence as the store keeps it (stage 4 of the text stages).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::reference::rows::{csv_round_trip, numeric_or_na};

/// What becomes of a Wikipedia sentence (an article's, or one of the sentence CSV) between
/// the splitter and the tokenizer. BookCorpus rows are kept as they are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowRule {
    /// As split (the keyed kind).
    #[default]
    AsSplit,
    /// As the reference read it back from its `wiki-sentences.csv` ([`csv_round_trip`]),
    /// and watched for CSV chunks that pandas would have read as numbers (the reference
    /// kind).
    CsvRoundTrip,
}

impl RowRule {
    /// The sentence as the store keeps it, and, under the CSV round trip, whether pandas
    /// could read it as a number or NA.
    pub fn apply(self, sentence: &str) -> (Cow<'_, str>, Option<bool>) {
        match self {
            RowRule::AsSplit => (Cow::Borrowed(sentence), None),
            RowRule::CsvRoundTrip => (csv_round_trip(sentence), Some(numeric_or_na(sentence))),
        }
    }
}
