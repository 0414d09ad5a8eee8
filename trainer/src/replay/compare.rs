//! How close a replayed update is to a checkpoint's: statistics of two updates of the same
//! weights, and the verdict they support.
//!
//! An update is `w − w₀` (weights minus the initial weights), taken in f64 from f32 values,
//! where the difference of two f32 numbers is exact. Early in the reference's schedule an
//! update is a few hundred f32 ulps of a weight, so weights themselves would compare equal
//! to many digits whatever data trained them: only updates tell data apart.

use serde::Serialize;

use crate::model::params::HfTensors;

/// Statistics of a replayed update `Δr` against a target update `Δt` over a set of
/// coordinates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct UpdateStats {
    /// Coordinates compared.
    pub coordinates: u64,
    /// `Δr·Δt / (‖Δr‖ ‖Δt‖)`; 0 when either update is zero.
    pub cosine: f64,
    /// `‖Δr − Δt‖ / ‖Δt‖`; infinite when the target did not move but the replay did.
    pub relative_error: f64,
    /// Among the coordinates where the target moved by more than float noise (see
    /// [`moved`]), the share where the replay moved the same way; 1 when there are none.
    pub sign_agreement: f64,
    /// How many coordinates the target moved by more than float noise.
    pub moved: u64,
    /// `‖Δt‖`
    pub target_norm: f64,
    /// `‖Δr‖`
    pub replay_norm: f64,
}

/// Running sums behind [`UpdateStats`]; tensors add up into the whole model's.
#[derive(Clone, Copy, Debug, Default)]
struct Sums {
    coordinates: u64,
    dot: f64,
    replay: f64,
    target: f64,
    difference: f64,
    moved: u64,
    agreeing: u64,
}

impl Sums {
    fn add_tensor(&mut self, init: &[f32], replayed: &[f32], target: &[f32]) {
        for ((&w0, &wr), &wt) in init.iter().zip(replayed).zip(target) {
            let (r, t) = (f64::from(wr) - f64::from(w0), f64::from(wt) - f64::from(w0));
            self.coordinates += 1;
            self.dot += r * t;
            self.replay += r * r;
            self.target += t * t;
            self.difference += (r - t) * (r - t);
            if moved(w0, wt) {
                self.moved += 1;
                self.agreeing += u64::from(r * t > 0.0);
            }
        }
    }

    fn merge(&mut self, other: &Sums) {
        self.coordinates += other.coordinates;
        self.dot += other.dot;
        self.replay += other.replay;
        self.target += other.target;
        self.difference += other.difference;
        self.moved += other.moved;
        self.agreeing += other.agreeing;
    }

    fn stats(&self) -> UpdateStats {
        let (replay_norm, target_norm) = (self.replay.sqrt(), self.target.sqrt());
        let cosine = match replay_norm * target_norm {
            0.0 => 0.0,
            norms => self.dot / norms,
        };
        let relative_error = match (self.difference, target_norm) {
            (0.0, _) => 0.0,
            (_, 0.0) => f64::INFINITY,
            (difference, norm) => difference.sqrt() / norm,
        };
        UpdateStats {
            coordinates: self.coordinates,
            cosine,
            relative_error,
            sign_agreement: match self.moved {
                0 => 1.0,
                moved => self.agreeing as f64 / moved as f64,
            },
            moved: self.moved,
            target_norm,
            replay_norm,
        }
    }
}

/// Whether a weight that went from `w0` to `wt` moved by more than float noise: by more
/// than one f32 spacing at the larger of the two magnitudes. A one-ulp change can be a
/// rounding of a smaller update, and its sign says little.
pub fn moved(w0: f32, wt: f32) -> bool {
    let larger = w0.abs().max(wt.abs());
    (f64::from(wt) - f64::from(w0)).abs() > f64::from(ulp(larger))
}

/// The spacing of f32 numbers at `x ≥ 0` (the distance to the next larger one).
fn ulp(x: f32) -> f32 {
    f32::from_bits(x.to_bits() + 1) - x
}

/// A replayed update compared with the target's, over the whole model and per tensor.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    /// Serialised inline: a replay's JSON line has the overall statistics at its top level.
    #[serde(flatten)]
    pub overall: UpdateStats,
    /// In the order of the names given to [`compare_updates`].
    pub per_tensor: Vec<TensorStats>,
}

/// One tensor's [`UpdateStats`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TensorStats {
    pub name: String,
    #[serde(flatten)]
    pub stats: UpdateStats,
}

/// Compares the updates `replayed − init` and `target − init` over the tensors `names`,
/// which all three hold with the same shapes (the caller checked that).
pub fn compare_updates(
    init: &HfTensors,
    replayed: &HfTensors,
    target: &HfTensors,
    names: &[String],
) -> Comparison {
    let mut overall = Sums::default();
    let per_tensor = names
        .iter()
        .map(|name| {
            let values = |tensors: &HfTensors| -> Vec<f32> {
                tensors
                    .get(name)
                    .expect("the caller checked the names")
                    .1
                    .clone()
            };
            let mut sums = Sums::default();
            sums.add_tensor(&values(init), &values(replayed), &values(target));
            overall.merge(&sums);
            TensorStats {
                name: name.clone(),
                stats: sums.stats(),
            }
        })
        .collect();
    Comparison {
        overall: overall.stats(),
        per_tensor,
    }
}

