//! The training state saved beside each checkpoint's weights, for `trainer run --resume`.
//!
//! Two files in the checkpoint directory: `trainer_state.json` ([`TrainingState`]: the step,
//! the training and model configuration, which build the data came from, and the xxh3-128
//! hashes of the weights and the optimizer file) and `optimizer.bin` (AdamW's moments in the
//! model's parameter order, burn's bincode record). Both files are checked against the
//! recorded hashes before anything is loaded, so a truncated or altered state is refused
//! rather than resumed from.

use std::{fs, path::Path};

use earlyberts_format::{Manifest, PayloadHash};
use serde::{Deserialize, Serialize};

use crate::{Error, Result, model::BertConfig, train::TrainConfig};

pub const STATE_FILE: &str = "trainer_state.json";
pub const OPTIMIZER_FILE: &str = "optimizer.bin";
pub const WEIGHTS_FILE: &str = "model.safetensors";
const FORMAT: u32 = 1;

/// Which build a run trains on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildRef {
    pub recipe: String,
    pub seed: u64,
    pub examples: u64,
    pub root_hash: PayloadHash,
}

impl BuildRef {
    pub fn of(manifest: &Manifest) -> BuildRef {
        BuildRef {
            recipe: manifest.recipe.name.clone(),
            seed: manifest.seed,
            examples: manifest.len(),
            root_hash: manifest.root_hash,
        }
    }
}

/// Everything besides the weights that a resumed run needs.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingState {
    pub format: u32,
    /// Optimizer steps taken.
    pub step: u64,
    /// The global index of the next example to train on.
    pub next_example: u64,
    pub train: TrainConfig,
    pub model: BertConfig,
    pub build: BuildRef,
    /// Training wall time so far, in seconds.
    pub elapsed_s: f64,
    pub weights_hash: PayloadHash,
    pub optimizer_hash: PayloadHash,
}

impl TrainingState {
    /// The state after `step` steps; `weights` and `optimizer` are the bytes of the two
    /// files it describes.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        step: u64,
        train: &TrainConfig,
        model: &BertConfig,
        build: BuildRef,
        elapsed_s: f64,
        weights: &[u8],
        optimizer: &[u8],
    ) -> TrainingState {
        TrainingState {
            format: FORMAT,
            step,
            next_example: (step * train.batch_size) % build.examples.max(1),
            train: train.clone(),
            model: model.clone(),
            build,
            elapsed_s,
            weights_hash: PayloadHash::of(weights),
            optimizer_hash: PayloadHash::of(optimizer),
        }
    }

    pub fn to_json(&self) -> String {
        format!(
            "{}\n",
            serde_json::to_string_pretty(self).expect("the state serialises")
        )
    }
}

/// A checkpoint's training state and the verified bytes of its weights and moments.
pub struct SavedTraining {
    pub state: TrainingState,
    pub weights: Vec<u8>,
    pub optimizer: Vec<u8>,
}

/// Reads `trainer_state.json` of checkpoint directory `dir` (the other files unchecked).
pub fn read_state(dir: &Path) -> Result<TrainingState> {
    let path = dir.join(STATE_FILE);
    let text = fs::read_to_string(&path).map_err(|source| Error::NoState {
        path: path.clone(),
        source,
    })?;
    let bad_state = |source| Error::BadState {
        path: path.clone(),
        source,
    };
    let mut json: serde_json::Value = serde_json::from_str(&text).map_err(bad_state)?;
    // States written before the model had a padding id trained BERT's, 0.
    if let Some(model) = json.get_mut("model").and_then(|m| m.as_object_mut()) {
        model.entry("pad_token_id").or_insert(0.into());
    }
    let state: TrainingState = serde_json::from_value(json).map_err(bad_state)?;
    if state.format != FORMAT {
        return Err(Error::StateFormat {
            path,
            found: state.format,
            supported: FORMAT,
        });
    }
    Ok(state)
}

/// Reads and checks the training state of checkpoint directory `dir`.
pub fn read_training(dir: &Path) -> Result<SavedTraining> {
    let state = read_state(dir)?;
    let read_checked = |name: &str, expected: PayloadHash| -> Result<Vec<u8>> {
        let path = dir.join(name);
        let bytes = fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
        let found = PayloadHash::of(&bytes);
        if found != expected {
            return Err(Error::Damaged {
                path,
                found,
                expected,
            });
        }
        Ok(bytes)
    };
    let weights = read_checked(WEIGHTS_FILE, state.weights_hash)?;
    let optimizer = read_checked(OPTIMIZER_FILE, state.optimizer_hash)?;
    Ok(SavedTraining {
        state,
        weights,
        optimizer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_from_before_the_padding_id_read_as_bert_s() {
        let dir = tempfile::tempdir().unwrap();
        let model = BertConfig::tiny().with_pad_token_id(7);
        let build = BuildRef {
            recipe: "r".into(),
            seed: 1,
            examples: 10,
            root_hash: PayloadHash::of(b"x"),
        };
        let state = TrainingState::new(
            3,
            &TrainConfig::reference(8),
            &model,
            build,
            1.0,
            b"w",
            b"o",
        );
        let mut json: serde_json::Value = serde_json::from_str(&state.to_json()).unwrap();
        assert_eq!(json["model"]["pad_token_id"], 7);
        json["model"]
            .as_object_mut()
            .unwrap()
            .remove("pad_token_id");
        fs::write(dir.path().join(STATE_FILE), json.to_string()).unwrap();
        assert_eq!(read_state(dir.path()).unwrap().model.pad_token_id, 0);
    }
}
