//! [`BertConfig`]: the architecture, with Hugging Face's `config.json` field names.

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
