//! The pooler and the MLM prediction head (`cls.predictions`).

use burn::{
    module::{Module, Param},
    nn::{LayerNorm, Linear},
    tensor::{Tensor, activation, backend::Backend},
};

/// `bert.pooler`: tanh of a dense layer over the `[CLS]` state.
#[derive(Module, Debug)]
pub struct BertPooler<B: Backend> {
    pub dense: Linear<B>,
}

impl<B: Backend> BertPooler<B> {
    /// # Shapes
    /// - `hidden`: `[batch, seq, hidden]` → `[batch, hidden]`
    pub fn forward(&self, hidden: Tensor<B, 3>) -> Tensor<B, 2> {
        let [batch, _, width] = hidden.dims();
        let cls = hidden.narrow(1, 0, 1).reshape([batch, width]);
        self.dense.forward(cls).tanh()
    }
}

/// `cls.predictions`: transform (dense, GELU, LayerNorm), then the tied decoder and its bias.
#[derive(Module, Debug)]
pub struct BertLMPredictionHead<B: Backend> {
    pub transform: Linear<B>,
    pub transform_norm: LayerNorm<B>,
    /// `cls.predictions.bias`, `[vocab]`.
    pub bias: Param<Tensor<B, 1>>,
}

impl<B: Backend> BertLMPredictionHead<B> {
    pub fn new(
        transform: Linear<B>,
        transform_norm: LayerNorm<B>,
        vocab: usize,
        device: &B::Device,
    ) -> Self {
        BertLMPredictionHead {
            transform,
            transform_norm,
            bias: Param::from_tensor(Tensor::zeros([vocab], device)),
        }
    }

    /// # Shapes
    /// - `hidden`: `[n, hidden]`, `word_embeddings`: `[vocab, hidden]` → `[n, vocab]`
    pub fn forward(&self, hidden: Tensor<B, 2>, word_embeddings: Tensor<B, 2>) -> Tensor<B, 2> {
        let h = self
            .transform_norm
            .forward(activation::gelu(self.transform.forward(hidden)));
        let vocab = word_embeddings.dims()[0];
        h.matmul(word_embeddings.transpose()) + self.bias.val().reshape([1, vocab])
    }
}
