//! How the reference trained, for a PyTorch loop or `transformers.Trainer`
//! (`earlyberts.torch`): the format crate's `REFERENCE_TRAINING` and checkpoint steps, the
//! same values `trainer run` trains with.

use earlyberts_format::training::{REFERENCE_TRAINING, checkpoint_steps};
use pyo3::prelude::*;

use crate::build_error;

/// The reference's training settings as a dict: `batch_size`, `steps`, `peak_lr`,
/// `warmup_steps`, `decay_steps`, `end_lr`, `power` (Hugging Face's polynomial decay with
/// warm-up, advanced after each optimizer step: step 1 runs at rate 0), `beta_1`, `beta_2`,
/// `epsilon`, `weight_decay` (AdamW, every parameter), `dropout`, `max_grad_norm` (None:
/// never clipped).
#[pyfunction]
pub fn reference_training(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    let text = serde_json::to_string(&REFERENCE_TRAINING).map_err(build_error)?;
    py.import("json")?.call_method1("loads", (text,))
}

/// The EarlyBERTs checkpoint steps: 10, 100–1,000 by 100, 2,000–20,000 by 1,000, 40,000.
#[pyfunction(name = "checkpoint_steps")]
pub fn reference_checkpoint_steps() -> Vec<u64> {
    checkpoint_steps()
}
