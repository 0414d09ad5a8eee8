//! Hugging Face checkpoints: a model's parameters under `BertForPreTraining`'s tensor names,
//! in safetensors, and back.
//!
//! Training checkpoints add `trainer_state.json` and `optimizer.bin` (see [`crate::state`]).
//!
//! Export writes `OUT/stepK/` through a temporary directory renamed when complete:
//! `model.safetensors` (metadata `format: pt`; the MLM decoder is tied to the word
//! embeddings, so, as `save_pretrained` does, only `bert.embeddings.word_embeddings.weight`
//! and `cls.predictions.bias` are stored), `config.json`, `vocab.txt`,
//! `tokenizer_config.json` and `special_tokens_map.json`.
//!
//! Which tensor is which parameter, and how layouts differ, is `model::params`'s: one
//! table for import, export and initialisation.

use std::{collections::HashMap, fs, path::Path};

use burn::tensor::backend::{AutodiffBackend, Backend};
use earlyberts_format::{AtomicFile, Vocab};
use safetensors::{Dtype, tensor::TensorView};

pub use crate::model::params::HfTensors;
use crate::{
    Error, Result,
    model::{BertConfig, BertForPreTraining, params},
    state::{BuildRef, OPTIMIZER_FILE, STATE_FILE, TrainingState, WEIGHTS_FILE, read_training},
    train::{Trainer, frozen},
};

/// A checkpoint's vocabulary: the build's `vocab.txt`, byte for byte.
pub const VOCAB_FILE: &str = "vocab.txt";

/// The model's parameters under Hugging Face names (tied copies left out).
pub fn to_hf<B: Backend>(model: &BertForPreTraining<B>) -> HfTensors {
    params::export_hf(model)
}

/// Builds a model of `config` from Hugging Face tensors.
pub fn from_hf<B: Backend>(
    config: &BertConfig,
    raw: HfTensors,
    device: &B::Device,
) -> Result<BertForPreTraining<B>> {
    config.from_hf_tensors(raw, device)
}

/// Serialises tensors as safetensors bytes (f32, metadata `format: pt`).
pub fn to_safetensors(tensors: &HfTensors) -> Result<Vec<u8>> {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, (shape, data))| {
            (
                name.clone(),
                shape.clone(),
                data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            )
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(name, shape, data)| {
            let view = TensorView::new(Dtype::F32, shape.clone(), data)
                .expect("an f32 tensor's bytes match its shape");
            (name.as_str(), view)
        })
        .collect::<Vec<_>>();
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    Ok(safetensors::serialize(views, Some(metadata)).expect("f32 tensors serialise"))
}

/// Parses safetensors bytes (f32 tensors only); `path` names them in errors.
pub fn from_safetensors(path: &Path, bytes: &[u8]) -> Result<HfTensors> {
    let file = safetensors::SafeTensors::deserialize(bytes).map_err(|e| Error::Weights {
        path: path.to_path_buf(),
        reason: format!("is not a valid safetensors file: {e}"),
    })?;
    let mut out = HfTensors::new();
    for (name, view) in file.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(Error::Tensor {
                path: path.to_path_buf(),
                name,
                reason: format!("is {:?}, only F32 is supported", view.dtype()),
            });
        }
        let data = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        out.insert(name, (view.shape().to_vec(), data));
    }
    Ok(out)
}

/// The `config.json` of a `BertForPreTraining` checkpoint. Dropout is written as BERT's 0.1
/// (what users fine-tune with); training itself ran with `config.dropout`.
pub fn hf_config(config: &BertConfig) -> serde_json::Value {
    serde_json::json!({
        "architectures": ["BertForPreTraining"],
        "model_type": "bert",
        "vocab_size": config.vocab_size,
        "hidden_size": config.hidden_size,
        "num_hidden_layers": config.num_hidden_layers,
        "num_attention_heads": config.num_attention_heads,
        "intermediate_size": config.intermediate_size,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": config.max_position_embeddings,
        "type_vocab_size": config.type_vocab_size,
        "initializer_range": config.initializer_range,
        "layer_norm_eps": config.layer_norm_eps,
        "pad_token_id": config.pad_token_id,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
    })
}

