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
    /// `steps × width`; refused where a count passes 2^64 (a step far past the build's end).
    fn cumulative(&self, stretches: &[Vec<u64>], width: usize) -> Result<Vec<u64>> {
        let ends = self.ends();
        let at: Vec<(u64, u64, usize)> = (self.steps.iter())
            .map(|&s| {
                let (passes, rest) = self.at(s);
                (s, passes, ends.partition_point(|&e| e <= rest))
            })
            .collect();
        // The sums of stretches 0..j, kept only for the j a step needs (and the whole
        // build's, for the steps that wrap).
        let mut wanted: Vec<usize> = at.iter().map(|a| a.2).collect();
        wanted.push(stretches.len());
        let mut prefixes: Vec<(usize, Vec<u64>)> = Vec::new();
        let mut running = vec![0u64; width];
        for j in 0..=stretches.len() {
            if wanted.contains(&j) {
                prefixes.push((j, running.clone()));
            }
            if let Some(stretch) = stretches.get(j) {
                running.iter_mut().zip(stretch).for_each(|(a, b)| *a += b);
            }
        }
        let prefix = |j: usize| &prefixes.iter().find(|p| p.0 == j).expect("kept").1;
        let whole = prefix(stretches.len());
        let mut out = Vec::with_capacity(self.steps.len() * width);
        for (s, passes, done) in at {
            let mut counts = prefix(done).clone();
            if passes > 0 {
                add_times(&mut counts, whole, passes).ok_or_else(|| Invalid::Unusable {
                    field: "steps".into(),
                    value: s.to_string(),
                    reason: format!("its counts at {s} steps pass 2^64"),
                })?;
            }
            out.extend_from_slice(&counts);
        }
        Ok(out)
    }
}

/// `into += times × from`, element by element; `None` on overflow.
fn add_times(into: &mut [u64], from: &[u64], times: u64) -> Option<()> {
    for (a, b) in into.iter_mut().zip(from) {
        *a = a.checked_add(times.checked_mul(*b)?)?;
    }
    Some(())
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
        assert_eq!(p.cumulative(&stretches, 1).unwrap(), [11, 111, 1111 + 1]);
        // A step ending exactly at the end of the build, and of the second pass.
        let exact = Points::new(&[5, 10, 11], 2, 10).unwrap();
        assert_eq!((exact.limit(), exact.cuts.clone()), (10, vec![2]));
        let stretches = [vec![1], vec![10]];
        assert_eq!(exact.cumulative(&stretches, 1).unwrap(), [11, 22, 23]);
        // Counts past 2^64 are refused, not wrapped.
        let far = Points::new(&[u64::MAX / 2], 2, 10).unwrap();
        assert!(far.cumulative(&[vec![u64::MAX / 8], vec![1]], 1).is_err());
        let short = Points::new(&[1, 2], 4, 100).unwrap();
        assert_eq!((short.limit(), short.cuts.clone()), (8, vec![4]));
        assert_eq!(Points::new(&[], 256, 1 << 30).unwrap().steps.len(), 31);
        assert!(Points::new(&[0], 4, 10).is_err());
        assert!(Points::new(&[1], 0, 10).is_err());
        assert!(Points::new(&[u64::MAX], 2, 10).is_err());
    }
}
