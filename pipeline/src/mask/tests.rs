//! Each masking rule, pinned.

use earlyberts_format::Vocab;

use super::*;
use earlyberts_format::random::Stage;

fn special() -> SpecialTokens {
    static SPECIAL: std::sync::OnceLock<SpecialTokens> = std::sync::OnceLock::new();
    *SPECIAL.get_or_init(|| Vocab::bert_base_uncased().special())
}

fn apply(policy: &MaskingPolicy, a: &[u16], b: &[u16], label: NspLabel, k: u64) -> Example {
    policy.apply(a, b, label, &special(), &mut Stream::new(1, Stage::Mask, k))
}

/// The ids before masking, with every label put back.
fn unmasked(e: &Example) -> Vec<u16> {
    let mut ids = e.token_ids.clone();
    for (&p, &l) in e.mlm_positions.iter().zip(&e.mlm_labels) {
        ids[p as usize] = l;
    }
    ids
}

#[test]
fn cap_keeps_exactly_80_of_200_chosen() {
    let policy = MaskingPolicy {
        probability: 1.0,
        ..MaskingPolicy::default()
    };
    let a: Vec<u16> = (2000..2100).collect();
    let b: Vec<u16> = (3000..3100).collect();
    let e = apply(&policy, &a, &b, NspLabel::IsNext, 0);
    assert_eq!(e.mlm_positions.len(), 80);
    assert!(e.validate().is_ok());
    // The 120 un-chosen tokens have their original ids back.
    let original: Vec<u16> = [vec![101], a.clone(), vec![102], b.clone(), vec![102]].concat();
    assert_eq!(unmasked(&e), original);
    let unchanged = (0..e.token_ids.len())
        .filter(|&p| e.token_ids[p] == original[p])
        .count();
    assert!(unchanged >= original.len() - 80);
}

#[test]
fn special_tokens_are_never_masked_and_labels_mean_masked() {
    let policy = MaskingPolicy {
        probability: 1.0,
        max_predictions: 1000,
        ..MaskingPolicy::default()
    };
    let s = special();
    // literal [UNK] and [MASK] from the text are special too
    let a = vec![2000, s.unk, 2001, s.mask, 2002];
    let e = apply(&policy, &a, &[3000, 3001], NspLabel::RandomNext, 3);
    let original = [vec![s.cls], a.clone(), vec![s.sep, 3000, 3001, s.sep]].concat();
    let expected_positions: Vec<u16> = (0..original.len())
        .filter(|&p| ![s.cls, s.sep, s.unk, s.mask, s.pad].contains(&original[p]))
        .map(|p| p as u16)
        .collect();
    assert_eq!(e.mlm_positions, expected_positions);
    assert_eq!(unmasked(&e), original);
}

#[test]
fn replacement_split_is_80_10_10_and_random_ids_in_range() {
    let policy = MaskingPolicy {
        probability: 1.0,
        max_predictions: 1000,
        random_token_range: [5000, 5010],
        ..MaskingPolicy::default()
    };
    let a: Vec<u16> = vec![2000; 400];
    let (mut masks, mut randoms, mut kept) = (0, 0, 0);
    for k in 0..100 {
        let e = apply(&policy, &a, &[], NspLabel::IsNext, k);
        for (&p, &l) in e.mlm_positions.iter().zip(&e.mlm_labels) {
            match e.token_ids[p as usize] {
                103 => masks += 1,
                t if t == l => kept += 1,
                t => {
                    assert!((5000..5010).contains(&t), "random id {t} out of range");
                    randoms += 1;
                }
            }
        }
    }
    let total = (masks + randoms + kept) as f64;
    assert!(
        (masks as f64 / total - 0.8).abs() < 0.01,
        "{masks} {randoms} {kept}"
    );
    assert!(
        (randoms as f64 / total - 0.1).abs() < 0.01,
        "{masks} {randoms} {kept}"
    );
    assert!(
        (kept as f64 / total - 0.1).abs() < 0.01,
        "{masks} {randoms} {kept}"
    );
}

#[test]
fn masking_rate_is_15_percent() {
    let policy = MaskingPolicy::default();
    let a: Vec<u16> = (2000..2100).collect();
    let (mut chosen, mut eligible) = (0usize, 0usize);
    for k in 0..2000 {
        let e = apply(&policy, &a, &a, NspLabel::IsNext, k);
        chosen += e.mlm_positions.len();
        eligible += 200;
    }
    let rate = chosen as f64 / eligible as f64;
    assert!((rate - 0.15).abs() < 0.003, "{rate}");
}

