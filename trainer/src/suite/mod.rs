//! Audit of a checkpoint suite: are the revisions of one run what their step labels say?
//!
//! Published suites can be wrong (EleutherAI/pythia#205: step branches serving the final
//! weights). Without replaying anything, a run's checkpoints must (1) differ from one
//! another, (2) move away from the initial weights as the step grows, and (3) move between
//! two labels by no more than AdamW can at the learning rates of the steps between them:
//! each step changes a weight by at most `lr · (A + weight_decay · |w|)`, where `A` bounds
//! Adam's `|m̂| / √v̂` for the run's betas (Cauchy–Schwarz over the moments' sums, step by
//! step with the bias corrections: `Bounds`). [`audit`]
//! reads the revisions in step order, one at a time beside the initial weights and the
//! previous revision, and reports each revision's content hash, its distances and every
//! [`Finding`]; [`render`] prints it.

pub mod render;

use std::path::{Path, PathBuf};

use earlyberts_format::{Invalid, sha256_file};
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
    /// The run's peak rate and warm-up, where they differ from what the revisions'
    /// `trainer_state.json` records (else the reference's).
    pub peak_lr: Option<f64>,
    pub warmup: Option<u64>,
}

/// The largest step an audit accepts: the bound is summed step by step.
pub const MAX_STEP: u64 = 100_000_000;

/// What bounds an interval's update: the schedule and AdamW's settings.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Optimizer {
    pub schedule: LearningRateSchedule,
    pub beta_1: f64,
    pub beta_2: f64,
    pub weight_decay: f64,
    /// Where these came from: `trainer_state.json` or `reference`, and `--lr`/`--warmup`
    /// where given.
    pub source: String,
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
            source: "reference".into(),
        }
    }

    /// Refuses settings the bound cannot use.
    fn check(&self) -> Result<()> {
        let within = |field: &str, x: f64, ok: bool, allowed: &str| match ok && x.is_finite() {
            true => Ok(()),
            false => Err(Error::Invalid(Invalid::out_of_range(field, x, allowed))),
        };
        within(
            "beta_1",
            self.beta_1,
            (0.0..1.0).contains(&self.beta_1),
            "[0, 1)",
        )?;
        within(
            "beta_2",
            self.beta_2,
            self.beta_2 > 0.0 && self.beta_2 < 1.0,
            "(0, 1)",
        )?;
        within(
            "weight_decay",
            self.weight_decay,
            self.weight_decay >= 0.0,
            "[0, ∞)",
        )?;
        within(
            "lr",
            self.schedule.peak,
            self.schedule.peak >= 0.0,
            "[0, ∞)",
        )
    }
}

/// What AdamW can do by each optimizer step, summed step by step as the audit's steps grow:
/// the rates so far, and the largest `|m̂_t| / √v̂_t` can be at any step so far.
///
/// By Cauchy–Schwarz over the moments' sums, `|m_t| ≤ (1 − β₁) √(S_t · v_t / (1 − β₂))` with
/// `S_t = Σ_{j<t} (β₁²/β₂)^j`, so with the bias corrections `|m̂_t| / √v̂_t ≤ (1 − β₁) /
/// (1 − β₁ᵗ) · √(S_t (1 − β₂ᵗ) / (1 − β₂))` — 1 at the first step, about 7.3 at most for the
/// reference's betas, growing without bound where β₁² ≥ β₂ (the sum then has no limit).
/// With weight decay a step moves a weight `w` by at most `lr · (that + decay · |w|)`.
struct Bounds {
    optimizer: Optimizer,
    step: u64,
    /// The rates of steps `1..=step`.
    rates: f64,
    /// The largest bias-corrected ratio over steps `1..=step`.
    adam: f64,
    sum: f64,
    powers: [f64; 3],
}

impl Bounds {
    fn new(optimizer: Optimizer) -> Bounds {
        Bounds {
            optimizer,
            step: 0,
            rates: 0.0,
            adam: 0.0,
            sum: 0.0,
            powers: [1.0; 3],
        }
    }

    /// Sums on to step `to` (never back).
    fn advance(&mut self, to: u64) {
        let (b1, b2) = (self.optimizer.beta_1, self.optimizer.beta_2);
        while self.step < to {
            self.step += 1;
            self.rates += self.optimizer.schedule.for_step(self.step);
            let [r, p1, p2] = &mut self.powers;
            self.sum += *r;
            *r *= b1 * b1 / b2;
            *p1 *= b1;
            *p2 *= b2;
            let ratio = (1.0 - b1) / (1.0 - *p1) * (self.sum * (1.0 - *p2) / (1.0 - b2)).sqrt();
            self.adam = self.adam.max(ratio);
        }
    }

