//! `text`: the text stages over all inputs, into a sentence store. In order:
//!
//! 1. **deal** (`deal.rs`): chunks of documents read from every input in order (Wikipedia,
//!    then BookCorpus), a window of chunks at a time across file boundaries, so that the
//!    threads have the same work however the corpus is cut into files;
//! 2. **clean** (`crate::clean::TextCleaner`, a [`crate::stage::Cleaner`]): the recipe's rules;
//! 3. **split** (a [`crate::stage::ChunkSplitter`]): a Wikipedia article into sentences, by
//!    the rule splitter or by spaCy (a BookCorpus row, a sentence of the CSV: one sentence);
//! 4. **row rule** ([`RowRule`]): a Wikipedia sentence as the store keeps it;
//! 5. **tokenize** (`crate::tokenize::BertWordPiece`, a [`crate::stage::Tokenizer`]);
//! 6. **sink** ([`sink`]): the sentence store, with its fingerprint
//!    ([`crate::store::StoreFingerprint`], made by [`TextPlan::fingerprint`])
//!    and its resume checkpoint ([`resume`]); beside it the `--write-sentences` CSV
//!    ([`export`]). A part of the spaCy work has a path of its own ([`prepare_part`]): it
//!    splits into spaCy's results on disk and writes no store.
//!
//! [`TextPlan`] is the whole setup, resolved; [`prepare`] runs it; [`article_sentences`]
//! runs stages 2–4 on articles given as text (`pipeline sentences`). The chunks of a window
//! are processed in parallel and appended in order, so the store's bytes are the same for
//! any number of threads and any cut of the inputs into files.

mod article;
mod deal;
pub mod export;
mod plan;
pub mod resume;
mod row_rule;
mod run;
pub mod sink;
mod stages;

pub use self::{
    article::article_sentences,
    plan::{StoreState, TextPlan},
    resume::{Resumed, STORE_CHECKPOINT},
    row_rule::RowRule,
    run::{PartReport, Prepared, prepare, prepare_part},
};
