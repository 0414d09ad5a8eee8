//! `mask`: static masking and the length rule, as the reference does them
//! (../shared/docs/earlyberts-procedure.md, steps 6–8).
//!
//! For example `k`, from its own stream `(seed, "mask", k)`, in this order:
//! 1. every token of `[CLS] A [SEP] B [SEP]` that is not a special token (`[PAD]`, `[UNK]`,
//!    `[CLS]`, `[SEP]`, `[MASK]`) is chosen with probability `probability`, one draw per
//!    token in position order; a chosen token is replaced right away (draws in the same
//!    order): by `[MASK]` with probability `mask_token`, else by a uniform id of
//!    `random_token_range` with probability `random_token_of_rest`, else kept;
//! 2. if more than `max_predictions` are chosen, randomly chosen ones are un-chosen (their
//!    original id restored) until exactly `max_predictions` remain: a partial Fisher–Yates
//!    shuffle of the chosen positions picks the ones to drop;
//! 3. a sequence longer than `max_length` keeps its first `max_length − 1` tokens and gets
//!    `[SEP]` as its last (labels past the cut are dropped); if that removes all of B, the
//!    segment boundary moves to the end and the NSP label becomes 0 ("is next").

use earlyberts_format::{Example, Invalid, NspLabel, SpecialTokens, at_least, probability};
use serde::{Deserialize, Serialize};

use earlyberts_format::random::Stream;

/// What share of tokens [`MaskingPolicy`] chooses and how it shows them, in expectation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MaskingShares {
    /// Of the maskable tokens of an example below the cap: the share chosen.
    pub chosen: f64,
    /// Of the chosen tokens: the share shown as `[MASK]`.
    pub mask_token: f64,
    /// Of the chosen tokens: the share shown as a different, random id.
    pub random_token: f64,
}

/// The masking parameters of a recipe.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskingPolicy {
    /// Chance that a non-special token is chosen (0.15).
    pub probability: f64,
    /// Chance that a chosen token becomes `[MASK]` (0.8).
    pub mask_token: f64,
    /// Chance that a chosen token that did not become `[MASK]` becomes a random id (0.5).
    pub random_token_of_rest: f64,
    /// Random ids are uniform in `[start, end)` (the whole vocabulary: `[0, 30522)`).
    pub random_token_range: [u32; 2],
    /// At most this many labelled tokens per sequence (80).
    pub max_predictions: u32,
    /// Longest sequence kept (512).
    pub max_length: u32,
    /// How a longer sequence is cut.
    #[serde(default, skip_serializing_if = "Truncation::is_default")]
    pub truncation: Truncation,
}

/// How a sequence over `max_length` is cut (the training-time length rule).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Truncation {
    /// Its first `max_length − 1` tokens, then `[SEP]`: `max_length` tokens.
    #[default]
    AppendSep,
    /// As the reference's `mlm.py` (`prepare_model_inputs`) cuts: its first
    /// `max_length − 1` tokens with the last of them made `[SEP]` (unlabelled):
    /// `max_length − 1` tokens.
    MlmPy,
}

impl Truncation {
    pub fn is_default(&self) -> bool {
        *self == Truncation::AppendSep
    }
}

impl MaskingPolicy {
    /// Checks every value is in range; fields are named as in a recipe (`masking.…`).
    pub fn validate(&self) -> Result<(), Invalid> {
        probability("masking.probability", self.probability)?;
        probability("masking.mask_token", self.mask_token)?;
        probability("masking.random_token_of_rest", self.random_token_of_rest)?;
        let [start, end] = self.random_token_range;
        if start >= end || end > 1 << 16 {
            return Err(Invalid::Unusable {
                field: "masking.random_token_range".into(),
                value: format!("[{start}, {end})"),
                reason: "empty, or past the u16 ids".into(),
            });
        }
        at_least("masking.max_predictions", self.max_predictions.into(), 1)?;
        if self.max_length < 3 || self.max_length > u32::from(u16::MAX) {
            return Err(Invalid::out_of_range(
                "masking.max_length",
                self.max_length,
                "[3, 65535]",
            ));
        }
        Ok(())
    }

    /// The length of a sequence the length rule cut (a sequence of another kind can have
    /// it too).
    pub fn truncated_length(&self) -> usize {
        match self.truncation {
            Truncation::AppendSep => self.max_length as usize,
            Truncation::MlmPy => self.max_length as usize - 1,
        }
    }