/// The files of a Hugging Face checkpoint directory: `model.safetensors`, `config.json`,
/// `vocab.txt`, `tokenizer_config.json`, `special_tokens_map.json`.
pub fn checkpoint_files<B: Backend>(
    model: &BertForPreTraining<B>,
    config: &BertConfig,
    vocab: &Vocab,
) -> Result<Vec<(&'static str, Vec<u8>)>> {
    let pretty = |v: serde_json::Value| {
        format!(
            "{}\n",
            serde_json::to_string_pretty(&v).expect("JSON serialises")
        )
        .into_bytes()
    };
    Ok(vec![
        (WEIGHTS_FILE, to_safetensors(&to_hf(model))?),
        ("config.json", pretty(hf_config(config))),
        // The file's own bytes: its sha256 is the one the build records.
        (VOCAB_FILE, vocab.bytes().to_vec()),
        (
            "tokenizer_config.json",
            pretty(
                serde_json::json!({"do_lower_case": true, "model_max_length": 512, "tokenizer_class": "BertTokenizer"}),
            ),
        ),
        (
            "special_tokens_map.json",
            pretty(
                serde_json::json!({"cls_token": "[CLS]", "mask_token": "[MASK]", "pad_token": "[PAD]", "sep_token": "[SEP]", "unk_token": "[UNK]"}),
            ),
        ),
    ])
}

/// Writes `files` as directory `dir`, atomically: each file is fsynced inside a `.tmp`
/// sibling, which is renamed to `dir` at the end. A killed write leaves only the `.tmp`
/// directory, which the next write clears.
pub fn write_checkpoint(dir: &Path, files: &[(&str, Vec<u8>)]) -> Result<()> {
    let mut tmp = dir.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(|e| Error::io("clear", &tmp, e))?;
    }
    fs::create_dir_all(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
    for (name, bytes) in files {
        let mut file = AtomicFile::create(tmp.join(name))?;
        file.write_all(bytes)?;
        file.commit()?;
    }
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(|e| Error::io("replace", dir, e))?;
    }
    fs::rename(&tmp, dir).map_err(|e| Error::io("rename a checkpoint into", dir, e))?;
    if let Some(parent) = dir.parent() {
        // The rename is durable once the parent directory is.
        fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io("sync", parent, e))?;
    }
    Ok(())
}

/// Writes a Hugging Face checkpoint directory (no training state) atomically.
pub fn save_checkpoint<B: Backend>(
    dir: &Path,
    model: &BertForPreTraining<B>,
    config: &BertConfig,
    vocab: &Vocab,
) -> Result<()> {
    write_checkpoint(dir, &checkpoint_files(model, config, vocab)?)
}

/// Reads a checkpoint's weights: `model.safetensors` if present, else `pytorch_model.bin`.
pub fn read_weights(dir: &Path) -> Result<(std::path::PathBuf, HfTensors)> {
    let safetensors = dir.join(WEIGHTS_FILE);
    if safetensors.exists() {
        let bytes = fs::read(&safetensors).map_err(|e| Error::io("read", &safetensors, e))?;
        return Ok((safetensors.clone(), from_safetensors(&safetensors, &bytes)?));
    }
    let pytorch = dir.join("pytorch_model.bin");
    if pytorch.exists() {
        return Ok((pytorch.clone(), from_pytorch(&pytorch)?));
    }
    Err(Error::NoWeights {
        path: dir.to_path_buf(),
    })
}

