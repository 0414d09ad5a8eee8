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
//! burn's `Linear` stores `[d_input, d_output]`; PyTorch's `[out, in]`: weights are
//! transposed both ways. Import accepts names with or without the `bert.` prefix and the old
//! `LayerNorm.gamma`/`beta` names, ignores `position_ids` buffers, and refuses a missing or
//! mis-shaped tensor by name.

use std::{
    collections::{BTreeMap, HashMap},
    fs,
    path::{Path, PathBuf},
};

use anyhow::{Context, bail};
use burn::{
    module::Param,
    nn::{Embedding, LayerNorm, LayerNormConfig, Linear},
    tensor::{
        Tensor, TensorData,
        backend::{AutodiffBackend, Backend},
    },
};
use earlyberts_format::{AtomicFile, Vocab};
use safetensors::{Dtype, tensor::TensorView};

use crate::{
    model::{
        BertAttention, BertConfig, BertEmbeddings, BertForPreTraining, BertLMPredictionHead,
        BertLayer, BertModel, BertPooler,
    },
    state::{BuildRef, OPTIMIZER_FILE, STATE_FILE, TrainingState, WEIGHTS_FILE, read_training},
    train::{Trainer, frozen},
};

/// Tensors by Hugging Face name: shape and row-major f32 values.
pub type HfTensors = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

fn values<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

/// `[rows, cols]` row-major → `[cols, rows]` row-major. Done on the host: it does not rely
/// on how a backend materialises a transposed view.
fn transposed(data: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; data.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = data[r * cols + c];
        }
    }
    out
}

fn put_linear<B: Backend>(out: &mut HfTensors, prefix: &str, layer: &Linear<B>) {
    let [d_in, d_out] = layer.weight.val().dims();
    let weight = transposed(&values(layer.weight.val()), d_in, d_out);
    out.insert(format!("{prefix}.weight"), (vec![d_out, d_in], weight));
    if let Some(bias) = &layer.bias {
        out.insert(format!("{prefix}.bias"), (vec![d_out], values(bias.val())));
    }
}

fn put_norm<B: Backend>(out: &mut HfTensors, prefix: &str, norm: &LayerNorm<B>) {
    let d = norm.gamma.val().dims()[0];
    out.insert(
        format!("{prefix}.weight"),
        (vec![d], values(norm.gamma.val())),
    );
    if let Some(beta) = &norm.beta {
        out.insert(format!("{prefix}.bias"), (vec![d], values(beta.val())));
    }
}

fn put_embedding<B: Backend>(out: &mut HfTensors, name: &str, embedding: &Embedding<B>) {
    let dims = embedding.weight.val().dims();
    out.insert(
        name.to_string(),
        (dims.to_vec(), values(embedding.weight.val())),
    );
}

/// The model's parameters under Hugging Face names (tied copies left out).
pub fn to_hf<B: Backend>(model: &BertForPreTraining<B>) -> HfTensors {
    let mut out = HfTensors::new();
    let e = &model.bert.embeddings;
    put_embedding(
        &mut out,
        "bert.embeddings.word_embeddings.weight",
        &e.word_embeddings,
    );
    put_embedding(
        &mut out,
        "bert.embeddings.position_embeddings.weight",
        &e.position_embeddings,
    );
    put_embedding(
        &mut out,
        "bert.embeddings.token_type_embeddings.weight",
        &e.token_type_embeddings,
    );
    put_norm(&mut out, "bert.embeddings.LayerNorm", &e.norm);
    for (i, layer) in model.bert.encoder.iter().enumerate() {
        let p = format!("bert.encoder.layer.{i}");
        put_linear(
            &mut out,
            &format!("{p}.attention.self.query"),
            &layer.attention.query,
        );
        put_linear(
            &mut out,
            &format!("{p}.attention.self.key"),
            &layer.attention.key,
        );
        put_linear(
            &mut out,
            &format!("{p}.attention.self.value"),
            &layer.attention.value,
        );
        put_linear(
            &mut out,
            &format!("{p}.attention.output.dense"),
            &layer.attention.output,
        );
        put_norm(
            &mut out,
            &format!("{p}.attention.output.LayerNorm"),
            &layer.attention.output_norm,
        );
        put_linear(
            &mut out,
            &format!("{p}.intermediate.dense"),
            &layer.intermediate,
        );
        put_linear(&mut out, &format!("{p}.output.dense"), &layer.output);
        put_norm(
            &mut out,
            &format!("{p}.output.LayerNorm"),
            &layer.output_norm,
        );
    }
    put_linear(&mut out, "bert.pooler.dense", &model.bert.pooler.dense);
    put_linear(
        &mut out,
        "cls.predictions.transform.dense",
        &model.predictions.transform,
    );
    put_norm(
        &mut out,
        "cls.predictions.transform.LayerNorm",
        &model.predictions.transform_norm,
    );
    let bias = model.predictions.bias.val();
    out.insert(
        "cls.predictions.bias".into(),
        (bias.dims().to_vec(), values(bias)),
    );
    put_linear(&mut out, "cls.seq_relationship", &model.seq_relationship);
    out
}

