//! One parallel pass over a build's shards, tallying each example into the stretch of the
//! build it lies in.

use std::ops::Range;

use earlyberts_format::{Build, Example, ShardReader};
use rayon::prelude::*;

use super::Points;
use crate::Result;

/// What a pass adds up: a fixed number of counts per stretch, plus a first example per
/// item (for first sightings; none for token counts).
pub trait Tally: Sync {
    /// Counts a stretch holds.
    fn width(&self) -> usize;
    /// Items with a first example.
    fn firsts(&self) -> usize {
        0
    }
    /// Adds example `k` to `counts` (of [`Tally::width`]) and lowers `firsts` (one per
    /// item, `u64::MAX` when not yet seen) to `k` where it holds an item.
    fn add(&self, k: u64, example: &Example, counts: &mut [u64], firsts: &mut [u64]);
}

/// What a pass found: the counts of each stretch of `Points` and each item's first example.
pub struct Tallied {
    pub stretches: Vec<Vec<u64>>,
    pub firsts: Vec<u64>,
}

/// Tallies examples `range` of `build`, shards in parallel a window at a time, each example
/// into its stretch of `points`; stops early once `done` says so after a window.
pub fn pass(
    build: &Build,
    points: &Points,
    range: Range<u64>,
    tally: &impl Tally,
    done: impl Fn(&Tallied) -> bool,
) -> Result<Tallied> {
    let stretches = points.cuts.len() + 1;
    let mut out = Tallied {
        stretches: vec![vec![0; tally.width()]; stretches],
        firsts: vec![u64::MAX; tally.firsts()],
    };
    let shards = shards_holding(build, range.clone());
    let window = 2 * rayon::current_num_threads().max(1);
    for window in shards.chunks(window) {
        let found: Vec<Tallied> = window
            .par_iter()
            .map(|&shard| tally_shard(build, points, shard, range.clone(), tally))
            .collect::<Result<_>>()?;
        for shard in found {
            merge(&mut out, shard);
        }
        if done(&out) {
            break;
        }
    }
    Ok(out)
}

/// The shards that hold examples of `range`, in order.
fn shards_holding(build: &Build, range: Range<u64>) -> Vec<usize> {
    let shards = &build.manifest().shards;
    (0..shards.len())
        .filter(|&i| {
            let first = shards[i].first_example;
            first < range.end && first + shards[i].stats.examples > range.start
        })
        .collect()
}

/// One shard's examples of `range`, tallied; only the stretches it touches hold counts.
fn tally_shard(
    build: &Build,
    points: &Points,
    shard: usize,
    range: Range<u64>,
    tally: &impl Tally,
) -> Result<Tallied> {
    let mut out = Tallied {
        stretches: vec![Vec::new(); points.cuts.len() + 1],
        firsts: vec![u64::MAX; tally.firsts()],
    };
    let mut reader = ShardReader::open(build.shard_path(shard))?;
    let mut example = Example::default();
    let mut k = build.manifest().shards[shard].first_example;
    while k < range.end && reader.read_next(&mut example)? {
        if k >= range.start {
            let counts = &mut out.stretches[points.stretch_of(k).min(points.cuts.len())];
            if counts.is_empty() {
                counts.resize(tally.width(), 0);
            }
            tally.add(k, &example, counts, &mut out.firsts);
        }
        k += 1;
    }
    Ok(out)
}

fn merge(into: &mut Tallied, from: Tallied) {
    for (a, b) in into.stretches.iter_mut().zip(&from.stretches) {
        a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
    }
    for (a, b) in into.firsts.iter_mut().zip(&from.firsts) {
        *a = (*a).min(*b);
    }
}
