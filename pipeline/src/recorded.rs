//! The fields of a build's `manifest.json` that the pipeline reads back, typed. The format
//! crate keeps `recipe.params` and `stages` as JSON (their shape is the recipe's and the
//! stages', which it does not know); every read of them goes through [`Recorded`], so a
//! renamed field breaks here, in one place, and its tests.

use earlyberts_format::Manifest;
use serde::Deserialize;

/// What the pipeline reads back from a manifest's JSON sections; each field is `None` where
/// the build does not record it (builds made before it was recorded).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    /// `recipe.params.training.batch_size`: examples per optimizer step.
    pub batch_size: Option<u64>,
    /// `stages.store.totals.tokens`: tokens in the sentence store the build was made from.
    pub store_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct Params {
    training: Option<Training>,
}

#[derive(Deserialize)]
struct Training {
    batch_size: Option<u64>,
}

#[derive(Deserialize)]
struct Stages {
    store: Option<Store>,
}

#[derive(Deserialize)]
struct Store {
    totals: Option<Totals>,
}

#[derive(Deserialize)]
struct Totals {
    tokens: Option<u64>,
}

impl Recorded {
    /// The fields `manifest` records (a section of another shape records none).
    pub fn of(manifest: &Manifest) -> Recorded {
        let params = Params::deserialize(&manifest.recipe.params).ok();
        let stages = Stages::deserialize(&manifest.stages).ok();
        Recorded {
            batch_size: params.and_then(|p| p.training?.batch_size),
            store_tokens: stages.and_then(|s| s.store?.totals?.tokens),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn manifest(params: serde_json::Value, stages: serde_json::Value) -> Manifest {
        let mut manifest: Manifest = serde_json::from_str(include_str!(
            "../../golden/fixture-earlyberts-keyed-seed1.json"
        ))
        .unwrap();
        manifest.recipe.params = params;
        manifest.stages = stages;
        manifest
    }

    #[test]
    fn recorded_fields_are_read_and_absent_ones_are_none() {
        let golden: Manifest = serde_json::from_str(include_str!(
            "../../golden/fixture-earlyberts-keyed-seed1.json"
        ))
        .unwrap();
        let recorded = Recorded::of(&golden);
        assert!(recorded.batch_size.is_some_and(|b| b > 0), "{recorded:?}");
        assert!(recorded.store_tokens.is_some_and(|t| t > 0), "{recorded:?}");
        let some = manifest(
            json!({"name": "x", "training": {"batch_size": 32}}),
            json!({"store": {"totals": {"tokens": 7, "sentences": 2}}, "pairs": {}}),
        );
        assert_eq!(
            Recorded::of(&some),
            Recorded {
                batch_size: Some(32),
                store_tokens: Some(7)
            }
        );
        let none = manifest(json!({"name": "x"}), json!({"store": {}}));
        assert_eq!(Recorded::of(&none), Recorded::default());
        let odd = manifest(json!([1, 2]), json!("stages"));
        assert_eq!(Recorded::of(&odd), Recorded::default());
    }
}