/// Reads tensors by name, normalising the names `from_hf` expects.
struct Source {
    tensors: HfTensors,
}

impl Source {
    fn new(raw: HfTensors) -> Source {
        let mut tensors = HfTensors::new();
        for (name, tensor) in raw {
            if name.ends_with("position_ids") {
                continue;
            }
            let name = name
                .replace("LayerNorm.gamma", "LayerNorm.weight")
                .replace("LayerNorm.beta", "LayerNorm.bias");
            let name = if ["embeddings.", "encoder.", "pooler."]
                .iter()
                .any(|p| name.starts_with(p))
            {
                format!("bert.{name}")
            } else {
                name
            };
            tensors.insert(name, tensor);
        }
        Source { tensors }
    }

    fn take(&mut self, name: &str, shape: &[usize]) -> anyhow::Result<Vec<f32>> {
        let Some((found, data)) = self.tensors.remove(name) else {
            bail!("the checkpoint has no tensor '{name}'");
        };
        if found != shape {
            bail!("tensor '{name}' has shape {found:?}, the model needs {shape:?}");
        }
        Ok(data)
    }

    fn tensor<B: Backend, const D: usize>(
        &mut self,
        name: &str,
        shape: [usize; D],
        device: &B::Device,
    ) -> anyhow::Result<Tensor<B, D>> {
        Ok(Tensor::from_data(
            TensorData::new(self.take(name, &shape)?, shape),
            device,
        ))
    }

    fn linear<B: Backend>(
        &mut self,
        prefix: &str,
        d_in: usize,
        d_out: usize,
        device: &B::Device,
    ) -> anyhow::Result<Linear<B>> {
        let weight = transposed(
            &self.take(&format!("{prefix}.weight"), &[d_out, d_in])?,
            d_out,
            d_in,
        );
        Ok(Linear {
            weight: Param::from_tensor(Tensor::from_data(
                TensorData::new(weight, [d_in, d_out]),
                device,
            )),
            bias: Some(Param::from_tensor(self.tensor(
                &format!("{prefix}.bias"),
                [d_out],
                device,
            )?)),
        })
    }

    fn norm<B: Backend>(
        &mut self,
        prefix: &str,
        config: &BertConfig,
        device: &B::Device,
    ) -> anyhow::Result<LayerNorm<B>> {
        let mut norm = LayerNormConfig::new(config.hidden_size)
            .with_epsilon(config.layer_norm_eps)
            .init(device);
        norm.gamma = Param::from_tensor(self.tensor(
            &format!("{prefix}.weight"),
            [config.hidden_size],
            device,
        )?);
        norm.beta = Some(Param::from_tensor(self.tensor(
            &format!("{prefix}.bias"),
            [config.hidden_size],
            device,
        )?));
        Ok(norm)
    }

    fn embedding<B: Backend>(
        &mut self,
        name: &str,
        n: usize,
        d: usize,
        device: &B::Device,
    ) -> anyhow::Result<Embedding<B>> {
        Ok(Embedding {
            weight: Param::from_tensor(self.tensor(name, [n, d], device)?),
        })
    }
}

