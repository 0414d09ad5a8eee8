//! [`BertConfig`]: the architecture, with Hugging Face's `config.json` field names.

use std::path::Path;

use burn::{
    config::Config,
    nn::{DropoutConfig, EmbeddingConfig, LayerNorm, LayerNormConfig, LinearConfig},
    tensor::backend::Backend,
};

use super::{
    BertEmbeddings, BertForPreTraining, BertLMPredictionHead, BertLayer, BertModel, BertPooler,
    encoder::BertAttention,
    params::{self, HfTensors},
};
use crate::{Error, Result};
use earlyberts_format::Invalid;

/// BERT's hyper-parameters, with Hugging Face's names.
#[derive(Config, Debug)]
pub struct BertConfig {
    #[config(default = 30522)]
    pub vocab_size: usize,
    #[config(default = 768)]
    pub hidden_size: usize,
    #[config(default = 12)]
    pub num_hidden_layers: usize,
    #[config(default = 12)]
    pub num_attention_heads: usize,
    #[config(default = 3072)]
    pub intermediate_size: usize,
    #[config(default = 512)]
    pub max_position_embeddings: usize,
    #[config(default = 2)]
    pub type_vocab_size: usize,
    #[config(default = 1e-12)]
    pub layer_norm_eps: f64,
    /// Dropout everywhere; the reference trained with dropout off.
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Standard deviation of the normal initialisation of weights and embeddings.
    #[config(default = 0.02)]
    pub initializer_range: f64,
    /// The padding id. As `transformers`' `padding_idx`, its row of the word embeddings
    /// gets no gradient from the input lookup (the tied MLM decoder still trains it), which
    /// matters where masking replaced a token by this id.
    #[config(default = 0)]
    pub pad_token_id: usize,
}

impl BertConfig {
    /// BERT-base, the reference architecture.
    pub fn base() -> BertConfig {
        BertConfig::new()
    }

    /// A small model for tests and the demo.
    pub fn tiny() -> BertConfig {
        BertConfig::new()
            .with_hidden_size(64)
            .with_num_hidden_layers(2)
            .with_num_attention_heads(4)
            .with_intermediate_size(128)
    }

