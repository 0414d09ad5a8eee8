//! Where an interrupted `prepare` goes on from: `partial.json` beside the store, written
//! after each store shard is committed, removed once `store.json` is.
//!
//! The text stages are a function of the input position, so the run that resumes reads
//! (without processing) the chunks before `at`, processes chunk `at.chunk` again, writes its
//! sentences from `at.sentence` on, and continues: the same bytes as a run that was never
//! stopped. Stores split by spaCy (whose own results are kept in `rows/`) and runs that
//! export the sentences start from the beginning.

use std::path::Path;

use earlyberts_format::{remove_if_present, write_atomic};
use serde::{Deserialize, Serialize};

use super::TextPlan;
use crate::{
    Result,
    reference::rows::NumericChunks,
    stage::CleanCounts,
    store::{StoreFingerprint, StoreShard, StoreTotals},
};

/// The checkpoint of a `prepare` that is writing a store.
pub const STORE_CHECKPOINT: &str = "partial.json";

/// The part of a store an interrupted `prepare` had made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resumed {
    pub shards: usize,
    pub sentences: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Checkpoint {
    pub fingerprint: StoreFingerprint,
    pub shards: Vec<StoreShard>,
    pub at: Position,
    /// The counts before chunk `at.chunk`.
    pub totals: StoreTotals,
    pub counts: CleanCounts,
    pub numeric: NumericChunks,
}

/// A sentence of the text stages' output: sentence `sentence` of chunk `chunk` of input
/// `input`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Position {
    pub input: usize,
    pub chunk: usize,
    pub sentence: usize,
}

impl Checkpoint {
    /// The checkpoint in `plan.out` that this plan can resume from: same fingerprint,
    /// every shard it lists intact.
    pub fn load(plan: &TextPlan) -> Result<Option<Checkpoint>> {
        if !plan.resumable() {
            return Ok(None);
        }
        let Ok(bytes) = std::fs::read(plan.out.join(STORE_CHECKPOINT)) else {
            return Ok(None);
        };
        let Ok(checkpoint) = serde_json::from_slice::<Checkpoint>(&bytes) else {
            return Ok(None);
        };
        let usable = checkpoint.fingerprint == plan.fingerprint()?
            && checkpoint.shards.iter().all(|s| s.is_intact(&plan.out));
        Ok(usable.then_some(checkpoint))
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self).expect("a checkpoint serialises");
        Ok(write_atomic(dir.join(STORE_CHECKPOINT), json.as_bytes())?)
    }

    pub fn remove(dir: &Path) -> Result<()> {
        Ok(remove_if_present(&dir.join(STORE_CHECKPOINT))?)
    }

    /// What the resumed run keeps.
    pub fn resumed(&self) -> Resumed {
        Resumed {
            shards: self.shards.len(),
            sentences: self.shards.iter().map(|s| s.sentences).sum(),
        }
    }
}
