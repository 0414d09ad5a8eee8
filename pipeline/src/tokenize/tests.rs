//! The fast path against the `tokenizers` crate: 0 differences allowed.

use std::sync::OnceLock;

use proptest::prelude::*;

use super::*;

fn wordpiece() -> &'static BertWordPiece {
    static TOKENIZER: OnceLock<BertWordPiece> = OnceLock::new();
    TOKENIZER.get_or_init(|| BertWordPiece::new(&Vocab::bert_base_uncased()).unwrap())
}

fn ids(sentence: &str) -> Vec<u16> {
    let mut out = Vec::new();
    wordpiece().encode_into(sentence, &mut out).unwrap();
    out
}

fn reference(sentence: &str) -> Vec<u16> {
    let mut out = Vec::new();
    wordpiece().encode_reference(sentence, &mut out).unwrap();
    out
}

#[test]
fn known_pieces() {
    let vocab = Vocab::bert_base_uncased();
    let pieces = |s: &str| -> Vec<String> {
        ids(s)
            .into_iter()
            .map(|id| vocab.token(id).unwrap().to_string())
            .collect()
    };
    assert_eq!(pieces("Hello, world!"), ["hello", ",", "world", "!"]);
    assert_eq!(pieces("unaffable"), ["una", "##ffa", "##ble"]);
    assert_eq!(pieces("The [MASK] sat."), ["the", "[MASK]", "sat", "."]);
    assert_eq!(pieces("the [mask]"), ["the", "[", "mask", "]"]);
    assert_eq!(pieces("Café Ångström"), pieces("cafe angstrom"));
    assert_eq!(pieces("北京"), ["北", "京"]);
    assert_eq!(pieces(&"x".repeat(101)), ["[UNK]"]);
    assert!(pieces(&"x".repeat(100)).len() > 1);
    assert!(ids("").is_empty());
}

/// Differences between the two paths over `lines`, as (line, fast, reference).
fn differences<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<(String, Vec<u16>, Vec<u16>)> {
    let mut found = Vec::new();
    let mut fast = Vec::new();
    for line in lines {
        if !BertWordPiece::is_fast(line) {
            continue;
        }
        fast.clear();
        wordpiece().fast.encode_into(line, &mut fast);
        let slow = reference(line);
        if fast != slow {
            found.push((line.to_string(), fast.clone(), slow));
        }
    }
    found
}

#[test]
fn fast_path_equals_tokenizers_on_bench_texts() {
    let shared = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/bench");
    let mut checked = 0;
    for name in ["pg5200.txt", "bert_sample_text.txt", "en_ewt-ud-dev.conllu"] {
        let Ok(text) = std::fs::read_to_string(shared.join(name)) else {
            eprintln!("skipping {name}: absent");
            continue;
        };
        checked += text.lines().count();
        let diffs = differences(text.lines());
        assert!(
            diffs.is_empty(),
            "{name}: {} differences, first {:?}",
            diffs.len(),
            diffs[0]
        );
    }
    eprintln!("{checked} lines compared");
}

#[test]
fn fast_path_edge_cases() {
    let long = format!("a{} b", "b".repeat(99));
    let cases = [
        "plain words and numbers 3.14 1,000",
        "UPPER lower MiXeD",
        "punctuation!!! ?? ... -- $5 (x) {y} <z> a/b a\\b ~`^|_@#%&*+=",
        "tabs\tand\nnewlines\r\nhere",
        "supercalifragilisticexpialidocious antidisestablishmentarianism",
        &long,
        "   leading and trailing   ",
        "don't can't it's 'quoted' \"double\"",
        "e-mail a.b@c.com http://x.org/path?q=1",
    ];
    let diffs = differences(cases.into_iter());
    assert!(diffs.is_empty(), "{diffs:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Printable ASCII of every kind takes the fast path and agrees.
    #[test]
    fn fast_path_equals_tokenizers_on_ascii(text in "[ -Z\\\\-~\t\n]{0,300}") {
        let diffs = differences(std::iter::once(text.as_str()));
        prop_assert!(diffs.is_empty(), "{:?}", diffs);
    }

    /// Any Unicode — accents and combining marks, CJK (and its compatibility ideographs),
    /// emoji with joiners and variation selectors, right-to-left scripts, controls, format
    /// characters, literal special tokens, very long words — gives the reference ids,
    /// whichever path it takes.
    #[test]
    fn encode_equals_tokenizers_on_unicode(text in "(\\PC|\\p{Cc}|\\p{Cf}|\\p{Mn}|\\p{Mc}|[\u{4e00}-\u{4e20}]|[\u{f900}-\u{f910}]|[éüİıßﬁ;ǅ]|[\u{1F600}-\u{1F60F}]|\u{200D}|\u{FE0F}|[\u{05D0}-\u{05EA}\u{0591}-\u{05AF}]|[\u{0627}-\u{064A}\u{064B}-\u{0652}]|\\[MASK\\]|\\[SEP\\]|[a-z]{40,120}| ){0,60}") {
        prop_assert_eq!(ids(&text), reference(&text));
    }
}
