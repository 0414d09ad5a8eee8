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
    /// The padding id, whose lookups pass no gradient to its row ([`BertConfig::pad_token_id`]).
    ///
    /// [`BertConfig::pad_token_id`]: super::BertConfig::pad_token_id
    pub pad_token_id: usize,
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
        let sum = self.words(input_ids)
            + self.position_embeddings.forward(positions)
            + self.token_type_embeddings.forward(token_type_ids);
        self.dropout.forward(self.norm.forward(sum))
    }

    /// The word embeddings of `input_ids`; where an id is the padding id, the same values
    /// detached from the graph, as `nn.Embedding(padding_idx=…)` trains: the random
    /// replacements of masking can put the padding id at a real position.
    fn words(&self, input_ids: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let looked_up = self.word_embeddings.forward(input_ids.clone());
        let shape = looked_up.dims();
        let padding = input_ids
            .equal_elem(self.pad_token_id as i64)
            .unsqueeze_dim::<3>(2)
            .expand(shape);
        looked_up.clone().mask_where(padding, looked_up.detach())
    }
}

#[cfg(test)]
mod tests {
    use burn::{
        backend::{Autodiff, Flex},
        tensor::{Int, Tensor, TensorData},
    };

    use crate::model::BertConfig;

    type B = Autodiff<Flex>;

    /// The row of the padding id gets no gradient from its lookups, at real positions or
    /// padded ones; other rows do.
    #[test]
    fn lookups_of_the_padding_id_do_not_train_its_row() {
        let device = Default::default();
        let config = BertConfig::tiny().with_vocab_size(16).with_pad_token_id(3);
        let model = config.init::<B>(7, &device);
        let embeddings = &model.bert.embeddings;
        let ids =
            Tensor::<B, 2, Int>::from_data(TensorData::new(vec![5i64, 3, 9, 3], [1, 4]), &device);
        let types = Tensor::<B, 2, Int>::zeros([1, 4], &device);
        let out = embeddings.forward(ids, types);
        let weights = TensorData::new(
            (0..4 * 64).map(|i| (i % 7) as f32 - 3.0).collect(),
            [1, 4, 64],
        );
        let loss = (out * Tensor::<B, 3>::from_data(weights, &device)).sum();
        let grads = loss.backward();
        let table = embeddings.word_embeddings.weight.val();
        let gradient = table.grad(&grads).expect("the table has a gradient");
        let row = |r: usize| -> f32 {
            gradient
                .clone()
                .slice([r..r + 1, 0..64])
                .abs()
                .sum()
                .into_scalar()
        };
        assert_eq!(row(3), 0.0, "the padding id's row");
        assert!(row(5) > 0.0 && row(9) > 0.0, "rows looked up");
        assert_eq!(row(4), 0.0, "a row not looked up");
    }
}
