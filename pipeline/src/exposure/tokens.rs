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

/// Counts of each token over a stretch: `[kind][id]`, flattened, for ids `0..=vocab_size`
/// (the last slot takes any id past the vocabulary a damaged shard holds, so that it is
/// reported rather than indexed out of bounds). The kinds: every position's id as shown,
/// then `target`, `masked`, `kept`, `replaced`, then the ids shown at targets (`seen` is
/// shown − shown at targets + targets: each target counts under its label).
struct TokenTally {
    vocab_size: usize,
    mask: u16,
}

/// The kinds a tally keeps.
const KINDS: usize = 6;

impl TokenTally {
    /// The slot of `id`.
    fn slot(&self, id: u16) -> usize {
        usize::from(id).min(self.vocab_size)
    }

    fn ids(&self) -> usize {
        self.vocab_size + 1
    }
}

impl Tally for TokenTally {
    fn width(&self) -> usize {
        KINDS * self.ids()
    }

    fn add(&self, _k: u64, example: &Example, counts: &mut [u64], _firsts: &mut [u64]) {
        let v = self.ids();
        for &id in &example.token_ids {
            counts[self.slot(id)] += 1;
        }
        for (&p, &label) in example.mlm_positions.iter().zip(&example.mlm_labels) {
            let shown = example.token_ids[usize::from(p)];
            let outcome = match shown {
                s if s == self.mask => 2,
                s if s == label => 3,
                _ => 4,
            };
            let label = self.slot(label);
            counts[v + label] += 1;
            counts[outcome * v + label] += 1;
            counts[5 * v + self.slot(shown)] += 1;
        }
    }
}

/// Every token's counts in `build` at each step of `points`; `vocab` names the ids and its
/// `[MASK]` tells masked targets from replaced ones.
pub fn token_exposure(build: &Build, points: &Points, vocab: &Vocab) -> Result<TokenExposure> {
    let vocab_size = build.manifest().vocab.size as usize;
    let tally = TokenTally {
        vocab_size,
        mask: vocab.special().mask,
    };
    let tallied = pass(build, points, 0..points.limit(), &tally, |_| false)?;
    let all = points.cumulative(&tallied.stretches, tally.width())?;
    // The last step has read every example read.
    let (v, last) = (tally.ids(), &all[all.len() - tally.width()..]);
    if last[vocab_size] > 0 || last[v + vocab_size] > 0 {
        return Err(Error::Verify {
            path: build.dir().to_path_buf(),
            reason: format!(
                "its examples hold token ids past its vocabulary's {vocab_size}: run `pipeline verify` on it"
            ),
        });
    }
    let kind = |step: &[u64], kind: usize, id: usize| step[kind * v + id];
    let counts = std::array::from_fn(|k| {
        let mut values = Vec::with_capacity(points.steps.len() * vocab_size);
        for step in all.chunks(tally.width()) {
            values.extend((0..vocab_size).map(|id| match k {
                0 => kind(step, 0, id) - kind(step, 5, id) + kind(step, 1, id),
                k => kind(step, k, id),
            }));
        }
        values
    });
    Ok(TokenExposure {
        steps: points.steps.clone(),
        batch_size: points.batch_size,
        vocab_size,
        counts,
    })
}