    /// Reads a Hugging Face BERT `config.json`. Fields it does not give keep BERT-base's
    /// values; an architecture this model does not implement (another activation,
    /// relative positions, another model type) is refused rather than approximated.
    pub fn from_hf_file(path: &Path) -> Result<BertConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| Error::NotJson {
                path: path.to_path_buf(),
                source,
            })?;
        BertConfig::from_hf(&json).map_err(|e| Error::InFile {
            path: path.to_path_buf(),
            source: Box::new(e),
        })
    }

    /// See [`BertConfig::from_hf_file`].
    pub fn from_hf(json: &serde_json::Value) -> Result<BertConfig> {
        let expect = |key: &'static str, implemented: &[&str]| -> Result<()> {
            match json.get(key) {
                None => Ok(()),
                Some(serde_json::Value::String(v)) if implemented.contains(&v.as_str()) => Ok(()),
                Some(v) => Err(Error::Unimplemented {
                    key,
                    value: v.to_string(),
                    implemented: format!("{implemented:?}"),
                }),
            }
        };
        expect("model_type", &["bert"])?;
        expect("hidden_act", &["gelu"])?;
        expect("position_embedding_type", &["absolute"])?;
        let mut config = BertConfig::base();
        let unusable = |key: &str, v: &serde_json::Value, what: &str| Invalid::Unusable {
            field: key.into(),
            value: v.to_string(),
            reason: format!("not a positive {what}"),
        };
        let size = |key: &str, field: &mut usize| -> Result<()> {
            if let Some(v) = json.get(key) {
                let n = v.as_u64().filter(|&n| n > 0);
                *field = n.ok_or_else(|| unusable(key, v, "integer"))? as usize;
            }
            Ok(())
        };
        size("vocab_size", &mut config.vocab_size)?;
        size("hidden_size", &mut config.hidden_size)?;
        size("num_hidden_layers", &mut config.num_hidden_layers)?;
        size("num_attention_heads", &mut config.num_attention_heads)?;
        size("intermediate_size", &mut config.intermediate_size)?;
        size(
            "max_position_embeddings",
            &mut config.max_position_embeddings,
        )?;
        size("type_vocab_size", &mut config.type_vocab_size)?;
        if let Some(v) = json.get("pad_token_id").filter(|v| !v.is_null()) {
            let id = v
                .as_u64()
                .ok_or_else(|| unusable("pad_token_id", v, "integer"))?;
            config.pad_token_id = id as usize;
        }
        let real = |key: &str, field: &mut f64| -> Result<()> {
            if let Some(v) = json.get(key) {
                let x = v.as_f64().filter(|x| x.is_finite() && *x > 0.0);
                *field = x.ok_or_else(|| unusable(key, v, "number"))?;
            }
            Ok(())
        };
        real("layer_norm_eps", &mut config.layer_norm_eps)?;
        real("initializer_range", &mut config.initializer_range)?;
        config.check()?;
        Ok(config)
    }

    /// Refuses sizes the model cannot be built with.
    pub fn check(&self) -> Result<(), Invalid> {
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(Invalid::Unusable {
                field: "hidden_size".into(),
                value: self.hidden_size.to_string(),
                reason: format!(
                    "not a multiple of num_attention_heads {}",
                    self.num_attention_heads
                ),
            });
        }
        if self.pad_token_id >= self.vocab_size {
            let allowed = format!("0..{}", self.vocab_size);
            return Err(Invalid::out_of_range(
                "pad_token_id",
                self.pad_token_id,
                allowed,
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            let field = crate::setting::Setting::Dropout.name();
            return Err(Invalid::out_of_range(field, self.dropout, "[0, 1)"));
        }
        Ok(())
    }

    fn layer_norm<B: Backend>(&self, device: &B::Device) -> LayerNorm<B> {
        LayerNormConfig::new(self.hidden_size)
            .with_epsilon(self.layer_norm_eps)
            .init(device)
    }

    /// The model's modules with their shapes and parameters not yet set (burn initialises
    /// a parameter lazily, on first use: these never are).
    fn skeleton<B: Backend>(&self, device: &B::Device) -> BertForPreTraining<B> {
        let (h, f) = (self.hidden_size, self.intermediate_size);
        let linear = |d_in, d_out| LinearConfig::new(d_in, d_out).init(device);
        let embedding = |n, d| EmbeddingConfig::new(n, d).init(device);
        let dropout = DropoutConfig::new(self.dropout);
        let layer = |_| BertLayer {
            attention: BertAttention {
                query: linear(h, h),
                key: linear(h, h),
                value: linear(h, h),
                output: linear(h, h),
                output_norm: self.layer_norm(device),
                heads: self.num_attention_heads,
                dropout: dropout.init(),
            },
            intermediate: linear(h, f),
            output: linear(f, h),
            output_norm: self.layer_norm(device),
            dropout: dropout.init(),
        };
        BertForPreTraining {
            bert: BertModel {
                embeddings: BertEmbeddings {
                    word_embeddings: embedding(self.vocab_size, h),
                    position_embeddings: embedding(self.max_position_embeddings, h),
                    token_type_embeddings: embedding(self.type_vocab_size, h),
                    norm: self.layer_norm(device),
                    dropout: dropout.init(),
                    pad_token_id: self.pad_token_id,
                },
                encoder: (0..self.num_hidden_layers).map(layer).collect(),
                pooler: BertPooler {
                    dense: linear(h, h),
                },
            },
            predictions: BertLMPredictionHead::new(
                linear(h, h),
                self.layer_norm(device),
                self.vocab_size,
                device,
            ),
            seq_relationship: linear(h, 2),
        }
    }

    /// Builds the model on `device` with BERT's initialisation drawn from the earlyberts
    /// stream `(seed, "init", 0)` (docs/DETERMINISM.md; [`params::random_init`]). The same
    /// seed gives the same model on any backend and thread count.
    pub fn init<B: Backend>(&self, seed: u64, device: &B::Device) -> BertForPreTraining<B> {
        params::random_init(self.skeleton(device), seed, self.initializer_range, device)
    }

    /// Builds the model on `device` from Hugging Face tensors ([`params::import_hf`]).
    pub fn from_hf_tensors<B: Backend>(
        &self,
        tensors: HfTensors,
        device: &B::Device,
    ) -> Result<BertForPreTraining<B>> {
        params::import_hf(self.skeleton(device), tensors, device)
    }
}