/// Builds a model of `config` from Hugging Face tensors.
pub fn from_hf<B: Backend>(
    config: &BertConfig,
    raw: HfTensors,
    device: &B::Device,
) -> anyhow::Result<BertForPreTraining<B>> {
    let mut s = Source::new(raw);
    let (h, f) = (config.hidden_size, config.intermediate_size);
    let dropout = burn::nn::DropoutConfig::new(config.dropout);
    let embeddings = BertEmbeddings {
        word_embeddings: s.embedding(
            "bert.embeddings.word_embeddings.weight",
            config.vocab_size,
            h,
            device,
        )?,
        position_embeddings: s.embedding(
            "bert.embeddings.position_embeddings.weight",
            config.max_position_embeddings,
            h,
            device,
        )?,
        token_type_embeddings: s.embedding(
            "bert.embeddings.token_type_embeddings.weight",
            config.type_vocab_size,
            h,
            device,
        )?,
        norm: s.norm("bert.embeddings.LayerNorm", config, device)?,
        dropout: dropout.init(),
    };
    let mut encoder = Vec::with_capacity(config.num_hidden_layers);
    for i in 0..config.num_hidden_layers {
        let p = format!("bert.encoder.layer.{i}");
        encoder.push(BertLayer {
            attention: BertAttention {
                query: s.linear(&format!("{p}.attention.self.query"), h, h, device)?,
                key: s.linear(&format!("{p}.attention.self.key"), h, h, device)?,
                value: s.linear(&format!("{p}.attention.self.value"), h, h, device)?,
                output: s.linear(&format!("{p}.attention.output.dense"), h, h, device)?,
                output_norm: s.norm(&format!("{p}.attention.output.LayerNorm"), config, device)?,
                heads: config.num_attention_heads,
                dropout: dropout.init(),
            },
            intermediate: s.linear(&format!("{p}.intermediate.dense"), h, f, device)?,
            output: s.linear(&format!("{p}.output.dense"), f, h, device)?,
            output_norm: s.norm(&format!("{p}.output.LayerNorm"), config, device)?,
            dropout: dropout.init(),
        });
    }
    let pooler = BertPooler {
        dense: s.linear("bert.pooler.dense", h, h, device)?,
    };
    let mut predictions = BertLMPredictionHead::new(
        s.linear("cls.predictions.transform.dense", h, h, device)?,
        s.norm("cls.predictions.transform.LayerNorm", config, device)?,
        config.vocab_size,
        device,
    );
    predictions.bias =
        Param::from_tensor(s.tensor("cls.predictions.bias", [config.vocab_size], device)?);
    Ok(BertForPreTraining {
        bert: BertModel {
            embeddings,
            encoder,
            pooler,
        },
        predictions,
        seq_relationship: s.linear("cls.seq_relationship", h, 2, device)?,
    })
}

/// Serialises tensors as safetensors bytes (f32, metadata `format: pt`).
pub fn to_safetensors(tensors: &HfTensors) -> anyhow::Result<Vec<u8>> {
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
            Ok((
                name.as_str(),
                TensorView::new(Dtype::F32, shape.clone(), data)?,
            ))
        })
        .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()?;
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    Ok(safetensors::serialize(views, Some(metadata))?)
}

