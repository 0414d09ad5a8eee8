//! The tokenizer's fast path on arbitrary text, with the `tokenizers` crate as the oracle.
#![no_main]
use std::sync::LazyLock;

use earlyberts_pipeline::{oracles, tokenize::BertWordPiece};

static TOKENIZER: LazyLock<BertWordPiece> = LazyLock::new(oracles::bert_tokenizer);

libfuzzer_sys::fuzz_target!(|text: &str| oracles::tokenizer(&TOKENIZER, text));
