//! How the reference script was run (reference-exact.md §1), and the reference kind's
//! parameters: the recipe's `[reference]`.

use earlyberts_format::Invalid;
use serde::{Deserialize, Serialize};

use crate::Result;

/// How the reference script was run (reference-exact.md §1): what order its output is in,
/// and where its random streams restart.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum History {
    /// One run that made the pairs: output in corpus order.
    #[default]
    Fresh,
    /// A later run that found the saved pairs: output in the shuffled order.
    Resumed,
    /// A fresh run stopped after line `C1`, then `--continued` runs from each cursor `Ci`
    /// (shuffled order, all streams restarted at `Ci`).
    Continued(Vec<u64>),
}

impl History {
    /// Checks the cursors: increasing, at least 1.
    pub fn validate(&self) -> Result<(), Invalid> {
        if let History::Continued(cursors) = self {
            if cursors.is_empty() {
                return Err(Invalid::Empty {
                    field: "reference.history.continued".into(),
                });
            }
            for pair in cursors.windows(2) {
                if pair[1] <= pair[0] {
                    return Err(Invalid::Unusable {
                        field: "reference.history.continued".into(),
                        value: format!("{cursors:?}"),
                        reason: "cursors must increase".into(),
                    });
                }
            }
            if cursors[0] == 0 {
                return Err(Invalid::Unusable {
                    field: "reference.history.continued".into(),
                    value: format!("{cursors:?}"),
                    reason: "the first run wrote no line; that is the resumed history".into(),
                });
            }
        }
        Ok(())
    }

    /// Parses `fresh`, `resumed` or `continued:C1,C2,…` (the `--history` flag).
    pub fn parse(text: &str) -> Option<History> {
        match text {
            "fresh" => Some(History::Fresh),
            "resumed" => Some(History::Resumed),
            _ => {
                let list = text.strip_prefix("continued:")?;
                let cursors: Option<Vec<u64>> =
                    list.split(',').map(|c| c.trim().parse().ok()).collect();
                Some(History::Continued(cursors?))
            }
        }
    }
}

/// The reference kind's own parameters (the recipe's `[reference]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceParams {
    /// How the script was run.
    #[serde(default)]
    pub history: History,
    /// The script's `--batch-size`: pairs per collator batch (256).
    pub batch_size: u64,
}
