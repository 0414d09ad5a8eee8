//! Which examples an optimizer step consumes.
//!
//! The reference trains step `s` (1-based) on global examples `[B·(s−1), B·s)` of the
//! training order, the cursor wrapping to 0 at the end of the data. `pipeline inspect
//! --step` and the trainer's data feed both use this one definition.

use std::ops::Range;

use crate::Example;

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

/// Why a step has no batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoBatch {
    #[error("steps are numbered from 1")]
    StepZero,
    #[error("batch size must be at least 1")]
    BatchSizeZero,
    #[error("the build holds no example")]
    EmptyBuild,
    #[error("step {step} × batch {batch_size} overflows")]
    Overflow { step: u64, batch_size: u64 },
}

impl StepBatch {
    /// The batch of `step`; fails for step 0, batch size 0 or an empty build.
    pub fn new(step: u64, batch_size: u64, total: u64) -> Result<StepBatch, NoBatch> {
        if step == 0 {
            return Err(NoBatch::StepZero);
        }
        if batch_size == 0 {
            return Err(NoBatch::BatchSizeZero);
        }
        if total == 0 {
            return Err(NoBatch::EmptyBuild);
        }
        let start = (step - 1)
            .checked_mul(batch_size)
            .ok_or(NoBatch::Overflow { step, batch_size })?;
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

/// Examples padded to one length in the layout `transformers`' `BertForPreTraining`
/// takes: row-major `[batch, seq]` arrays, the MLM labels dense with
/// [`PaddedBatch::UNLABELLED`] where a position has none. The trainer's micro-batches and
/// the Python package's steps are made here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaddedBatch {
    pub batch: usize,
    pub seq: usize,
    pub input_ids: Vec<i64>,
    /// 0 for `[CLS] A [SEP]` and padding, 1 for `B [SEP]`.
    pub token_type_ids: Vec<i64>,
    /// 1 on tokens, 0 on padding.
    pub attention_mask: Vec<i64>,
    pub labels: Vec<i64>,
    /// `[batch]`: 0 is next, 1 random next.
    pub next_sentence_label: Vec<i64>,
    /// Real (unpadded) tokens.
    pub tokens: usize,
}

impl PaddedBatch {
    /// The label of a position without one (PyTorch's `ignore_index`).
    pub const UNLABELLED: i64 = -100;

    /// The length of the longest of `examples` (at least 1).
    pub fn longest(examples: &[Example]) -> usize {
        examples
            .iter()
            .map(|e| e.token_ids.len())
            .max()
            .unwrap_or(0)
            .max(1)
    }

    /// `examples` padded with `pad_id` to `seq` positions (at least the longest).
    pub fn new(examples: &[Example], pad_id: u16, seq: usize) -> PaddedBatch {
        let (batch, seq) = (examples.len(), seq.max(PaddedBatch::longest(examples)));
        let mut padded = PaddedBatch {
            batch,
            seq,
            input_ids: vec![i64::from(pad_id); batch * seq],
            token_type_ids: vec![0; batch * seq],
            attention_mask: vec![0; batch * seq],
            labels: vec![PaddedBatch::UNLABELLED; batch * seq],
            next_sentence_label: Vec::with_capacity(batch),
            tokens: 0,
        };
        for (b, e) in examples.iter().enumerate() {
            let row = b * seq;
            for (p, &id) in e.token_ids.iter().enumerate() {
                padded.input_ids[row + p] = i64::from(id);
                padded.token_type_ids[row + p] = i64::from(p >= usize::from(e.segment_a_len));
                padded.attention_mask[row + p] = 1;
            }
            for (&p, &label) in e.mlm_positions.iter().zip(&e.mlm_labels) {
                padded.labels[row + usize::from(p)] = i64::from(label);
            }
            padded.next_sentence_label.push(i64::from(e.nsp_label.id()));
            padded.tokens += e.token_ids.len();
        }
        padded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_padded_batch_is_what_bert_for_pre_training_takes() {
        let examples = crate::synthetic::examples(3, 1);
        let padded = PaddedBatch::new(&examples, 0, 0);
        let longest = PaddedBatch::longest(&examples);
        assert_eq!((padded.batch, padded.seq), (3, longest));
        for (b, e) in examples.iter().enumerate() {
            let row = |v: &Vec<i64>| v[b * longest..(b + 1) * longest].to_vec();
            let n = e.token_ids.len();
            let ids = row(&padded.input_ids);
            assert!(
                ids[..n]
                    .iter()
                    .zip(&e.token_ids)
                    .all(|(a, &b)| *a == i64::from(b))
            );
            assert!(ids[n..].iter().all(|&id| id == 0));
            let types: Vec<i64> = e.segment_ids().iter().map(|&t| i64::from(t)).collect();
            assert_eq!(row(&padded.token_type_ids)[..n], types[..]);
            assert!(
                row(&padded.attention_mask)
                    .iter()
                    .enumerate()
                    .all(|(p, &m)| m == i64::from(p < n))
            );
            let labels = row(&padded.labels);
            let labelled: Vec<(usize, i64)> = labels
                .iter()
                .enumerate()
                .filter(|(_, l)| **l != PaddedBatch::UNLABELLED)
                .map(|(p, &l)| (p, l))
                .collect();
            let expected: Vec<(usize, i64)> = e
                .mlm_positions
                .iter()
                .zip(&e.mlm_labels)
                .map(|(&p, &l)| (usize::from(p), i64::from(l)))
                .collect();
            assert_eq!(labelled, expected);
            assert_eq!(padded.next_sentence_label[b], i64::from(e.nsp_label.id()));
        }
        assert_eq!(PaddedBatch::new(&examples, 0, longest + 5).seq, longest + 5);
        assert_eq!(
            PaddedBatch::new(&examples, 0, 1).seq,
            longest,
            "never shorter"
        );
    }

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
        assert_eq!(StepBatch::new(0, 256, 1000), Err(NoBatch::StepZero));
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
        assert_eq!(StepBatch::new(1, 0, 1000), Err(NoBatch::BatchSizeZero));
        assert_eq!(StepBatch::new(1, 256, 0), Err(NoBatch::EmptyBuild));
        assert_eq!(
            StepBatch::new(u64::MAX, 2, 10).unwrap_err().to_string(),
            format!("step {} × batch 2 overflows", u64::MAX)
        );
    }
}
