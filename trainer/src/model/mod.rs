//! BERT for pre-training (MLM + NSP), named after Hugging Face's `BertForPreTraining`.
//!
//! ```text
//! BertForPreTraining
//! ├── bert: BertModel
//! │   ├── embeddings: BertEmbeddings   word + position + token type → LayerNorm → dropout
//! │   ├── encoder: Vec<BertLayer>      self-attention → output (+LN) → intermediate (GELU) → output (+LN)
//! │   └── pooler: BertPooler           tanh(dense([CLS]))
//! └── cls
//!     ├── predictions: BertLMPredictionHead   dense → GELU → LayerNorm → tied decoder + bias
//!     └── seq_relationship: Linear             pooled → 2
//! ```
//!
//! Post-LayerNorm (eps 1e-12), GELU in erf form, an additive attention mask on padding. The
//! MLM decoder is the word-embedding matrix itself (a real tie: one parameter, two uses).
//!
//! [`params`] describes every parameter once (module path, Hugging Face name, kind), for
//! initialisation, import and export.

mod config;
mod embeddings;
mod encoder;
mod heads;
pub mod params;

use burn::{
    module::Module,
    tensor::{Bool, Int, Tensor, backend::Backend},
};

pub use self::{
    config::BertConfig,
    embeddings::BertEmbeddings,
    encoder::{BertAttention, BertLayer},
    heads::{BertLMPredictionHead, BertPooler},
    params::HfTensors,
};

/// The encoder with embeddings and pooler (`bert.` in Hugging Face checkpoints).
#[derive(Module, Debug)]
pub struct BertModel<B: Backend> {
    pub embeddings: BertEmbeddings<B>,
    pub encoder: Vec<BertLayer<B>>,
    pub pooler: BertPooler<B>,
}

/// BERT with both pre-training heads.
#[derive(Module, Debug)]
pub struct BertForPreTraining<B: Backend> {
    pub bert: BertModel<B>,
    pub predictions: BertLMPredictionHead<B>,
    pub seq_relationship: burn::nn::Linear<B>,
}

/// What a forward pass returns.
pub struct PreTrainingOutput<B: Backend> {
    /// MLM logits at the labelled positions only. Shape `[n_labels, vocab]`.
    pub mlm_logits: Tensor<B, 2>,
    /// NSP logits. Shape `[batch, 2]`.
    pub nsp_logits: Tensor<B, 2>,
}

impl<B: Backend> BertModel<B> {
    /// # Shapes
    /// - `input_ids`, `token_type_ids`: `[batch, seq]`; `padding`: `[batch, seq]`, true on padding
    /// - returns the sequence output `[batch, seq, hidden]` and the pooled output `[batch, hidden]`
    pub fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        token_type_ids: Tensor<B, 2, Int>,
        padding: Tensor<B, 2, Bool>,
    ) -> (Tensor<B, 3>, Tensor<B, 2>) {
        let [batch, seq] = input_ids.dims();
        let embedded = self.embeddings.forward(input_ids, token_type_ids);
        let width = embedded.dims()[2];
        // Additive mask as in transformers: 0 where attended, the dtype's minimum on padding.
        let mask = Tensor::<B, 2>::zeros([batch, seq], &embedded.device())
            .mask_fill(padding, f32::MIN)
            .reshape([batch, 1, 1, seq]); // [batch, 1, 1, seq]
        // The layers work on `[batch · seq, hidden]` (see `BertAttention::forward`).
        let mut hidden = embedded.reshape([batch * seq, width]);
        for layer in &self.encoder {
            hidden = layer.forward(hidden, mask.clone());
        }
        let hidden = hidden.reshape([batch, seq, width]);
        let pooled = self.pooler.forward(hidden.clone());
        (hidden, pooled)
    }
}

impl<B: Backend> BertForPreTraining<B> {
    /// # Shapes
    /// - `mlm_rows`: `[n_labels]` indices into the flattened `[batch · seq]` positions
    /// - returns MLM logits `[n_labels, vocab]` and NSP logits `[batch, 2]`
    pub fn forward(
        &self,
        input_ids: Tensor<B, 2, Int>,
        token_type_ids: Tensor<B, 2, Int>,
        padding: Tensor<B, 2, Bool>,
        mlm_rows: Tensor<B, 1, Int>,
    ) -> PreTrainingOutput<B> {
        let (hidden, pooled) = self.bert.forward(input_ids, token_type_ids, padding);
        let [batch, seq, width] = hidden.dims();
        // The decoder runs on labelled positions only: the loss is the same as over all
        // positions, at a fraction of the cost.
        let labelled = hidden.reshape([batch * seq, width]).select(0, mlm_rows); // [n_labels, hidden]
        let word_embeddings = self.bert.embeddings.word_embeddings.weight.val();
        PreTrainingOutput {
            mlm_logits: self.predictions.forward(labelled, word_embeddings),
            nsp_logits: self.seq_relationship.forward(pooled),
        }
    }
}
