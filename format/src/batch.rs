//! Which examples an optimizer step consumes.
//!
//! The reference trains step `s` (1-based) on global examples `[B·(s−1), B·s)` of the
//! training order, the cursor wrapping to 0 at the end of the data. `pipeline inspect
//! --step` and the trainer's data feed both use this one definition.

use std::ops::Range;

/// The batch of optimizer step `step` (1-based) at `batch_size` examples per step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepBatch {
    /// The step.
    pub step: u64,
    /// Unwrapped global positions `[B·(s−1), B·s)`.
    pub positions: Range<u64>,
    /// Number of examples in the build, by which positions wrap.
    pub total: u64,
}

impl StepBatch {
    /// The batch of `step`; fails for step 0, batch size 0 or an empty build.
    pub fn new(step: u64, batch_size: u64, total: u64) -> Result<StepBatch, String> {
        if step == 0 {
            return Err("steps are numbered from 1".into());
        }
        if batch_size == 0 {
            return Err("batch size must be at least 1".into());
        }
        if total == 0 {
            return Err("the build holds no example".into());
        }
        let start = (step - 1)
            .checked_mul(batch_size)
            .ok_or_else(|| format!("step {step} × batch {batch_size} overflows"))?;
        Ok(StepBatch {
            step,
            positions: start..start + batch_size,
            total,
        })
    }

    /// The steps (1-based) that consume example `k` of a build of `total` examples, at
    /// `batch_size` per step, up to step `until` (the first epoch's step only when `None`):
    /// the inverse of [`StepBatch::examples`].
    pub fn steps_of(k: u64, batch_size: u64, total: u64, until: Option<u64>) -> Vec<u64> {
        debug_assert!(k < total && batch_size > 0);
        let first = k / batch_size + 1;
        let Some(until) = until else {
            return vec![first];
        };
        (0..)
            .map(|epoch: u64| (k + epoch * total) / batch_size + 1)
            .take_while(|&step| step <= until)
            .collect()
    }

    /// The global example indices, in the order the step consumes them.
    pub fn examples(&self) -> impl Iterator<Item = u64> + '_ {
        self.positions.clone().map(|p| p % self.total)
    }

    /// The same indices as runs of consecutive examples (one run, or more where the batch
    /// wraps around the end of the build), for streaming reads.
    pub fn runs(&self) -> Vec<Range<u64>> {
        let mut runs: Vec<Range<u64>> = Vec::new();
        for i in self.examples() {
            match runs.last_mut() {
                Some(run) if run.end == i => run.end += 1,
                _ => runs.push(i..i + 1),
            }
        }
        runs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_one_based_and_wrap() {
        let batch = StepBatch::new(1, 256, 1000).unwrap();
        assert_eq!(batch.examples().next(), Some(0));
        assert_eq!(batch.examples().last(), Some(255));
        let batch = StepBatch::new(4, 256, 1000).unwrap();
        let examples: Vec<u64> = batch.examples().collect();
        assert_eq!(examples[0], 768);
        assert_eq!(examples[231], 999);
        assert_eq!(examples[232], 0);
        assert_eq!(examples.len(), 256);
        assert_eq!(batch.runs(), vec![768..1000, 0..24]);
        assert_eq!(StepBatch::new(2, 3, 10).unwrap().runs(), vec![3..6]);
        assert_eq!(
            StepBatch::new(1, 25, 10).unwrap().runs(),
            vec![0..10, 0..10, 0..5]
        );
        assert!(StepBatch::new(0, 256, 1000).is_err());
        // The inverse: every step whose batch holds the example, epoch after epoch.
        for (k, until) in [(0, 30), (999, 30), (231, 12), (5, 1)] {
            let steps: Vec<u64> = (1..=until)
                .filter(|&s| {
                    StepBatch::new(s, 256, 1000)
                        .unwrap()
                        .examples()
                        .any(|i| i == k)
                })
                .collect();
            assert_eq!(StepBatch::steps_of(k, 256, 1000, Some(until)), steps, "{k}");
        }
        assert_eq!(StepBatch::steps_of(999, 256, 1000, None), vec![4]);
        assert_eq!(StepBatch::steps_of(3, 25, 10, Some(1)), vec![1, 1, 1]);
        assert!(StepBatch::new(1, 0, 1000).is_err());
        assert!(StepBatch::new(1, 256, 0).is_err());
    }
}
