//! `bert.encoder.layer.N`: self-attention and the feed-forward block, each followed by a
//! residual connection and LayerNorm (post-LN).

use burn::{
    module::Module,
    nn::{Dropout, LayerNorm, Linear},
    tensor::{Tensor, activation, backend::Backend},
};

/// `attention.self` (query, key, value) and `attention.output` (dense + LayerNorm).
#[derive(Module, Debug)]
pub struct BertAttention<B: Backend> {
    pub query: Linear<B>,
    pub key: Linear<B>,
    pub value: Linear<B>,
    pub output: Linear<B>,
    pub output_norm: LayerNorm<B>,
    pub heads: usize,
    pub dropout: Dropout,
}

impl<B: Backend> BertAttention<B> {
    /// The linears run on `[batch · seq, hidden]`: on a 3-D input burn's weight gradient is
    /// a batched `xᵀ·dY` per sequence and a sum (a `[batch, d_in, d_out]` intermediate and
    /// GEMMs with k = seq); on 2-D it is one GEMM with k = batch · seq. Exact either way.
    ///
    /// # Shapes
    /// - `x`: `[batch · seq, hidden]`, `mask`: `[batch, 1, 1, seq]` (additive) →
    ///   `[batch · seq, hidden]`
    pub fn forward(&self, x: Tensor<B, 2>, mask: Tensor<B, 4>) -> Tensor<B, 2> {
        let [batch, _, _, seq] = mask.dims();
        let hidden = x.dims()[1];
        let head = hidden / self.heads;
        let split = |t: Tensor<B, 2>| t.reshape([batch, seq, self.heads, head]).swap_dims(1, 2); // [batch, heads, seq, head]
        let q = split(self.query.forward(x.clone()));
        let k = split(self.key.forward(x.clone()));
        let v = split(self.value.forward(x.clone()));
        let scores = q.matmul(k.swap_dims(2, 3)).div_scalar((head as f64).sqrt()) + mask; // [batch, heads, seq, seq]
        let probs = self.dropout.forward(activation::softmax(scores, 3));
        let context = probs
            .matmul(v)
            .swap_dims(1, 2)
            .reshape([batch * seq, hidden]);
        let projected = self.dropout.forward(self.output.forward(context));
        self.output_norm.forward(projected + x)
    }
}

/// One encoder layer.
#[derive(Module, Debug)]
pub struct BertLayer<B: Backend> {
    pub attention: BertAttention<B>,
    pub intermediate: Linear<B>,
    pub output: Linear<B>,
    pub output_norm: LayerNorm<B>,
    pub dropout: Dropout,
}

impl<B: Backend> BertLayer<B> {
    /// # Shapes
    /// - `x`: `[batch · seq, hidden]`, `mask`: `[batch, 1, 1, seq]` → `[batch · seq, hidden]`
    pub fn forward(&self, x: Tensor<B, 2>, mask: Tensor<B, 4>) -> Tensor<B, 2> {
        let attended = self.attention.forward(x, mask);
        let inner = activation::gelu(self.intermediate.forward(attended.clone()));
        let out = self.dropout.forward(self.output.forward(inner));
        self.output_norm.forward(out + attended)
    }
}
