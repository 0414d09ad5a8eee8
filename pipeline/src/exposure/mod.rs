//! Exposure: how often the model had seen each token, and been asked to predict it, by
//! each step of training.
//!
//! Step `S` of a run of `B` examples a step trains on the examples at positions
//! `(S − 1)·B … S·B` of the build read round and round, so the examples seen by step `S`
//! are `⌊S·B / n⌋` whole passes over the build's `n` examples and its first `S·B mod n`
//! ([`Points`]). One parallel pass over the shards counts each stretch of the build
//! between two such ends once (`pass.rs`); the counts at each step are sums of those.
//! [`token_exposure`] counts every WordPiece id ([`TokenExposure`], cached beside the
//! build by [`cache`]); [`term_exposure`] counts words and phrases as token sequences
//! ([`TermExposure`]). `pipeline exposure` prints them; the Python package returns them as
//! arrays.

pub mod cache;
mod pass;
pub mod table;
mod terms;
mod tokens;

use earlyberts_format::{Build, Invalid, training::checkpoint_steps};

pub use terms::{TERM_COUNTS, TermExposure, Terms, term_exposure};
pub use tokens::{TOKEN_COUNTS, TokenExposure, token_exposure};

use crate::Result;

/// The steps to count at, and where each one's examples end in the build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Points {
    /// Ascending, distinct, from 1.
    pub steps: Vec<u64>,
    /// Examples per optimizer step.
    pub batch_size: u64,
    /// The build's examples.
    total: u64,
    /// Ascending, distinct, strictly inside `(0, limit)`: where one stretch of the build
    /// ends and the next begins.
    cuts: Vec<u64>,
    /// The examples read: `total` when a step wraps past the build's end, else up to the
    /// last step's end.
    limit: u64,
}

impl Points {
    /// The points of `steps` (any order, repeats ignored; empty: the EarlyBERTs checkpoint
    /// steps) at `batch_size` examples a step over a build of `total` examples.
    pub fn new(steps: &[u64], batch_size: u64, total: u64) -> Result<Points> {
        if batch_size == 0 {
            return Err(Invalid::too_small("batch_size", 0, 1).into());
        }
        if total == 0 {
            return Err(Invalid::too_small("examples", 0, 1).into());
        }
        let mut steps = match steps.is_empty() {
            true => checkpoint_steps(),
            false => steps.to_vec(),
        };
        steps.sort_unstable();
        steps.dedup();
        if steps[0] == 0 {
            return Err(Invalid::too_small("steps", 0, 1).into());
        }
        let seen = |s: u64| {
            s.checked_mul(batch_size).ok_or_else(|| Invalid::Unusable {
                field: "steps".into(),
                value: s.to_string(),
                reason: format!("{s} steps of {batch_size} examples overflow 64 bits"),
            })
        };
        let mut wraps = false;
        let mut cuts = Vec::with_capacity(steps.len());
        for &s in &steps {
            let examples = seen(s)?;
            wraps |= examples >= total;
            cuts.push(examples % total);
        }
        let limit = match wraps {
            true => total,
            false => cuts.iter().copied().max().unwrap_or(0),
        };
        cuts.retain(|&c| c > 0 && c < limit);
        cuts.sort_unstable();
        cuts.dedup();
        Ok(Points {
            steps,
            batch_size,
            total,
            cuts,
            limit,
        })
    }

    /// Examples `0..limit` are read; every step's counts are sums over stretches of them.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The stretches the examples read fall into: stretch `j` ends at `ends()[j]`.
    fn ends(&self) -> Vec<u64> {
        let mut ends = self.cuts.clone();
        ends.push(self.limit);
        ends
    }

    /// The stretch example `k` (below `limit`) lies in.
    fn stretch_of(&self, k: u64) -> usize {
        self.cuts.partition_point(|&c| c <= k)
    }

    /// Step `s`'s examples: `passes` whole passes over the build, then the stretches that
    /// end at or before `rest`.
    fn at(&self, s: u64) -> (u64, u64) {
        let examples = s * self.batch_size;
        (examples / self.total, examples % self.total)
    }

    /// Each step's counts from the stretches' (`width` counts each), as one array of
    /// `steps × width`.
    fn cumulative(&self, stretches: &[Vec<u64>], width: usize) -> Vec<u64> {
        let ends = self.ends();
        let mut whole = vec![0u64; width];
        let mut prefix = vec![vec![0u64; width]]; // prefix[j]: stretches 0..j
        for stretch in stretches {
            let mut next = prefix.last().expect("starts with zeros").clone();
            add(&mut next, stretch, 1);
            prefix.push(next);
        }
        if self.limit == self.total {
            whole.clone_from(prefix.last().expect("starts with zeros"));
        }
        let mut out = Vec::with_capacity(self.steps.len() * width);
        for &s in &self.steps {
            let (passes, rest) = self.at(s);
            let done = ends.partition_point(|&e| e <= rest);
            let mut counts = prefix[done].clone();
            add(&mut counts, &whole, passes);
            out.extend_from_slice(&counts);
        }
        out
    }
}

/// `into += times × from`, element by element.
fn add(into: &mut [u64], from: &[u64], times: u64) {
    for (a, b) in into.iter_mut().zip(from) {
        *a += times * b;
    }
}

/// The build's steps to count at: `steps`, else the EarlyBERTs checkpoint steps, at
/// `batch_size` (else the build's).
pub fn points(build: &Build, steps: &[u64], batch_size: Option<u64>) -> Result<Points> {
    let batch_size = batch_size.unwrap_or(build.manifest().batch_size());
    Points::new(steps, batch_size, build.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_whole_passes_and_a_stretch() {
        let p = Points::new(&[3, 1, 3, 2], 4, 10).unwrap();
        assert_eq!(p.steps, [1, 2, 3]);
        // Steps end at 4, 8 and 12 = one pass + 2: the whole build is read.
        assert_eq!(p.limit(), 10);
        assert_eq!(p.cuts, [2, 4, 8]);
        assert_eq!(
            [p.stretch_of(0), p.stretch_of(2), p.stretch_of(9)],
            [0, 1, 3]
        );
        let stretches = [vec![1], vec![10], vec![100], vec![1000]];
        assert_eq!(p.cumulative(&stretches, 1), [11, 111, 1111 + 1]);
        let short = Points::new(&[1, 2], 4, 100).unwrap();
        assert_eq!((short.limit(), short.cuts.clone()), (8, vec![4]));
        assert_eq!(Points::new(&[], 256, 1 << 30).unwrap().steps.len(), 31);
        assert!(Points::new(&[0], 4, 10).is_err());
        assert!(Points::new(&[1], 0, 10).is_err());
        assert!(Points::new(&[u64::MAX], 2, 10).is_err());
    }
}
