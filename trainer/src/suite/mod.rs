//! Audit of a checkpoint suite: are the revisions of one run what their step labels say?
//!
//! Published suites can be wrong (EleutherAI/pythia#205: step branches serving the final
//! weights). Without replaying anything, a run's checkpoints must (1) differ from one
//! another, (2) move away from the initial weights as the step grows, and (3) move between
//! two labels by no more than AdamW can at the learning rates of the steps between them:
//! each step changes a weight by at most `lr · (A + weight_decay · |w|)`, where `A` bounds
//! Adam's `|m̂| / √v̂` for the run's betas (Cauchy–Schwarz over the moment sums:
//! `(1 − β₁) / √((1 − β₂)(1 − β₁²/β₂))`, times the largest bias-correction factor). [`audit`]
//! reads the revisions in step order, one at a time beside the initial weights and the
//! previous revision, and reports each revision's content hash, its distances and every
//! [`Finding`]; [`render`] prints it.

pub mod render;

use std::path::{Path, PathBuf};

use earlyberts_format::sha256_file;
use serde::Serialize;

use crate::{
    Error, Result,
    checkpoint::read_weights,
    model::params::{HfTensors, normalised},
    schedule::LearningRateSchedule,
    state::{STATE_FILE, TrainingState},
};

/// What an audit reads.
#[derive(Clone, Debug)]
pub struct SuiteOptions {
    /// The weights training started from; `None`: a `step0` revision, if any.
    pub init: Option<PathBuf>,
    /// `(step, checkpoint directory)`, any order.
    pub revisions: Vec<(u64, PathBuf)>,
    /// The run's optimizer; `None`: from the revisions' `trainer_state.json`, else the
    /// reference's.
    pub optimizer: Option<Optimizer>,
}

/// What bounds an interval's update: the schedule and AdamW's settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Optimizer {
    pub schedule: LearningRateSchedule,
    pub beta_1: f64,
    pub beta_2: f64,
    pub weight_decay: f64,
    /// Where these came from: `given`, `trainer_state.json` or `reference`.
    pub source: &'static str,
}

impl Optimizer {
    /// The reference's AdamW and schedule.
    pub fn reference() -> Optimizer {
        let r = earlyberts_format::training::REFERENCE_TRAINING;
        Optimizer {
            schedule: LearningRateSchedule::reference(),
            beta_1: r.beta_1,
            beta_2: r.beta_2,
            weight_decay: r.weight_decay,
            source: "reference",
        }
    }

    /// The largest change of a weight of magnitude at most `magnitude` over optimizer steps
    /// `from + 1 ..= to`.
    pub fn largest_update(&self, from: u64, to: u64, magnitude: f64) -> f64 {
        let (b1, b2) = (self.beta_1, self.beta_2);
        let ratio = (1.0 - b1) / ((1.0 - b2) * (1.0 - b1 * b1 / b2)).sqrt();
        // The bias correction √(1 − β₂ᵗ) / (1 − β₁ᵗ) tends to 1; its largest value up to `to`.
        let correction = (1..=to.clamp(1, 100_000))
            .map(|t| (1.0 - b2.powi(t as i32)).sqrt() / (1.0 - b1.powi(t as i32)))
            .fold(1.0f64, f64::max);
        // A fold from +0 (an empty `sum` of floats is −0).
        let rates = (from + 1..=to).fold(0.0, |sum, k| sum + self.schedule.for_step(k));
        rates * (ratio * correction + self.weight_decay * magnitude)
    }
}

/// How far one set of weights is from another (over the tensors both hold).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Distance {
    /// ‖w − w₀‖₂.
    pub l2: f64,
    /// ‖w − w₀‖₂ / ‖w₀‖₂.
    pub relative: f64,
    /// max |w − w₀| over every weight.
    pub largest: f64,
}

/// One revision, read and measured.
#[derive(Clone, Debug, Serialize)]
pub struct Revision {
    pub step: u64,
    pub path: PathBuf,
    /// sha256 of its weights file (what the Hub lists for an LFS file).
    pub sha256: String,
    /// xxh3-128 of its tensors (names, shapes, values), whatever the file format.
    pub tensors: String,
    pub from_init: Option<Distance>,
    /// From the previous revision (or the initial weights for the first).
    pub from_previous: Option<Distance>,
    /// The largest change AdamW allows since the previous revision.
    pub allowed: Option<f64>,
}