/// What a replay says about a candidate; printed and serialised as its [`Verdict::label`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// The data and the training setting (micro-batch size) reproduce the target to float
    /// noise.
    Exact,
    /// The right examples, trained under another accumulation (or other float noise of
    /// the same size).
    Match,
    /// Other examples.
    NoMatch,
}

impl Verdict {
    /// As printed: `exact`, `match`, `no match`.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Exact => "exact",
            Verdict::Match => "match",
            Verdict::NoMatch => "no match",
        }
    }
}

impl Serialize for Verdict {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.label())
    }
}

/// The relative errors below which a replay is `exact` or a `match`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Thresholds {
    pub exact: f64,
    #[serde(rename = "match")]
    pub matched: f64,
}

impl Thresholds {
    /// Calibrated on replays of PyTorch + `transformers` runs (docs/REPLAY.md): the right
    /// data at the right micro-batch size came within 2.2e-4 of the target, the right data
    /// at another micro-batch size 1.7e-2 to 8.0e-2 away (within a factor of 4 of the
    /// right size on small batches, any factor up to 8 at batch 256), other data 0.145 or
    /// more.
    pub const DEFAULT: Thresholds = Thresholds {
        exact: 3e-3,
        matched: 0.1,
    };

    /// The verdict on a replay whose update is `relative_error` away from the target's.
    pub fn verdict(&self, relative_error: f64) -> Verdict {
        if relative_error <= self.exact {
            Verdict::Exact
        } else if relative_error <= self.matched {
            Verdict::Match
        } else {
            Verdict::NoMatch
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensors(values: &[(&str, Vec<f32>)]) -> HfTensors {
        values
            .iter()
            .map(|(name, v)| (name.to_string(), (vec![v.len()], v.clone())))
            .collect()
    }

    #[test]
    fn identical_updates_are_exact_and_opposite_ones_are_not() {
        let init = tensors(&[("a", vec![1.0, -2.0, 0.5, 0.0])]);
        let target = tensors(&[("a", vec![1.5, -2.5, 0.5, 0.25])]);
        let names = vec!["a".to_string()];
        let same = compare_updates(&init, &target, &target, &names).overall;
        assert_eq!(same.relative_error, 0.0);
        assert!((same.cosine - 1.0).abs() < 1e-15);
        assert_eq!((same.moved, same.sign_agreement), (3, 1.0));
        let opposite = tensors(&[("a", vec![0.5, -1.5, 0.5, -0.25])]);
        let back = compare_updates(&init, &opposite, &target, &names).overall;
        assert!((back.cosine + 1.0).abs() < 1e-15);
        assert!((back.relative_error - 2.0).abs() < 1e-15);
        assert_eq!(back.sign_agreement, 0.0);
        let still = compare_updates(&init, &init, &target, &names).overall;
        assert_eq!((still.cosine, still.relative_error), (0.0, 1.0));
    }

    #[test]
    fn updates_are_exact_differences_of_f32_values() {
        // Three ulps above 1: the update is exactly 3 · 2⁻²³, with no rounding.
        let w0 = 1.0f32;
        let w1 = f32::from_bits(w0.to_bits() + 3);
        let init = tensors(&[("a", vec![w0])]);
        let target = tensors(&[("a", vec![w1])]);
        let stats = compare_updates(&init, &target, &target, &["a".into()]).overall;
        assert_eq!(stats.target_norm, 3.0 * f64::from(f32::EPSILON));
    }

    #[test]
    fn one_ulp_is_noise_and_two_are_a_move() {
        let w = 0.02f32;
        assert!(!moved(w, w));
        assert!(!moved(w, f32::from_bits(w.to_bits() + 1)));
        assert!(moved(w, f32::from_bits(w.to_bits() + 2)));
        assert!(!moved(-w, f32::from_bits((-w).to_bits() + 1)));
        assert!(moved(0.0, 1e-30));
    }

    #[test]
    fn tensors_add_up_to_the_model() {
        let init = tensors(&[("a", vec![0.0, 0.0]), ("b", vec![1.0])]);
        let replayed = tensors(&[("a", vec![3.0, 0.0]), ("b", vec![1.0])]);
        let target = tensors(&[("a", vec![3.0, 4.0]), ("b", vec![1.0])]);
        let names = vec!["a".to_string(), "b".to_string()];
        let c = compare_updates(&init, &replayed, &target, &names);
        assert_eq!(c.overall.coordinates, 3);
        assert!((c.overall.relative_error - 0.8).abs() < 1e-15);
        assert!((c.overall.cosine - 0.6).abs() < 1e-15);
        assert_eq!(c.overall.sign_agreement, 0.5);
        assert_eq!(c.per_tensor[1].stats.relative_error, 0.0);
        assert_eq!(c.per_tensor[1].stats.moved, 0);
    }

    #[test]
    fn verdicts_follow_the_thresholds() {
        let t = Thresholds::DEFAULT;
        assert_eq!(t.verdict(0.0), Verdict::Exact);
        assert_eq!(t.verdict(t.exact), Verdict::Exact);
        assert_eq!(t.verdict(0.02), Verdict::Match);
        assert_eq!(t.verdict(0.25), Verdict::NoMatch);
        assert_eq!(t.verdict(f64::INFINITY), Verdict::NoMatch);
        assert_eq!(t.verdict(f64::NAN), Verdict::NoMatch);
    }
}