/// Reads a PyTorch `state_dict` file (`torch.save`'s zip format, or the legacy one); every
/// floating-point tensor is converted to f32.
pub fn from_pytorch(path: &Path) -> Result<HfTensors> {
    let reader = burn_store::pytorch::PytorchReader::new(path).map_err(|e| Error::Weights {
        path: path.to_path_buf(),
        reason: format!("is not a readable PyTorch checkpoint: {e}"),
    })?;
    let tensor_error = |name: &str, reason: String| Error::Tensor {
        path: path.to_path_buf(),
        name: name.to_string(),
        reason,
    };
    let mut out = HfTensors::new();
    for (name, snapshot) in reader.into_tensors() {
        if !snapshot.dtype.is_float() {
            if name.ends_with("position_ids") {
                continue;
            }
            let reason = format!("is {:?}, not floating point", snapshot.dtype);
            return Err(tensor_error(&name, reason));
        }
        let data = snapshot
            .to_data()
            .map_err(|e| tensor_error(&name, format!("cannot be read: {e:?}")))?;
        let shape = data.shape.to_vec();
        let values = data
            .convert::<f32>()
            .into_vec::<f32>()
            .map_err(|e| tensor_error(&name, format!("cannot be read: {e:?}")))?;
        out.insert(name, (shape, values));
    }
    Ok(out)
}

/// Loads a checkpoint directory's weights into a model of `config`.
pub fn load_checkpoint<B: Backend>(
    dir: &Path,
    config: &BertConfig,
    device: &B::Device,
) -> Result<BertForPreTraining<B>> {
    let (path, tensors) = read_weights(dir)?;
    from_hf(config, tensors, device).map_err(|e| Error::Checkpoint {
        action: "load",
        path,
        source: Box::new(e),
    })
}

/// The architecture in a checkpoint directory's `config.json`, if it has one.
pub fn read_hf_config(dir: &Path) -> Result<Option<BertConfig>> {
    let path = dir.join("config.json");
    if !path.exists() {
        return Ok(None);
    }
    BertConfig::from_hf_file(&path).map(Some)
}

/// Writes checkpoint directory `dir` with the trainer's model and, beside it, the training
/// state that `trainer run --resume dir` continues from.
pub fn save_training<B: AutodiffBackend>(
    dir: &Path,
    trainer: &Trainer<B>,
    config: &BertConfig,
    vocab: &Vocab,
    build: BuildRef,
) -> Result<TrainingState> {
    let mut files = checkpoint_files(&frozen(trainer.model()), config, vocab)?;
    let optimizer = trainer.optimizer_state()?;
    let weights = &files
        .iter()
        .find(|(name, _)| *name == WEIGHTS_FILE)
        .expect("checkpoint_files writes the weights")
        .1;
    let state = TrainingState::new(
        trainer.position(),
        trainer.config(),
        config,
        build,
        trainer.elapsed(),
        weights,
        &optimizer,
    );
    files.push((STATE_FILE, state.to_json().into_bytes()));
    files.push((OPTIMIZER_FILE, optimizer));
    write_checkpoint(dir, &files)?;
    Ok(state)
}

/// The trainer saved in checkpoint directory `dir`, after checking every file's hash.
pub fn resume_training<B: AutodiffBackend>(
    dir: &Path,
    device: &B::Device,
) -> Result<(Trainer<B>, TrainingState)> {
    let saved = read_training(dir)?;
    let weights_path = dir.join(WEIGHTS_FILE);
    let tensors = from_safetensors(&weights_path, &saved.weights)?;
    let model = from_hf(&saved.state.model, tensors, device).map_err(|e| Error::Checkpoint {
        action: "load",
        path: weights_path.clone(),
        source: Box::new(e),
    })?;
    let trainer = Trainer::resume(
        model,
        saved.state.train.clone(),
        device,
        saved.state.step,
        &saved.optimizer,
        saved.state.elapsed_s,
    )
    .map_err(|e| Error::Checkpoint {
        action: "resume from",
        path: dir.to_path_buf(),
        source: Box::new(e),
    })?;
    Ok((trainer, saved.state))
}