    /// The shares a large sample of this policy's examples shows, for the audit.
    pub fn expected_shares(&self) -> MaskingShares {
        let [start, end] = self.random_token_range;
        let rest = 1.0 - self.mask_token;
        // A random id equal to the original reads as "kept".
        let random = rest * self.random_token_of_rest * (1.0 - 1.0 / f64::from(end - start));
        MaskingShares {
            chosen: self.probability,
            mask_token: self.mask_token,
            random_token: random,
        }
    }

    /// Builds the training-ready example of the pair `(first, second)`.
    pub fn apply(
        &self,
        first: &[u16],
        second: &[u16],
        label: NspLabel,
        special: &SpecialTokens,
        stream: &mut Stream,
    ) -> Example {
        let mut tokens = Vec::with_capacity(first.len() + second.len() + 3);
        tokens.push(special.cls);
        tokens.extend_from_slice(first);
        tokens.push(special.sep);
        let segment_a_len = tokens.len();
        tokens.extend_from_slice(second);
        tokens.push(special.sep);
        // 1. choose and replace
        // (position, original id); a position of the whole pair, before the length rule
        // cuts it below max_length (≤ 65,535), may pass u16.
        let mut chosen: Vec<(u32, u16)> = Vec::new();
        let [start, end] = self.random_token_range;
        for (position, token) in tokens.iter_mut().enumerate() {
            let original = *token;
            if special.is_special(original) || !stream.chance(self.probability) {
                continue;
            }
            chosen.push((position as u32, original));
            if stream.chance(self.mask_token) {
                *token = special.mask;
            } else if stream.chance(self.random_token_of_rest) {
                *token = (u64::from(start) + stream.below(u64::from(end - start))) as u16;
            }
        }
        // 2. the cap
        let cap = self.max_predictions as usize;
        if chosen.len() > cap {
            let extra = chosen.len() - cap;
            for i in 0..extra {
                let j = i + stream.below((chosen.len() - i) as u64) as usize;
                chosen.swap(i, j);
            }
            for &(position, original) in &chosen[..extra] {
                tokens[position as usize] = original;
            }
            chosen.drain(..extra);
            chosen.sort_unstable();
        }
        // 3. the length rule
        self.finish(tokens, segment_a_len, chosen, label, special)
    }

    /// How many tokens of sentences of `first` and `second` tokens an example keeps after
    /// the length rule of [`MaskingPolicy::finish`] (the provenance index records them).
    pub fn kept(&self, first: usize, second: usize) -> (usize, usize) {
        let max = self.max_length as usize;
        if first + second + 3 <= max {
            return (first, second);
        }
        // The cut keeps `[CLS] A [SEP] B` up to the closing [SEP]'s position.
        let sep = match self.truncation {
            Truncation::AppendSep => max - 1,
            Truncation::MlmPy => max - 2,
        };
        (
            first.min(sep - 1),
            sep.saturating_sub(first + 2).min(second),
        )
    }

    /// The example of `[CLS] A [SEP] B [SEP]` ids `tokens` (A's part `segment_a_len` long,
    /// `[CLS]` and `[SEP]` included) with the labelled `(position, original id)` pairs
    /// `chosen` (ascending), after the length rule (step 3 above). Both recipe kinds end here.
    pub fn finish(
        &self,
        mut tokens: Vec<u16>,
        mut segment_a_len: usize,
        mut chosen: Vec<(u32, u16)>,
        mut label: NspLabel,
        special: &SpecialTokens,
    ) -> Example {
        let max = self.max_length as usize;
        if tokens.len() > max {
            // The kept length, and the position of the closing [SEP].
            let (kept, sep) = match self.truncation {
                Truncation::AppendSep => (max, max - 1),
                Truncation::MlmPy => (max - 1, max - 2),
            };
            tokens.truncate(sep);
            tokens.push(special.sep);
            chosen.retain(|&(position, _)| (position as usize) < sep);
            // The cut removed all of B: the boundary moves to the end, and "is next".
            if segment_a_len >= sep {
                segment_a_len = kept;
                label = NspLabel::IsNext;
            }
        }
        Example {
            token_ids: tokens,
            segment_a_len: segment_a_len as u16,
            // Below max_length, so in u16, once cut (and every position is cut below it).
            mlm_positions: chosen.iter().map(|&(p, _)| p as u16).collect(),
            mlm_labels: chosen.iter().map(|&(_, original)| original).collect(),
            nsp_label: label,
        }
    }
}

impl Default for MaskingPolicy {
    /// The reference's values.
    fn default() -> Self {
        MaskingPolicy {
            probability: 0.15,
            mask_token: 0.8,
            random_token_of_rest: 0.5,
            random_token_range: [0, 30522],
            max_predictions: 80,
            max_length: 512,
            truncation: Truncation::AppendSep,
        }
    }
}

#[cfg(test)]
mod tests;