/// Something a correct suite of one run does not show.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finding {
    /// Two revisions (or a revision and the initial weights, step 0) hold the same weights,
    /// although the learning rates of the steps between them are not all 0.
    Identical {
        step: u64,
        same_as: u64,
        bitwise: bool,
    },
    /// A revision is no farther from the initial weights than an earlier one: its label is
    /// out of order, or it serves other weights.
    NotGrowing { step: u64, earlier: u64 },
    /// A revision moved more since the previous one than the learning rates allow.
    TooLargeUpdate {
        step: u64,
        previous: u64,
        largest: f64,
        allowed: f64,
    },
}

/// An audit's results.
#[derive(Clone, Debug, Serialize)]
pub struct SuiteReport {
    pub init: Option<PathBuf>,
    pub optimizer: Optimizer,
    /// In step order.
    pub revisions: Vec<Revision>,
    pub findings: Vec<Finding>,
}

/// Weights read, with their hashes.
struct Weights {
    sha256: String,
    tensors: String,
    values: HfTensors,
}

impl Weights {
    fn read(dir: &Path) -> Result<Weights> {
        if !dir.is_dir() {
            return Err(Error::NoDirectory {
                path: dir.to_path_buf(),
            });
        }
        let (path, raw) = read_weights(dir)?;
        let values = normalised(raw);
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        for (name, (shape, data)) in &values {
            hasher.update(name.as_bytes());
            shape
                .iter()
                .for_each(|d| hasher.update(&(*d as u64).to_le_bytes()));
            data.iter().for_each(|v| hasher.update(&v.to_le_bytes()));
        }
        Ok(Weights {
            sha256: sha256_file(&path)?,
            tensors: format!("{:032x}", hasher.digest128()),
            values,
        })
    }

    /// The distance to `base` over the tensors both hold (refusing other shapes), and the
    /// largest weight magnitude either holds.
    fn distance(&self, base: &Weights, path: &Path) -> Result<(Distance, f64)> {
        let (mut diff, mut norm, mut largest, mut magnitude) = (0f64, 0f64, 0f64, 0f64);
        for (name, (shape, values)) in &self.values {
            let Some((base_shape, base_values)) = base.values.get(name) else {
                continue;
            };
            if shape != base_shape {
                return Err(Error::InFile {
                    path: path.to_path_buf(),
                    source: Box::new(Error::TensorShape {
                        name: name.clone(),
                        found: shape.clone(),
                        expected: base_shape.clone(),
                    }),
                });
            }
            for (&w, &w0) in values.iter().zip(base_values) {
                let d = f64::from(w) - f64::from(w0);
                diff += d * d;
                norm += f64::from(w0) * f64::from(w0);
                largest = largest.max(d.abs());
                magnitude = magnitude.max(f64::from(w.abs())).max(f64::from(w0.abs()));
            }
        }
        let l2 = diff.sqrt();
        let relative = l2 / norm.sqrt().max(f64::MIN_POSITIVE);
        Ok((
            Distance {
                l2,
                relative,
                largest,
            },
            magnitude,
        ))
    }
}

/// Reads the revisions in step order and checks them against one another, the initial
/// weights and the optimizer.
pub fn audit(options: SuiteOptions) -> Result<SuiteReport> {
    let mut revisions = options.revisions;
    revisions.sort();
    if revisions.is_empty() {
        return Err(Error::NoCheckpoints {
            path: PathBuf::from("(no revision given)"),
        });
    }
    let init_dir = options.init.clone().or_else(|| {
        let zero = revisions.iter().find(|(s, _)| *s == 0);
        zero.map(|(_, dir)| dir.clone())
    });
    let init = init_dir.as_deref().map(Weights::read).transpose()?;
    let optimizer = match options.optimizer {
        Some(given) => given,
        None => recorded_optimizer(&revisions)?.unwrap_or_else(Optimizer::reference),
    };
    let mut audit = Audit {
        optimizer,
        init,
        previous: None,
        out: Vec::new(),
        findings: Vec::new(),
        seen: Vec::new(),
    };
    for (step, dir) in &revisions {
        audit.add(*step, dir)?;
    }
    Ok(SuiteReport {
        init: init_dir,
        optimizer,
        revisions: audit.out,
        findings: audit.findings,
    })
}

/// The optimizer a `trainer run` checkpoint records, if the first revision has one.
fn recorded_optimizer(revisions: &[(u64, PathBuf)]) -> Result<Option<Optimizer>> {
    let Some((_, dir)) = revisions.iter().find(|(_, d)| d.join(STATE_FILE).is_file()) else {
        return Ok(None);
    };
    let path = dir.join(STATE_FILE);
    let text = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
    let state: TrainingState = serde_json::from_slice(&text).map_err(|e| Error::Checkpoint {
        action: "read",
        path: path.clone(),
        source: Box::new(Error::Weights {
            path: path.clone(),
            reason: e.to_string(),
        }),
    })?;
    Ok(Some(Optimizer {
        schedule: state.train.schedule,
        beta_1: f64::from(state.train.beta_1),
        beta_2: f64::from(state.train.beta_2),
        weight_decay: f64::from(state.train.weight_decay),
        source: "trainer_state.json",
    }))
}

