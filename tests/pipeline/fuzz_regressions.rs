//! Replays the inputs in `fuzz/regressions/<target>/` (inputs that once broke a property,
//! and tricky inputs kept so they stay handled) through the same properties the fuzz
//! targets check, on the same input the target would see.

use std::{fs, path::Path};

use earlyberts_pipeline::oracles;

/// The files of `fuzz/regressions/<target>/` (all but `.gitkeep`), sorted; a folder
/// without one is an error, not a test that checks nothing.
fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(target);
    let mut found: Vec<(String, Vec<u8>)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().is_some_and(|n| n != ".gitkeep"))
        .map(|p| (p.display().to_string(), fs::read(&p).unwrap()))
        .collect();
    found.sort();
    assert!(
        !found.is_empty(),
        "{} has no cases: add at least one input file for the {target} target",
        dir.display()
    );
    found
}

/// The text a `fuzz_target!(|text: &str| …)` target is given for `bytes`: libfuzzer-sys
/// builds it with `<&str as Arbitrary>::arbitrary_take_rest`, which (arbitrary 1.5,
/// fuzz/Cargo.lock) keeps the longest valid UTF-8 prefix and drops the rest, so bytes that
/// are not UTF-8 still reach the property, cut where the first invalid byte is.
fn fuzz_text(bytes: &[u8]) -> &str {
    match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).expect("a valid prefix"),
    }
}

#[test]
fn fuzz_text_is_the_valid_utf8_prefix() {
    assert_eq!(fuzz_text(b"Mr. Smith."), "Mr. Smith.");
    assert_eq!(fuzz_text(b"caf\xc3\xa9 \xff\xfe tail"), "caf\u{e9} ");
    // Half a character at the end: the half is dropped.
    assert_eq!(fuzz_text(b"end \xe2\x80"), "end ");
    assert_eq!(fuzz_text(b"\xff"), "");
}

#[test]
fn shard_reader_regressions() {
    for (name, bytes) in inputs("shard_reader") {
        eprintln!("{name}");
        oracles::shard_reader(&bytes);
    }
}

#[test]
fn manifest_regressions() {
    for (name, bytes) in inputs("manifest") {
        eprintln!("{name}");
        oracles::manifest(&bytes);
    }
}

#[test]
fn splitter_regressions() {
    for (name, bytes) in text_inputs("splitter") {
        eprintln!("{name}");
        oracles::splitter(fuzz_text(&bytes));
    }
}

#[test]
fn tokenizer_regressions() {
    let tokenizer = oracles::bert_tokenizer();
    for (name, bytes) in text_inputs("tokenizer") {
        eprintln!("{name}");
        oracles::tokenizer(&tokenizer, fuzz_text(&bytes));
    }
}

/// The cases of a text target, at least one of them not UTF-8 (the fuzz targets get such
/// bytes too: [`fuzz_text`]).
fn text_inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let cases = inputs(target);
    assert!(
        cases.iter().any(|(_, b)| std::str::from_utf8(b).is_err()),
        "fuzz/regressions/{target} has no case that is not UTF-8"
    );
    cases
}
