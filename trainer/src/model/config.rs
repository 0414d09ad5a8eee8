//! [`BertConfig`]: the architecture, with Hugging Face's `config.json` field names.

use std::path::Path;

use anyhow::{Context, bail};
use burn::{
    config::Config,
    module::Param,
    nn::{Embedding, LayerNormConfig, Linear},
    tensor::{Tensor, TensorData, backend::Backend},
};
use earlyberts_format::random::{Stage, Stream};

use super::{
    BertEmbeddings, BertForPreTraining, BertLMPredictionHead, BertLayer, BertModel, BertPooler,
    encoder::BertAttention,
};

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
    pub fn from_hf_file(path: &Path) -> anyhow::Result<BertConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read '{}'", path.display()))?;
        let json: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("'{}' is not JSON", path.display()))?;
        BertConfig::from_hf(&json).with_context(|| format!("'{}'", path.display()))
    }

    /// See [`BertConfig::from_hf_file`].
    pub fn from_hf(json: &serde_json::Value) -> anyhow::Result<BertConfig> {
        let expect = |key: &str, allowed: &[&str]| -> anyhow::Result<()> {
            match json.get(key) {
                None => Ok(()),
                Some(serde_json::Value::String(v)) if allowed.contains(&v.as_str()) => Ok(()),
                Some(v) => bail!("{key} is {v}; this trainer implements {allowed:?}"),
            }
        };
        expect("model_type", &["bert"])?;
        expect("hidden_act", &["gelu"])?;
        expect("position_embedding_type", &["absolute"])?;
        let mut config = BertConfig::base();
        let size = |key: &str, field: &mut usize| -> anyhow::Result<()> {
            if let Some(v) = json.get(key) {
                *field = v
                    .as_u64()
                    .filter(|&n| n > 0)
                    .with_context(|| format!("{key} is {v}, not a positive integer"))?
                    as usize;
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
        let real = |key: &str, field: &mut f64| -> anyhow::Result<()> {
            if let Some(v) = json.get(key) {
                *field = v
                    .as_f64()
                    .filter(|x| x.is_finite() && *x > 0.0)
                    .with_context(|| format!("{key} is {v}, not a positive number"))?;
            }
            Ok(())
        };
        real("layer_norm_eps", &mut config.layer_norm_eps)?;
        real("initializer_range", &mut config.initializer_range)?;
        config.check()?;
        Ok(config)
    }

    /// Refuses sizes the model cannot be built with.
    pub fn check(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.hidden_size.is_multiple_of(self.num_attention_heads),
            "hidden_size {} is not a multiple of num_attention_heads {}",
            self.hidden_size,
            self.num_attention_heads
        );
        anyhow::ensure!(
            (0.0..1.0).contains(&self.dropout),
            "dropout {} is not in [0, 1)",
            self.dropout
        );
        Ok(())
    }

    fn layer_norm(&self) -> LayerNormConfig {
        LayerNormConfig::new(self.hidden_size).with_epsilon(self.layer_norm_eps)
    }

    /// Builds the model on `device` with BERT's initialisation drawn from the earlyberts
    /// stream `(seed, "init", 0)` (docs/DETERMINISM.md): weights and embeddings from a normal
    /// with standard deviation `initializer_range` truncated at two deviations, in module
    /// order (embeddings; per layer query, key, value, attention output, intermediate,
    /// output; pooler; MLM transform; NSP), biases 0, LayerNorm scale 1 and shift 0. The same
    /// seed gives the same model on any backend and thread count.
    pub fn init<B: Backend>(&self, seed: u64, device: &B::Device) -> BertForPreTraining<B> {
        let h = self.hidden_size;
        let mut draw = Draw::<B> {
            stream: Stream::new(seed, Stage::Init, 0),
            std: self.initializer_range,
            device,
        };
        let word_embeddings = draw.embedding(self.vocab_size, h);
        let position_embeddings = draw.embedding(self.max_position_embeddings, h);
        let token_type_embeddings = draw.embedding(self.type_vocab_size, h);
        let dropout = burn::nn::DropoutConfig::new(self.dropout);
        let layers: Vec<BertLayer<B>> = (0..self.num_hidden_layers)
            .map(|_| BertLayer {
                attention: BertAttention {
                    query: draw.linear(h, h),
                    key: draw.linear(h, h),
                    value: draw.linear(h, h),
                    output: draw.linear(h, h),
                    output_norm: self.layer_norm().init(device),
                    heads: self.num_attention_heads,
                    dropout: dropout.init(),
                },
                intermediate: draw.linear(h, self.intermediate_size),
                output: draw.linear(self.intermediate_size, h),
                output_norm: self.layer_norm().init(device),
                dropout: dropout.init(),
            })
            .collect();
        let pooler = draw.linear(h, h);
        let transform = draw.linear(h, h);
        let nsp = draw.linear(h, 2);
        BertForPreTraining {
            bert: BertModel {
                embeddings: BertEmbeddings {
                    word_embeddings,
                    position_embeddings,
                    token_type_embeddings,
                    norm: self.layer_norm().init(device),
                    dropout: dropout.init(),
                },
                encoder: layers,
                pooler: BertPooler { dense: pooler },
            },
            predictions: BertLMPredictionHead::new(
                transform,
                self.layer_norm().init(device),
                self.vocab_size,
                device,
            ),
            seq_relationship: nsp,
        }
    }
}

/// Draws parameters from the initialisation stream.
struct Draw<'a, B: Backend> {
    stream: Stream,
    std: f64,
    device: &'a B::Device,
}

impl<B: Backend> Draw<'_, B> {
    fn matrix(&mut self, rows: usize, cols: usize) -> Tensor<B, 2> {
        let values: Vec<f32> = (0..rows * cols)
            .map(|_| self.stream.truncated_normal(self.std) as f32)
            .collect();
        Tensor::from_data(TensorData::new(values, [rows, cols]), self.device)
    }

    /// burn's `Linear` stores its weight as `[d_input, d_output]`.
    fn linear(&mut self, d_input: usize, d_output: usize) -> Linear<B> {
        Linear {
            weight: Param::from_tensor(self.matrix(d_input, d_output)),
            bias: Some(Param::from_tensor(Tensor::zeros([d_output], self.device))),
        }
    }

    fn embedding(&mut self, n: usize, d: usize) -> Embedding<B> {
        Embedding {
            weight: Param::from_tensor(self.matrix(n, d)),
        }
    }
}
