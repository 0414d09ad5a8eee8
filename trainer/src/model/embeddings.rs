//! `bert.embeddings`: word + position + token-type embeddings, LayerNorm, dropout.

use burn::{
    module::Module,
    nn::{Dropout, Embedding, LayerNorm},
    tensor::{Int, Tensor, backend::Backend},
};

#[derive(Module, Debug)]
pub struct BertEmbeddings<B: Backend> {
    pub word_embeddings: Embedding<B>,
    pub position_embeddings: Embedding<B>,
    pub token_type_embeddings: Embedding<B>,
    pub norm: LayerNorm<B>,
    pub dropout: Dropout,
}

impl<B: Backend> BertEmbeddings<B> {
    /// # Shapes
    /// - `input_ids`, `token_type_ids`: `[batch, seq]` → `[batch, seq, hidden]`
    pub fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        token_type_ids: Tensor<B, 2, Int>,
    ) -> Tensor<B, 3> {
        let [batch, seq] = input_ids.dims();
        let positions = Tensor::<B, 1, Int>::arange(0..seq as i64, &input_ids.device())
            .reshape([1, seq])
            .expand([batch, seq]); // [batch, seq]
        let sum = self.word_embeddings.forward(input_ids)
            + self.position_embeddings.forward(positions)
            + self.token_type_embeddings.forward(token_type_ids);
        self.dropout.forward(self.norm.forward(sum))
    }
}
