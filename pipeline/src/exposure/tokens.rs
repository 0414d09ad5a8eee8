//! Every WordPiece id's exposure: how often it stood in the text the model read, how often
//! it was an MLM target, and what the model was shown in its place.

use earlyberts_format::{Build, Example, Vocab};

use super::{
    Points,
    pass::{Tally, pass},
};
use crate::{Error, Result};

/// The counts kept for each token, in the order of [`TokenExposure::counts`]:
/// - `seen`: positions holding the token in the examples' text (before masking, so each
///   target counts under its original token; `[CLS]` and `[SEP]` too);
/// - `target`: MLM targets whose label is the token;
/// - `masked`, `kept`, `replaced`: of those targets, the ones shown as `[MASK]`, as the
///   token itself, or as another token (a random replacement that drew the token itself
///   or `[MASK]` counts as kept or masked: what the model was shown decides).
pub const TOKEN_COUNTS: [&str; 5] = ["seen", "target", "masked", "kept", "replaced"];

/// Cumulative counts of every token of the vocabulary at each step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenExposure {
    /// Ascending.
    pub steps: Vec<u64>,
    pub batch_size: u64,
    /// The vocabulary's size: ids `0..vocab_size`.
    pub vocab_size: usize,
    /// `counts[i][s * vocab_size + id]`: count `TOKEN_COUNTS[i]` of token `id` by step
    /// `steps[s]`.
    pub counts: [Vec<u64>; 5],
}

impl TokenExposure {
    /// Count `kind` (an index of [`TOKEN_COUNTS`]) of token `id` by the `s`-th step.
    pub fn get(&self, kind: usize, s: usize, id: u16) -> u64 {
        self.counts[kind][s * self.vocab_size + usize::from(id)]
    }
}

/// Counts of each token over a stretch: `[kind][id]`, flattened, for every id a record can
/// hold (so a damaged shard's id past the vocabulary is reported, not indexed out of
/// bounds).
struct TokenTally {
    mask: u16,
}

/// Ids a record can hold.
const IDS: usize = 1 << 16;

impl Tally for TokenTally {
    fn width(&self) -> usize {
        TOKEN_COUNTS.len() * IDS
    }

    fn add(&self, _k: u64, example: &Example, counts: &mut [u64], _firsts: &mut [u64]) {
        let v = IDS;
        let (seen, rest) = counts.split_at_mut(v);
        for &id in &example.token_ids {
            seen[usize::from(id)] += 1;
        }
        for (&p, &label) in example.mlm_positions.iter().zip(&example.mlm_labels) {
            let (shown, label) = (example.token_ids[usize::from(p)], usize::from(label));
            // The text held the label where the model was shown `shown`.
            seen[usize::from(shown)] -= 1;
            seen[label] += 1;
            rest[label] += 1;
            let outcome = match shown {
                s if s == self.mask => 1,
                s if usize::from(s) == label => 2,
                _ => 3,
            };
            rest[outcome * v + label] += 1;
        }
    }
}

/// Every token's counts in `build` at each step of `points`; `vocab` names the ids and its
/// `[MASK]` tells masked targets from replaced ones.
pub fn token_exposure(build: &Build, points: &Points, vocab: &Vocab) -> Result<TokenExposure> {
    let vocab_size = build.manifest().vocab.size as usize;
    let tally = TokenTally {
        mask: vocab.special().mask,
    };
    let tallied = pass(build, points, 0..points.limit(), &tally, |_| false)?;
    let all = points.cumulative(&tallied.stretches, tally.width());
    // The last step has read every example read: its `seen` holds every id met.
    let last_seen = &all[all.len() - tally.width()..][..IDS];
    if let Some(id) = (vocab_size..IDS).find(|&id| last_seen[id] > 0) {
        return Err(Error::Verify {
            path: build.dir().to_path_buf(),
            reason: format!(
                "its examples hold token id {id}, past its vocabulary's {vocab_size}: run `pipeline verify` on it"
            ),
        });
    }
    let counts = std::array::from_fn(|kind| {
        all.chunks(tally.width())
            .flat_map(|step| &step[kind * IDS..kind * IDS + vocab_size])
            .copied()
            .collect()
    });
    Ok(TokenExposure {
        steps: points.steps.clone(),
        batch_size: points.batch_size,
        vocab_size,
        counts,
    })
}