/// The audit so far: what each new revision is compared with.
struct Audit {
    optimizer: Optimizer,
    init: Option<Weights>,
    /// The previous revision's step, weights and distance from the initial weights.
    previous: Option<(u64, Weights, Option<Distance>)>,
    out: Vec<Revision>,
    findings: Vec<Finding>,
    /// `(step, sha256, tensor hash)` of every revision read, step 0 for the initial weights.
    seen: Vec<(u64, String, String)>,
}

impl Audit {
    fn add(&mut self, step: u64, dir: &Path) -> Result<()> {
        let weights = Weights::read(dir)?;
        if self.seen.is_empty()
            && let Some(init) = &self.init
        {
            self.seen
                .push((0, init.sha256.clone(), init.tensors.clone()));
        }
        if let Some((same_as, sha, _)) = self.seen.iter().find(|s| s.2 == weights.tensors) {
            let bitwise = *sha == weights.sha256;
            let finding = Finding::Identical {
                step,
                same_as: *same_as,
                bitwise,
            };
            // Weights may stay the same only where every step between ran at rate 0 (the
            // reference's first step does), and a `step0` revision is the initial weights.
            if self.optimizer.largest_update(*same_as, step, 1.0) > 0.0 {
                self.findings.push(finding);
            }
        }
        self.seen
            .push((step, weights.sha256.clone(), weights.tensors.clone()));
        let from_init = match &self.init {
            Some(init) => Some(weights.distance(init, dir)?.0),
            None => None,
        };
        let base = self
            .previous
            .as_ref()
            .map(|(s, w, _)| (*s, w))
            .or(self.init.as_ref().map(|w| (0, w)));
        let (from_previous, allowed) = match base {
            Some((previous, base)) => {
                let (d, magnitude) = weights.distance(base, dir)?;
                let allowed = self.optimizer.largest_update(previous, step, magnitude);
                // Rounding to f32 moves a weight by up to 2⁻²³ of its magnitude.
                let slack = magnitude * 1e-6;
                if d.largest > allowed + slack && step > previous {
                    self.findings.push(Finding::TooLargeUpdate {
                        step,
                        previous,
                        largest: d.largest,
                        allowed,
                    });
                }
                (Some(d), Some(allowed))
            }
            None => (None, None),
        };
        if let (Some((earlier, _, Some(before))), Some(now)) = (&self.previous, from_init)
            && now.l2 <= before.l2
            && step > 0
        {
            self.findings.push(Finding::NotGrowing {
                step,
                earlier: *earlier,
            });
        }
        self.out.push(Revision {
            step,
            path: dir.to_path_buf(),
            sha256: weights.sha256.clone(),
            tensors: weights.tensors.clone(),
            from_init,
            from_previous,
            allowed,
        });
        self.previous = Some((step, weights, from_init));
        Ok(())
    }
}

/// The `stepN` subdirectories of `dir` (a run's output, or a model repository fetched one
/// revision a directory), by step.
pub fn revisions_in(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let unreadable = |e| Error::io("read", dir, e);
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let path = entry.map_err(unreadable)?.path();
        if let Some(step) = step_label(&path)
            && path.is_dir()
        {
            found.push((step, path));
        }
    }
    found.sort();
    if found.is_empty() {
        return Err(Error::NoCheckpoints {
            path: dir.to_path_buf(),
        });
    }
    Ok(found)
}

/// The step of a directory named `stepN`.
pub fn step_label(dir: &Path) -> Option<u64> {
    let name = dir.file_name()?.to_str()?;
    name.strip_prefix("step")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adam_moves_a_weight_by_at_most_its_bound() {
        let o = Optimizer::reference();
        // Steps 1..=10 of the reference's warm-up: rates 0, 1e-8, …, 9e-8.
        let allowed = o.largest_update(0, 10, 0.0);
        let ratio = 0.1 / (0.001f64 * (1.0 - 0.81 / 0.999)).sqrt();
        assert!((allowed - 45e-8 * ratio).abs() < 1e-15, "{allowed}");
        assert_eq!(o.largest_update(10, 10, 1.0), 0.0);
        assert!(o.largest_update(0, 40_000, 1.0) > o.largest_update(0, 20_000, 1.0));
    }
}
