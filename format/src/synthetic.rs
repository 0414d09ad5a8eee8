//! Deterministic, BERT-shaped examples for tests and benchmarks.
//!
//! They look like the pipeline's output — `[CLS] A [SEP] B [SEP]`, about 15% of the tokens
//! labelled, lengths from 5 to 512, some with an empty segment B — but carry no text. The
//! same `(n, salt)` always gives the same examples.

use crate::{Example, NspLabel, Vocab};

/// `n` synthetic examples; `salt` picks the sequence.
pub fn examples(n: usize, salt: u64) -> Vec<Example> {
    let special = Vocab::bert_base_uncased().special();
    // xorshift64: a tiny fixed generator, so the examples never change with a crate update.
    let mut state = salt.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move |bound: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % bound
    };
    (0..n)
        .map(|i| {
            let len = if i % 17 == 0 {
                512
            } else {
                5 + next(300) as usize
            };
            let a = 2 + next(len as u64 - 3) as usize;
            let empty_b = i % 23 == 5;
            let mut token_ids: Vec<u16> = (0..len).map(|_| 1000 + next(29_000) as u16).collect();
            token_ids[0] = special.cls;
            token_ids[len - 1] = special.sep;
            let segment_a_len = if empty_b { len } else { a + 1 };
            if !empty_b {
                token_ids[a] = special.sep;
            }
            let mut mlm_positions = Vec::new();
            let mut mlm_labels = Vec::new();
            for (p, token) in token_ids.iter_mut().enumerate().take(len - 1).skip(1) {
                if *token != special.sep && next(100) < 15 {
                    mlm_positions.push(p as u16);
                    mlm_labels.push(*token);
                    *token = special.mask;
                }
            }
            Example {
                token_ids,
                segment_a_len: segment_a_len as u16,
                mlm_positions,
                mlm_labels,
                nsp_label: if next(2) == 0 && !empty_b {
                    NspLabel::RandomNext
                } else {
                    NspLabel::IsNext
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_are_valid_and_stable() {
        let a = examples(200, 3);
        assert_eq!(a, examples(200, 3));
        assert_ne!(a, examples(200, 4));
        assert!(a.iter().all(|e| e.validate().is_ok()));
        assert!(a.iter().any(|e| e.token_ids.len() == 512));
        assert!(
            a.iter()
                .any(|e| e.segment_a_len as usize == e.token_ids.len())
        );
    }
}
