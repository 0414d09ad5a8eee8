//! Replays the inputs in `fuzz/regressions/<target>/` (inputs that once broke a property,
//! kept so they stay fixed) through the same properties the fuzz targets check.

use std::{fs, path::Path};

use earlyberts_pipeline::oracles;

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
    found
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
    for (name, bytes) in inputs("splitter") {
        if let Ok(text) = std::str::from_utf8(&bytes) {
            eprintln!("{name}");
            oracles::splitter(text);
        }
    }
}

#[test]
fn tokenizer_regressions() {
    let tokenizer = oracles::bert_tokenizer();
    for (name, bytes) in inputs("tokenizer") {
        if let Ok(text) = std::str::from_utf8(&bytes) {
            eprintln!("{name}");
            oracles::tokenizer(&tokenizer, text);
        }
    }
}