/// Parses safetensors bytes (f32 tensors only); `path` names them in errors.
pub fn from_safetensors(path: &Path, bytes: &[u8]) -> anyhow::Result<HfTensors> {
    let file = safetensors::SafeTensors::deserialize(bytes)
        .with_context(|| format!("'{}' is not a valid safetensors file", path.display()))?;
    let mut out = HfTensors::new();
    for (name, view) in file.tensors() {
        if view.dtype() != Dtype::F32 {
            bail!(
                "'{}': tensor '{name}' is {:?}, only F32 is supported",
                path.display(),
                view.dtype()
            );
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
        "pad_token_id": 0,
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
) -> anyhow::Result<Vec<(&'static str, Vec<u8>)>> {
    let pretty = |v: serde_json::Value| {
        format!(
            "{}\n",
            serde_json::to_string_pretty(&v).expect("JSON serialises")
        )
        .into_bytes()
    };
    let vocab_txt: String = (0..vocab.len())
        .map(|i| format!("{}\n", vocab.token(i as u16).expect("ids below len exist")))
        .collect();
    Ok(vec![
        (WEIGHTS_FILE, to_safetensors(&to_hf(model))?),
        ("config.json", pretty(hf_config(config))),
        ("vocab.txt", vocab_txt.into_bytes()),
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
pub fn write_checkpoint(dir: &Path, files: &[(&str, Vec<u8>)]) -> anyhow::Result<()> {
    let mut tmp = dir.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    if tmp.exists() {
        fs::remove_dir_all(&tmp).with_context(|| format!("cannot clear '{}'", tmp.display()))?;
    }
    fs::create_dir_all(&tmp).with_context(|| format!("cannot create '{}'", tmp.display()))?;
    for (name, bytes) in files {
        let mut file = AtomicFile::create(tmp.join(name))?;
        file.write_all(bytes)?;
        file.commit()?;
    }
    if dir.exists() {
        fs::remove_dir_all(dir).with_context(|| format!("cannot replace '{}'", dir.display()))?;
    }
    fs::rename(&tmp, dir)
        .with_context(|| format!("cannot rename '{}' to '{}'", tmp.display(), dir.display()))?;
    if let Some(parent) = dir.parent() {
        // The rename is durable once the parent directory is.
        fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("cannot sync '{}'", parent.display()))?;
    }
    Ok(())
}

/// Writes a Hugging Face checkpoint directory (no training state) atomically.
pub fn save_checkpoint<B: Backend>(
    dir: &Path,
    model: &BertForPreTraining<B>,
    config: &BertConfig,
    vocab: &Vocab,
) -> anyhow::Result<()> {
    write_checkpoint(dir, &checkpoint_files(model, config, vocab)?)
}

/// Reads a checkpoint's weights: `model.safetensors` if present, else `pytorch_model.bin`.
pub fn read_weights(dir: &Path) -> anyhow::Result<(PathBuf, HfTensors)> {
    let safetensors = dir.join(WEIGHTS_FILE);
    if safetensors.exists() {
        let bytes = fs::read(&safetensors)
            .with_context(|| format!("cannot read '{}'", safetensors.display()))?;
        return Ok((safetensors.clone(), from_safetensors(&safetensors, &bytes)?));
    }
    let pytorch = dir.join("pytorch_model.bin");
    if pytorch.exists() {
        return Ok((pytorch.clone(), from_pytorch(&pytorch)?));
    }
    bail!(
        "'{}' has neither model.safetensors nor pytorch_model.bin: is it a Hugging Face checkpoint directory?",
        dir.display()
    )
}

/// Reads a PyTorch `state_dict` file (`torch.save`'s zip format, or the legacy one); every
/// floating-point tensor is converted to f32.
pub fn from_pytorch(path: &Path) -> anyhow::Result<HfTensors> {
    let reader = burn_store::pytorch::PytorchReader::new(path).map_err(|e| {
        anyhow::anyhow!(
            "'{}' is not a readable PyTorch checkpoint: {e}",
            path.display()
        )
    })?;
    let mut out = HfTensors::new();
    for (name, snapshot) in reader.into_tensors() {
        if !snapshot.dtype.is_float() {
            if name.ends_with("position_ids") {
                continue;
            }
            bail!(
                "'{}': tensor '{name}' is {:?}, not floating point",
                path.display(),
                snapshot.dtype
            );
        }
        let data = snapshot
            .to_data()
            .map_err(|e| anyhow::anyhow!("'{}': tensor '{name}': {e:?}", path.display()))?;
        let shape = data.shape.to_vec();
        let values = data
            .convert::<f32>()
            .into_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("'{}': tensor '{name}': {e:?}", path.display()))?;
        out.insert(name, (shape, values));
    }
    Ok(out)
}

/// Loads a checkpoint directory's weights into a model of `config`.
pub fn load_checkpoint<B: Backend>(
    dir: &Path,
    config: &BertConfig,
    device: &B::Device,
) -> anyhow::Result<BertForPreTraining<B>> {
    let (path, tensors) = read_weights(dir)?;
    from_hf(config, tensors, device).with_context(|| format!("cannot load '{}'", path.display()))
}

/// The architecture in a checkpoint directory's `config.json`, if it has one.
pub fn read_hf_config(dir: &Path) -> anyhow::Result<Option<BertConfig>> {
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
) -> anyhow::Result<TrainingState> {
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
) -> anyhow::Result<(Trainer<B>, TrainingState)> {
    let saved = read_training(dir)?;
    let weights_path = dir.join(WEIGHTS_FILE);
    let model = from_hf(
        &saved.state.model,
        from_safetensors(&weights_path, &saved.weights)?,
        device,
    )
    .with_context(|| format!("cannot load '{}'", weights_path.display()))?;
    let trainer = Trainer::resume(
        model,
        saved.state.train.clone(),
        device,
        saved.state.step,
        &saved.optimizer,
        saved.state.elapsed_s,
    )
    .with_context(|| format!("cannot resume from '{}'", dir.display()))?;
    Ok((trainer, saved.state))
}
