//! How the reference trained: the one owner of the numbers the procedure fixes
//! (../shared/docs/earlyberts-procedure.md, "Training"). `trainer run` trains with them
//! unless told otherwise; the Python package hands them to a PyTorch loop or to
//! `transformers.Trainer` (`earlyberts.torch`); a build's batch size is its recipe's
//! `training.batch_size` ([`Manifest::batch_size`]), which recipes set to
//! [`REFERENCE_TRAINING`]'s.

use serde::{Deserialize, Serialize};

use crate::Manifest;

/// A training procedure: optimizer, learning-rate schedule, loss and regularisation.
///
/// The schedule is Hugging Face's `get_polynomial_decay_schedule_with_warmup(optimizer,
/// warmup_steps, decay_steps, lr_end=end_lr, power)`, advanced after each optimizer step, so
/// optimizer step `k` (from 1) runs at the rate of schedule position `k − 1`: the first
/// update runs at rate 0. The loss of a step is the mean over its micro-batches of each
/// micro-batch's own loss (mean MLM cross-entropy over its labelled tokens plus mean NSP
/// cross-entropy): each micro-batch's loss is divided by their number before backward.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingSettings {
    /// Examples per optimizer step.
    pub batch_size: u64,
    /// Optimizer steps of a run.
    pub steps: u64,
    /// The schedule's peak learning rate, reached after `warmup_steps`.
    pub peak_lr: f64,
    pub warmup_steps: u64,
    /// The schedule's length: the rate decays from the peak to `end_lr` at this step.
    pub decay_steps: u64,
    pub end_lr: f64,
    /// The decay's power (1: linear).
    pub power: f64,
    /// AdamW (PyTorch's `torch.optim.AdamW`).
    pub beta_1: f64,
    pub beta_2: f64,
    pub epsilon: f64,
    /// Decoupled weight decay, applied to every parameter (biases and LayerNorm too).
    pub weight_decay: f64,
    /// Dropout probability everywhere (the reference trained in evaluation mode: none).
    pub dropout: f64,
    /// The largest gradient norm before clipping; `None`: never clipped.
    pub max_grad_norm: Option<f64>,
}

/// What the published EarlyBERTs checkpoints were trained with.
pub const REFERENCE_TRAINING: TrainingSettings = TrainingSettings {
    batch_size: 256,
    steps: 40_000,
    peak_lr: 1e-4,
    warmup_steps: 10_000,
    decay_steps: 2_000_000,
    end_lr: 1e-7,
    power: 1.0,
    beta_1: 0.9,
    beta_2: 0.999,
    epsilon: 1e-8,
    weight_decay: 0.01,
    dropout: 0.0,
    max_grad_norm: None,
};

/// The EarlyBERTs checkpoint steps: 10, 100–1,000 by 100, 2,000–20,000 by 1,000, 40,000
/// (published as revisions `step10` … `step40000`).
pub fn checkpoint_steps() -> Vec<u64> {
    let mut steps = vec![10];
    steps.extend((1..=10).map(|k| 100 * k));
    steps.extend((2..=20).map(|k| 1000 * k));
    steps.push(REFERENCE_TRAINING.steps);
    steps
}

impl Manifest {
    /// Examples per optimizer step the build was made for: its recipe's
    /// `training.batch_size`, else (a build made before recipes recorded it) the
    /// reference's.
    pub fn batch_size(&self) -> u64 {
        #[derive(Deserialize)]
        struct Params {
            training: Option<Training>,
        }
        #[derive(Deserialize)]
        struct Training {
            batch_size: Option<u64>,
        }
        Params::deserialize(&self.recipe.params)
            .ok()
            .and_then(|p| p.training?.batch_size)
            .unwrap_or(REFERENCE_TRAINING.batch_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checkpoint_schedule_has_31_steps() {
        let steps = checkpoint_steps();
        assert_eq!(steps.len(), 31);
        assert_eq!(steps[..3], [10, 100, 200]);
        assert_eq!(steps[10..13], [1000, 2000, 3000]);
        assert_eq!(steps[29..], [20_000, 40_000]);
    }

    #[test]
    fn a_build_records_its_batch_size() {
        let mut manifest: Manifest = serde_json::from_str(include_str!(
            "../../golden/fixture-earlyberts-keyed-seed1.json"
        ))
        .unwrap();
        assert_eq!(manifest.batch_size(), 256);
        manifest.recipe.params["training"]["batch_size"] = 32.into();
        assert_eq!(manifest.batch_size(), 32);
        for params in [
            serde_json::json!({"name": "x"}),
            serde_json::json!({"training": {}}),
            serde_json::json!([1, 2]),
        ] {
            manifest.recipe.params = params;
            assert_eq!(manifest.batch_size(), 256, "{}", manifest.recipe.params);
        }
    }
}
