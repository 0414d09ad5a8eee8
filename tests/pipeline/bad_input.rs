//! Bad input, systematically: a table of damaged inputs for the readers the other test files
//! do not already cover (parquet with nulls, tar.bz2 with a bad CRC, vocabularies, recipe
//! types, every field of a manifest), each expecting a one-line error, a non-zero exit and no
//! panic; and text edge cases that must go through the text stages without failing.

use std::{fs, path::Path, sync::Arc};

use arrow_array::{ArrayRef, BinaryArray, StringArray};
use earlyberts_pipeline::source::fixture::write_parquet;

use crate::util::{
    Fixture as BuildFixture, Output, SampleInputs, keyed_recipe, pipeline, pipeline_run, repo, run,
};

/// `pipeline prepare` of `wiki` and `books` with `recipe` (default: the reference).
fn prepare(
    fx: &SampleInputs,
    wiki: &Path,
    books: &Path,
    recipe: Option<&Path>,
    extra: &[&str],
) -> Output {
    let reference = keyed_recipe();
    run(pipeline()
        .arg("--quiet")
        .arg("prepare")
        .arg("--recipe")
        .arg(recipe.unwrap_or(&reference))
        .arg("--out")
        .arg(fx.path("store"))
        .arg("--wiki")
        .arg(wiki)
        .arg("--books")
        .arg(books)
        .args(extra))
}

/// A one-line error containing every needle, exit code 2, no panic.
#[track_caller]
fn one_line_error(out: Output, needles: &[&str]) {
    let out = out.expect_code(2);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.dump());
    for needle in needles {
        assert!(out.stderr.contains(needle), "{needle:?}\n{}", out.dump());
    }
}

fn strings(values: Vec<Option<&str>>) -> ArrayRef {
    Arc::new(StringArray::from(values))
}

#[test]
fn damaged_corpora_are_one_line_errors() {
    let fx = SampleInputs::new();
    let bad = fx.path("bad");
    // parquet: a null text value, a text column that is binary, not a string
    let nulls = bad.join("nulls.parquet");
    write_parquet(&nulls, vec![("text", strings(vec![Some("a."), None]))]).unwrap();
    one_line_error(
        prepare(&fx, &nulls, &fx.books(), None, &[]),
        &["nulls.parquet", "row 1 has a null text"],
    );
    let binary = bad.join("binary.parquet");
    let column: ArrayRef = Arc::new(BinaryArray::from(vec![b"a.".as_ref()]));
    write_parquet(&binary, vec![("text", column)]).unwrap();
    one_line_error(
        prepare(&fx, &binary, &fx.books(), None, &[]),
        &["binary.parquet"],
    );
    // parquet: wrong magic at the end
    let good = fs::read(fx.path("in/wikipedia/train-00000-of-00001.parquet")).unwrap();
    // A parquet file ends with the magic `PAR1`; change it to `PAR0`.
    let mut magic = good.clone();
    let n = magic.len();
    magic[n - 4..].copy_from_slice(b"PAR0");
    let wrong_magic = bad.join("magic.parquet");
    fs::write(&wrong_magic, magic).unwrap();
    one_line_error(
        prepare(&fx, &wrong_magic, &fx.books(), None, &[]),
        &["magic.parquet", "is not a usable parquet file"],
    );
    // tar.bz2: one byte changed in the middle of the compressed stream (a CRC/data error)
    let mut archive = fs::read(fx.books()).unwrap();
    let mid = archive.len() / 2;
    archive[mid] ^= 0x55;
    let crc = bad.join("crc.tar.bz2");
    fs::write(&crc, archive).unwrap();
    let wiki = fx.path("in/wikipedia/*.parquet");
    one_line_error(
        prepare(&fx, &wiki, &crc, None, &[]),
        &["crc.tar.bz2", "is not a usable tar.bz2 file"],
    );
    assert!(!fx.path("store/store.json").exists());
}

#[test]
fn bad_vocabularies_and_recipes_are_one_line_errors() {
    let fx = SampleInputs::new();
    let wiki = fx.path("in/wikipedia/*.parquet");
    let vocab = fx.path("vocab.txt");
    let reference =
        fs::read_to_string(repo().join("manifests/vocab/bert-base-uncased-vocab.txt")).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "missing [MASK]",
            reference.replace("[MASK]\n", "").into_bytes(),
            "vocab.txt",
        ),
        (
            "a token changed",
            reference.replacen("the\n", "teh\n", 1).into_bytes(),
            "pass it with --vocab",
        ),
        (
            "not UTF-8",
            [reference.as_bytes(), b"\xff\xfe\n"].concat(),
            "vocab.txt",
        ),
        ("empty", Vec::new(), "vocab.txt"),
    ];
    for (what, bytes, needle) in cases {
        fs::write(&vocab, bytes).unwrap();
        let out = prepare(
            &fx,
            &wiki,
            &fx.books(),
            None,
            &["--vocab", vocab.to_str().unwrap()],
        );
        let out = out.expect_code(2);
        assert_eq!(out.stderr.lines().count(), 1, "{what}\n{}", out.dump());
        assert!(
            out.stderr.contains(needle),
            "{what}: {needle}\n{}",
            out.dump()
        );
    }
    // Recipes with values of the wrong type or out of range.
    let recipe_text =
        fs::read_to_string(repo().join("manifests/recipes/earlyberts-keyed.toml")).unwrap();
    let recipe = fx.path("recipe.toml");
    let cases = [
        (
            "mask_token = 0.8",
            "mask_token = \"most\"",
            "invalid type: string \"most\"",
        ),
        (
            "max_predictions = 80",
            "max_predictions = -1",
            "invalid value: integer `-1`",
        ),
        (
            "max_predictions = 80",
            "max_predictions = 1e3",
            "invalid type: floating point",
        ),
        ("[training]", "[training]\n[training]", "recipe.toml"),
        (
            "mask_token = 0.8",
            "mask_token = 0.8\nmask_tokens = 0.8",
            "unknown field",
        ),
    ];
    for (from, to, needle) in cases {
        assert!(recipe_text.contains(from), "{from}");
        fs::write(&recipe, recipe_text.replacen(from, to, 1)).unwrap();
        one_line_error(
            prepare(&fx, &wiki, &fx.books(), Some(&recipe), &[]),
            &["recipe.toml", needle],
        );
    }
}

