//! The learning-rate schedule: Hugging Face's polynomial decay with warm-up
//! (`get_polynomial_decay_schedule_with_warmup`), advanced after each optimizer step, so
//! optimizer step `k` (1-based) runs at the rate of schedule position `k − 1`: the very
//! first update runs at rate 0, as in the reference.

use earlyberts_format::training::REFERENCE_TRAINING;
use serde::{Deserialize, Serialize};

/// Linear warm-up to `peak`, then polynomial decay to `end` at `total` steps.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LearningRateSchedule {
    pub peak: f64,
    pub warmup: u64,
    pub total: u64,
    pub end: f64,
    pub power: f64,
}

impl LearningRateSchedule {
    /// The reference ([`REFERENCE_TRAINING`]): 1e-4, 10,000 warm-up steps, linear decay to
    /// 1e-7 at 2,000,000.
    pub fn reference() -> LearningRateSchedule {
        let r = REFERENCE_TRAINING;
        LearningRateSchedule {
            peak: r.peak_lr,
            warmup: r.warmup_steps,
            total: r.decay_steps,
            end: r.end_lr,
            power: r.power,
        }
    }

    /// The rate at schedule position `position` (the number of steps already taken).
    pub fn at(&self, position: u64) -> f64 {
        if position < self.warmup {
            return self.peak * position as f64 / self.warmup.max(1) as f64;
        }
        if position > self.total {
            return self.end;
        }
        let decay_steps = (self.total - self.warmup) as f64;
        let remaining = 1.0 - (position - self.warmup) as f64 / decay_steps;
        (self.peak - self.end) * remaining.powf(self.power) + self.end
    }

    /// The rate optimizer step `step` (1-based) uses.
    pub fn for_step(&self, step: u64) -> f64 {
        self.at(step - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_schedule() {
        let s = LearningRateSchedule::reference();
        assert_eq!(s.for_step(1), 0.0, "the first update runs at rate 0");
        assert!((s.for_step(2) - 1e-8).abs() < 1e-20);
        assert!((s.for_step(10_001) - 1e-4).abs() < 1e-18);
        assert!((s.at(1_005_000) - (1e-4 - 1e-7) * 0.5 - 1e-7).abs() < 1e-15);
        assert!((s.at(2_000_000) - 1e-7).abs() < 1e-18);
        assert_eq!(s.at(3_000_000), 1e-7);
    }
}
