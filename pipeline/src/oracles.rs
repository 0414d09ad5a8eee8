//! Properties checked on arbitrary input, shared by the `cargo fuzz` targets in `fuzz/` and by
//! the regression tests that replay the inputs fuzzing found (`fuzz/regressions/`). Each
//! function panics when its property fails; returning means the input was handled.

use std::path::Path;

use earlyberts_format::{Example, Manifest, ShardReader, Vocab};

use crate::{
    split::{LineBreaks, RuleSplitter, sentences},
    stage::Tokenizer,
    tokenize::BertWordPiece,
};

/// Any bytes as a shard file: opening and reading every example returns errors, never panics.
pub fn shard_reader(bytes: &[u8]) {
    let path =
        std::env::temp_dir().join(format!("earlyberts-oracle-{}.ebs.zst", std::process::id()));
    std::fs::write(&path, bytes).expect("the temporary directory is writable");
    if let Ok(mut reader) = ShardReader::open(&path) {
        let mut example = Example::default();
        while let Ok(true) = reader.read_next(&mut example) {}
        let _ = reader.finish();
    }
    let _ = std::fs::remove_file(&path);
}

/// Any bytes as a manifest: parsing returns an error or a manifest whose self-checks run and
/// whose canonical text parses back to the same manifest.
pub fn manifest(bytes: &[u8]) {
    let path = Path::new("manifest.json");
    if let Ok(manifest) = Manifest::parse(path, bytes) {
        let _ = manifest.problems();
        let text = manifest.to_json();
        let again = Manifest::parse(path, text.as_bytes()).expect("canonical text parses");
        assert_eq!(again.to_json(), text, "the canonical text is a fixed point");
    }
}

/// Any text through the splitter: every non-whitespace character survives, in order, and
/// every sentence is non-empty and trimmed.
pub fn splitter(text: &str) {
    for line_breaks in [
        LineBreaks::Paragraph,
        LineBreaks::Wrapped,
        LineBreaks::SpacyLike,
    ] {
        let pieces = sentences(&RuleSplitter::new(line_breaks), text);
        assert!(pieces.iter().all(|s| !s.is_empty() && s.trim() == *s));
        let kept: String = pieces
            .concat()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let given: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        assert_eq!(kept, given, "the splitter lost or reordered characters");
    }
}

/// Any text through the tokenizer: the fast path gives exactly the `tokenizers` crate's ids.
pub fn tokenizer(tokenizer: &BertWordPiece, text: &str) {
    let (mut fast, mut reference) = (Vec::new(), Vec::new());
    tokenizer.encode_into(text, &mut fast).expect("encodes");
    tokenizer
        .encode_reference(text, &mut reference)
        .expect("encodes");
    assert_eq!(
        fast, reference,
        "fast path and tokenizers disagree on {text:?}"
    );
}

/// The tokenizer the oracle uses: uncased BERT.
pub fn bert_tokenizer() -> BertWordPiece {
    BertWordPiece::new(&Vocab::bert_base_uncased()).expect("the built-in vocabulary loads")
}