/// Every leaf of a JSON value, as a path of keys and indices.
fn leaves(value: &serde_json::Value, path: Vec<String>, out: &mut Vec<Vec<String>>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                leaves(v, [path.clone(), vec![k.clone()]].concat(), out);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                leaves(v, [path.clone(), vec![i.to_string()]].concat(), out);
            }
        }
        _ => out.push(path),
    }
}

fn pointer(path: &[String]) -> String {
    path.iter().map(|p| format!("/{p}")).collect()
}

#[test]
fn every_manifest_field_corrupted_in_turn_is_caught() {
    let fx = BuildFixture::new();
    let manifest_path = fx.build().join("manifest.json");
    let original: serde_json::Value =
        serde_json::from_slice(&fs::read(&manifest_path).unwrap()).unwrap();
    let mut paths = Vec::new();
    leaves(&original, Vec::new(), &mut paths);
    assert!(paths.len() > 30, "{} fields", paths.len());
    let (mut mismatches, mut unreadable, mut unchecked) = (0, 0, Vec::new());
    for path in &paths {
        let mut damaged = original.clone();
        let field = damaged.pointer_mut(&pointer(path)).unwrap();
        *field = match field.clone() {
            serde_json::Value::Number(n) => match n.as_u64() {
                Some(v) => serde_json::json!(v + 1),
                None => serde_json::json!(n.as_f64().unwrap() * 2.0 + 1.0),
            },
            serde_json::Value::String(s)
                if s.chars().all(|c| c.is_ascii_hexdigit()) && !s.is_empty() =>
            {
                serde_json::json!(s.chars().rev().collect::<String>() + "0")
            }
            serde_json::Value::String(s) => serde_json::json!(format!("{s}x")),
            serde_json::Value::Bool(b) => serde_json::json!(!b),
            serde_json::Value::Null => serde_json::json!(1),
            other => other,
        };
        fs::write(&manifest_path, serde_json::to_vec_pretty(&damaged).unwrap()).unwrap();
        let out = pipeline_run(["verify".as_ref(), fx.build().as_os_str()]);
        assert!(!out.stderr.contains("panicked"), "{}", out.dump());
        match out.code {
            Some(1) => mismatches += 1,
            Some(2) => unreadable += 1,
            _ => unchecked.push(pointer(path)),
        }
    }
    fs::write(
        &manifest_path,
        serde_json::to_vec_pretty(&original).unwrap(),
    )
    .unwrap();
    // Fields that record how the build was made rather than what its examples are cannot be
    // re-derived by verify (input file names, per-stage statistics, the compression level
    // and block size: the hashes cover the uncompressed payload); every field that describes
    // the examples must be caught.
    let derivable = [
        "/shards",
        "/totals",
        "/root_hash",
        "/format_version",
        "/layout/examples_per_shard",
        "/recipe/hash",
    ];
    let bytes_fields: Vec<&String> = unchecked
        .iter()
        .filter(|p| derivable.iter().any(|prefix| p.starts_with(prefix)))
        .collect();
    eprintln!("not re-derivable by verify: {unchecked:?}");
    eprintln!(
        "{} manifest fields corrupted in turn: {mismatches} mismatches, {unreadable} unreadable, {} not re-derivable by verify",
        paths.len(),
        unchecked.len()
    );
    assert!(bytes_fields.is_empty(), "not caught: {bytes_fields:?}");
}

#[test]
fn text_edge_cases_go_through_the_text_stages() {
    let fx = SampleInputs::new();
    let long_line = "word ".repeat(2 * 1024 * 1024); // 10 MiB, one line, no sentence end
    let edge = fx.path("edge/edge.parquet");
    write_parquet(
        &edge,
        vec![(
            "text",
            strings(vec![
                Some(""),
                Some("   \n\t \n  "),
                Some("\u{0}\u{1}\u{7}control\u{1b}[0m characters.\u{7f} And more."),
                Some("مرحبا بالعالم. שלום עולם. Mixed RTL and LTR text."),
                Some("中文句子。日本語の文です。한국어 문장입니다."),
                Some("Emoji 👩‍👩‍👧‍👦 family 🇩🇪 flag 👍🏽 skin tone. Done!"),
                Some("\u{200b}\u{feff}\u{202e}reversed\u{202c} zero width."),
                Some(&long_line),
            ]),
        )],
    )
    .unwrap();
    let out = prepare(&fx, &edge, &fx.books(), None, &[]).expect_code(0);
    assert!(out.stderr.contains("sentences"), "{}", out.dump());
    // Invalid UTF-8 (a lone surrogate's bytes) in the text column is named, not a panic.
    let invalid = fx.path("edge/surrogate.parquet");
    let column: ArrayRef = Arc::new(BinaryArray::from(vec![
        b"ok.".as_ref(),
        b"\xed\xa0\x80 lone".as_ref(),
    ]));
    write_parquet(&invalid, vec![("text", column)]).unwrap();
    let out = prepare(&fx, &invalid, &fx.books(), None, &[]);
    assert!(!out.stderr.contains("panicked"), "{}", out.dump());
    assert_ne!(out.code, Some(0), "{}", out.dump());
}