    /// The largest change of a weight of magnitude at most `magnitude` from the step whose
    /// rates summed to `rates_before` to the current step.
    fn allowed(&self, rates_before: f64, magnitude: f64) -> f64 {
        let rates = (self.rates - rates_before).max(0.0);
        rates * (self.adam + self.optimizer.weight_decay * magnitude)
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
        let mut values = normalised(raw);
        // A `pytorch_model.bin` keeps the decoder, a copy of the tied word embeddings (and
        // of the prediction bias) that safetensors files leave out: without it the same
        // weights hash the same in either file.
        values.retain(|name, _| !name.starts_with("cls.predictions.decoder."));
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
    if let Some((step, _)) = revisions.last()
        && *step > MAX_STEP
    {
        let allowed = format!("[0, {MAX_STEP}]");
        return Err(Invalid::out_of_range("step", step, allowed).into());
    }
    let init_dir = options.init.clone().or_else(|| {
        let zero = revisions.iter().find(|(s, _)| *s == 0);
        zero.map(|(_, dir)| dir.clone())
    });
    let init = init_dir.as_deref().map(Weights::read).transpose()?;
    let mut optimizer = recorded_optimizer(&revisions)?.unwrap_or_else(Optimizer::reference);
    if options.peak_lr.is_some() || options.warmup.is_some() {
        optimizer.schedule.peak = options.peak_lr.unwrap_or(optimizer.schedule.peak);
        optimizer.schedule.warmup = options.warmup.unwrap_or(optimizer.schedule.warmup);
        optimizer.source += ", with the peak rate and warm-up given";
    }
    optimizer.check()?;
    let mut audit = Audit {
        bounds: Bounds::new(optimizer.clone()),
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

/// The optimizer a `trainer run` checkpoint records: that of the first revision with a
/// `trainer_state.json`, if any has one.
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
        source: STATE_FILE.into(),
    }))
}

/// The audit so far: what each new revision is compared with.
struct Audit {
    bounds: Bounds,
    init: Option<Weights>,
    /// The previous revision: its step, weights, distance from the initial weights and the
    /// rates summed up to it.
    previous: Option<Previous>,
    out: Vec<Revision>,
    findings: Vec<Finding>,
    /// `(step, sha256, tensor hash, rates up to it)` of every revision read, step 0 for the
    /// initial weights.
    seen: Vec<(u64, String, String, f64)>,
}

struct Previous {
    step: u64,
    weights: Weights,
    from_init: Option<Distance>,
    rates: f64,
}

impl Audit {
    fn add(&mut self, step: u64, dir: &Path) -> Result<()> {
        let weights = Weights::read(dir)?;
        if self.seen.is_empty()
            && let Some(init) = &self.init
        {
            let (sha, tensors) = (init.sha256.clone(), init.tensors.clone());
            self.seen.push((0, sha, tensors, 0.0));
        }
        self.bounds.advance(step);
        let rates = self.bounds.rates;
        // Weights may stay the same only where every step between ran at rate 0 (the
        // reference's first step does).
        if let Some((same_as, sha, _, before)) = self.seen.iter().find(|s| s.2 == weights.tensors)
            && rates > *before
        {
            self.findings.push(Finding::Identical {
                step,
                same_as: *same_as,
                bitwise: *sha == weights.sha256,
            });
        }
        let (sha, tensors) = (weights.sha256.clone(), weights.tensors.clone());
        self.seen.push((step, sha, tensors, rates));
        let from_init = match &self.init {
            Some(init) => Some(weights.distance(init, dir)?.0),
            None => None,
        };
        let (from_previous, allowed) = self.check_update(step, &weights, dir)?;
        if let (Some(previous), Some(now)) = (&self.previous, from_init)
            && let Some(before) = previous.from_init
            && now.l2 <= before.l2
            && rates > previous.rates
        {
            self.findings.push(Finding::NotGrowing {
                step,
                earlier: previous.step,
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
        self.previous = Some(Previous {
            step,
            weights,
            from_init,
            rates,
        });
        Ok(())
    }

    /// The change since the previous revision (or the initial weights), against what the
    /// rates between allow.
    fn check_update(
        &mut self,
        step: u64,
        weights: &Weights,
        dir: &Path,
    ) -> Result<(Option<Distance>, Option<f64>)> {
        let base = match (&self.previous, &self.init) {
            (Some(p), _) => (p.step, &p.weights, p.rates),
            (None, Some(init)) => (0, init, 0.0),
            (None, None) => return Ok((None, None)),
        };
        let (previous, base, rates_before) = base;
        let (d, magnitude) = weights.distance(base, dir)?;
        let allowed = self.bounds.allowed(rates_before, magnitude);
        // Rounding to f32 moves a weight by up to 2⁻²³ of its magnitude.
        if d.largest > allowed + magnitude * 1e-6 {
            self.findings.push(Finding::TooLargeUpdate {
                step,
                previous,
                largest: d.largest,
                allowed,
            });
        }
        Ok((Some(d), Some(allowed)))
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
        let mut bounds = Bounds::new(Optimizer::reference());
        bounds.advance(1);
        // The first step runs at rate 0, and Adam's first ratio is 1.
        assert_eq!((bounds.rates, bounds.adam), (0.0, 1.0));
        // Steps 1..=10 of the reference's warm-up: rates 0, 1e-8, …, 9e-8.
        bounds.advance(10);
        assert!((bounds.rates - 45e-8).abs() < 1e-20, "{}", bounds.rates);
        assert_eq!(bounds.allowed(0.0, 0.0), bounds.rates * bounds.adam);
        assert_eq!(bounds.allowed(bounds.rates, 1.0), 0.0);
        // The limit for the reference's betas.
        bounds.advance(100_000);
        let limit = 0.1 / (0.001f64 * (1.0 - 0.81 / 0.999)).sqrt();
        assert!(
            bounds.adam <= limit && bounds.adam > 0.99 * limit,
            "{}",
            bounds.adam
        );
        // Betas with β₁² ≥ β₂ have no limit: the bound grows, finite.
        let mut wide = Bounds::new(Optimizer {
            beta_1: 0.99,
            beta_2: 0.9,
            ..Optimizer::reference()
        });
        wide.advance(100);
        let at_100 = wide.adam;
        wide.advance(1000);
        assert!(at_100.is_finite() && wide.adam.is_finite() && wide.adam > at_100);
    }
}
