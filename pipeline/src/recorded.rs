//! The fields of a build's `manifest.json` that the pipeline reads back, typed. The format
//! crate keeps `recipe.params` and `stages` as JSON (their shape is the recipe's and the
//! stages', which it does not know); every read of them goes through [`Recorded`], so a
//! renamed field breaks here, in one place, and its tests.

use earlyberts_format::Manifest;
use serde::Deserialize;

use crate::store::StoreRecord;

/// What the pipeline reads back from a manifest's JSON sections; each field is `None` where
/// the build does not record it (builds made before it was recorded). (The batch size, which
/// the trainer reads too, is the format crate's: `Manifest::batch_size`.)
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    /// `stages.store`: the sentence store the build was made from.
    pub store: Option<StoreRecord>,
}

#[derive(Deserialize)]
struct Stages {
    store: Option<StoreRecord>,
}

impl Recorded {
    /// The fields `manifest` records (a section of another shape records none).
    pub fn of(manifest: &Manifest) -> Recorded {
        let stages = Stages::deserialize(&manifest.stages).ok();
        Recorded {
            store: stages.and_then(|s| s.store),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn golden() -> Manifest {
        serde_json::from_str(include_str!(
            "../../golden/fixture-earlyberts-keyed-seed1.json"
        ))
        .unwrap()
    }

    #[test]
    fn the_store_record_reads_back_as_written() {
        let golden = golden();
        let store = Recorded::of(&golden)
            .store
            .expect("the golden build records its store");
        assert_eq!(
            (
                store.totals.sentences,
                store.totals.tokens,
                store.clean.rules_version
            ),
            (264, 3492, 1)
        );
        assert_eq!(
            serde_json::to_value(&store).unwrap(),
            golden.stages["store"]
        );
    }

    #[test]
    fn a_section_of_another_shape_records_nothing() {
        for stages in [
            json!({"store": {}}),
            json!({"pairs": {}}),
            json!({"store": {"totals": {"tokens": 7}}}),
            json!("stages"),
        ] {
            let mut manifest = golden();
            manifest.stages = stages;
            assert_eq!(
                Recorded::of(&manifest),
                Recorded::default(),
                "{}",
                manifest.stages
            );
        }
    }
}
