//! The data feed: the examples of optimizer step `s` — global examples `[B·(s−1), B·s)`,
//! wrapping at the end of the build — collated into padded micro-batches.

use burn::tensor::{Bool, Int, Tensor, TensorData, backend::Backend};
use earlyberts_format::{Build, Example, PaddedBatch, StepBatch, Vocab};

use crate::Result;

/// One micro-batch, padded (see [`PadTo`]).
pub struct Batch<B: Backend> {
    /// `[batch, seq]`
    pub input_ids: Tensor<B, 2, Int>,
    /// `[batch, seq]`
    pub token_type_ids: Tensor<B, 2, Int>,
    /// `[batch, seq]`, true on padding
    pub padding: Tensor<B, 2, Bool>,
    /// `[n_labels]`: row `b · seq + position` of each labelled token
    pub mlm_rows: Tensor<B, 1, Int>,
    /// `[n_labels]`
    pub mlm_labels: Tensor<B, 1, Int>,
    /// `[batch]`
    pub nsp_labels: Tensor<B, 1, Int>,
    /// Number of labelled tokens.
    pub labelled: usize,
    /// Real (unpadded) tokens.
    pub tokens: usize,
}

/// Reads the examples of optimizer steps from a build ([`Build::read_step`]), with the pad
/// id of the vocabulary its ids refer to.
pub struct StepFeed {
    build: Build,
    batch_size: u64,
    pad: u16,
}

impl StepFeed {
    /// The steps of `batch_size` examples of `build`, whose ids refer to `vocab`.
    pub fn new(build: Build, batch_size: u64, vocab: &Vocab) -> StepFeed {
        StepFeed {
            build,
            batch_size,
            pad: vocab.special().pad,
        }
    }

    /// The build.
    pub fn build(&self) -> &Build {
        &self.build
    }

    /// The id micro-batches are padded with.
    pub fn pad(&self) -> u16 {
        self.pad
    }

    /// The examples of step `step`, in order, and the first and last global index.
    pub fn step(&self, step: u64) -> Result<(Vec<Example>, u64, u64)> {
        let batch = StepBatch::new(step, self.batch_size, self.build.len())?;
        let examples = self.build.read_step(&batch)?;
        let first = batch.positions.start % batch.total;
        let last = (batch.positions.end - 1) % batch.total;
        Ok((examples, first, last))
    }
}

/// How far a micro-batch is padded: its longest sequence rounded up to a multiple, never
/// past a limit (the position table). A GPU backend compiles and tunes kernels per shape, so
/// a multiple of 64 bounds the shapes of a run to a handful; the padded positions are
/// masked out of attention and carry no label, so the loss is the same up to rounding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PadTo {
    pub multiple: usize,
    pub limit: usize,
}

impl PadTo {
    /// The longest sequence, no rounding.
    pub const LONGEST: PadTo = PadTo {
        multiple: 1,
        limit: usize::MAX,
    };

    /// The padded length of a micro-batch whose longest sequence is `longest`.
    pub fn len(self, longest: usize) -> usize {
        let longest = longest.max(1);
        longest
            .next_multiple_of(self.multiple.max(1))
            .min(self.limit)
            .max(longest)
    }
}

/// Pads `examples` into a micro-batch on `device` (pad id `pad`, length by `pad_to`), as
/// [`PaddedBatch`] lays them out, with the labels kept sparse (the MLM head runs on
/// labelled positions only).
pub fn collate<B: Backend>(
    examples: &[Example],
    pad: u16,
    pad_to: PadTo,
    device: &B::Device,
) -> Batch<B> {
    let seq = pad_to.len(PaddedBatch::longest(examples));
    let padded = PaddedBatch::new(examples, pad, seq);
    let batch = padded.batch;
    let padding: Vec<bool> = padded.attention_mask.iter().map(|&m| m == 0).collect();
    let (rows, labels): (Vec<i64>, Vec<i64>) = padded
        .labels
        .iter()
        .enumerate()
        .filter(|(_, label)| **label != PaddedBatch::UNLABELLED)
        .map(|(row, &label)| (row as i64, label))
        .unzip();
    let labelled = rows.len();
    let matrix =
        |values: Vec<i64>| Tensor::from_data(TensorData::new(values, [batch, seq]), device);
    let vector = |values: Vec<i64>| {
        let n = values.len();
        Tensor::from_data(TensorData::new(values, [n]), device)
    };
    Batch {
        input_ids: matrix(padded.input_ids),
        token_type_ids: matrix(padded.token_type_ids),
        padding: Tensor::from_data(TensorData::new(padding, [batch, seq]), device),
        mlm_rows: vector(rows),
        mlm_labels: vector(labels),
        nsp_labels: vector(padded.next_sentence_label),
        labelled,
        tokens: padded.tokens,
    }
}

#[cfg(test)]
mod tests {
    use super::PadTo;

    #[test]
    fn padding_rounds_up_to_the_multiple_within_the_limit() {
        let to64 = PadTo {
            multiple: 64,
            limit: 512,
        };
        assert_eq!(
            [1, 63, 64, 65, 500, 512].map(|n| to64.len(n)),
            [64, 64, 64, 128, 512, 512]
        );
        assert_eq!(PadTo::LONGEST.len(77), 77);
        assert_eq!(PadTo::LONGEST.len(0), 1);
        let odd = PadTo {
            multiple: 100,
            limit: 512,
        };
        assert_eq!((odd.len(450), odd.len(505)), (500, 512));
        assert_eq!(odd.len(513), 513, "never shorter than the longest sequence");
    }
}