#[test]
fn truncation_keeps_511_tokens_and_a_final_sep() {
    let policy = MaskingPolicy {
        probability: 1.0,
        max_predictions: 1000,
        ..MaskingPolicy::default()
    };
    let a: Vec<u16> = vec![2000; 300];
    let b: Vec<u16> = vec![3000; 300];
    let e = apply(&policy, &a, &b, NspLabel::RandomNext, 1);
    assert_eq!(e.token_ids.len(), 512);
    assert_eq!(e.token_ids[511], 102);
    assert_eq!(e.segment_a_len, 302);
    assert_eq!(
        e.nsp_label,
        NspLabel::RandomNext,
        "B survives the cut, so the label stays"
    );
    assert!(e.mlm_positions.iter().all(|&p| p < 511));
    assert!(e.validate().is_ok());
}

#[test]
fn truncation_that_removes_b_relabels_to_is_next() {
    let policy = MaskingPolicy::default();
    // [CLS] + A + [SEP] of 511 tokens or more leaves B nothing but the final [SEP].
    for (a_len, expect_relabel) in [(508, false), (509, true), (600, true)] {
        let a: Vec<u16> = vec![2000; a_len];
        let e = apply(&policy, &a, &[3000, 3001], NspLabel::RandomNext, 2);
        assert_eq!(e.token_ids.len(), 512);
        if expect_relabel {
            assert_eq!(
                (e.segment_a_len, e.nsp_label),
                (512, NspLabel::IsNext),
                "A of {a_len}"
            );
        } else {
            assert_eq!(
                (e.segment_a_len, e.nsp_label),
                (510, NspLabel::RandomNext),
                "A of {a_len}"
            );
        }
    }
}

#[test]
fn kept_counts_are_what_the_cut_leaves() {
    for truncation in [Truncation::AppendSep, Truncation::MlmPy] {
        let policy = MaskingPolicy {
            probability: 0.0,
            truncation,
            ..MaskingPolicy::default()
        };
        for (a_len, b_len) in [
            (3, 4),
            (250, 259),
            (250, 300),
            (507, 9),
            (508, 2),
            (509, 2),
            (700, 5),
        ] {
            let a: Vec<u16> = vec![2000; a_len];
            let b: Vec<u16> = vec![3000; b_len];
            let e = apply(&policy, &a, &b, NspLabel::IsNext, 3);
            let count = |id| e.token_ids.iter().filter(|&&t| t == id).count();
            assert_eq!(
                policy.kept(a_len, b_len),
                (count(2000), count(3000)),
                "{truncation:?}, A {a_len}, B {b_len}"
            );
            // A's tokens start at 1; B's right after A's [SEP].
            if count(3000) > 0 {
                assert_eq!(e.token_ids[count(2000) + 2], 3000);
            }
        }
    }
}

#[test]
fn short_sequences_are_untouched_by_the_length_rule() {
    let e = apply(
        &MaskingPolicy::default(),
        &[2000, 2001],
        &[3000],
        NspLabel::RandomNext,
        9,
    );
    assert_eq!(e.token_ids.len(), 6);
    assert_eq!(e.segment_a_len, 4);
    assert_eq!(e.nsp_label, NspLabel::RandomNext);
}

#[test]
fn bad_policies_are_refused() {
    let cases = [
        (
            MaskingPolicy {
                probability: 1.5,
                ..MaskingPolicy::default()
            },
            "outside [0, 1]",
        ),
        (
            MaskingPolicy {
                max_predictions: 0,
                ..MaskingPolicy::default()
            },
            "max_predictions",
        ),
        (
            MaskingPolicy {
                max_length: 2,
                ..MaskingPolicy::default()
            },
            "max_length",
        ),
        (
            MaskingPolicy {
                random_token_range: [5, 5],
                ..MaskingPolicy::default()
            },
            "random_token_range",
        ),
    ];
    for (policy, message) in cases {
        assert!(policy.validate().unwrap_err().to_string().contains(message));
    }
}

/// A pair longer than u16 positions (a sentence of 70,000 tokens: an article without a
/// sentence end) is masked over all of it, capped, then cut: the kept labels are those of
/// the kept positions, none wrapped from past 65,535 into the kept part.
#[test]
fn a_pair_past_65_535_tokens_keeps_only_labels_of_its_kept_positions() {
    let policy = MaskingPolicy {
        max_predictions: 100_000,
        ..MaskingPolicy::default()
    };
    let a: Vec<u16> = (0..70_000u32).map(|i| 2000 + (i % 20_000) as u16).collect();
    for k in 0..5 {
        let e = apply(&policy, &a, &[3000, 3001], NspLabel::IsNext, k);
        assert_eq!(e.token_ids.len(), 512);
        assert!(e.validate().is_ok());
        let original = [vec![101], a[..510].to_vec(), vec![102]].concat();
        assert_eq!(unmasked(&e), original, "example {k}");
        // About 15% of the 510 kept tokens, not 15% of the 70,003.
        assert!(
            (40..120).contains(&e.mlm_positions.len()),
            "{}",
            e.mlm_positions.len()
        );
    }
}
