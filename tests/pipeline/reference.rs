//! The reference kind against the reference script run with its own libraries.
//!
//! `tests/fixtures/reference/*.json` were made by `scripts/reference_examples.py fixture`
//! (torch, numpy, `random`, transformers' collator, datasets/pandas; the versions are in each
//! file): for every seed and run history, the digest of every example as mlm.py would feed it
//! to the model, and a few whole examples. The pipeline must make the same examples.
//!
//! - `sample-rules.json`: the sample corpus, its Wikipedia split by this project's splitter
//!   and handed to the script as its `wiki-sentences.csv` (`pipeline prepare
//!   --write-sentences`).
//! - `sample-spacy.json`: the sample corpus split by spaCy as the reference did
//!   (`reference_examples.py sentencize`, the mirror of en_core_web_sm 3.8.0 here).
//! - `synthetic.json`: `tests/fixtures/reference/synthetic/` (`reference_examples.py
//!   synthetic`): every NA string, NULs, CR/LF and lone CR, Unicode whitespace at row ends,
//!   long words, literal special tokens, pairs over 512 tokens, caps in both branches.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::util::{SampleInputs, pipeline_run, reference_recipe, repo, spacy_args};

/// The digest the fixtures record: sha256 of the canonical JSON, first 16 hex digits.
fn digest(example: &Value) -> String {
    let keys = [
        "mlm_labels",
        "mlm_positions",
        "nsp_label",
        "segment_ids",
        "token_ids",
    ];
    let canonical: serde_json::Map<String, Value> = keys
        .iter()
        .map(|k| (k.to_string(), example[*k].clone()))
        .collect();
    let text = serde_json::to_string(&canonical).unwrap();
    let hash = Sha256::digest(text.as_bytes());
    hash.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Every example of build `dir`, as `pipeline inspect --format jsonl` prints them.
fn examples(dir: &Path) -> Vec<Value> {
    let manifest = earlyberts_format::Manifest::load(&dir.join("manifest.json")).unwrap();
    let out = pipeline_run([
        "inspect".as_ref(),
        dir.as_os_str(),
        "--examples".as_ref(),
        format!("0..{}", manifest.len()).as_ref(),
        "--format".as_ref(),
        "jsonl".as_ref(),
    ])
    .expect_code(0);
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Builds every case of `fixture` from `inputs` and compares it example by example.
fn check_cases(fixture: &str, root: &Path, inputs: &[&std::ffi::OsStr]) -> (usize, usize) {
    let path = repo().join("tests/fixtures/reference").join(fixture);
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (mut cases, mut compared) = (0, 0);
    for case in expected["cases"].as_array().unwrap() {
        let seed = case["seed"].as_u64().unwrap();
        let history = case["history"].as_str().unwrap();
        let out = root.join(format!("seed{seed}-{}", history.replace([':', ','], "-")));
        let recipe = reference_recipe();
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "--quiet".as_ref(),
            "build".as_ref(),
            "--recipe".as_ref(),
            recipe.as_os_str(),
        ];
        let seed_text = seed.to_string();
        let store = root.join("store");
        args.extend::<[&std::ffi::OsStr; 8]>([
            "--seed".as_ref(),
            seed_text.as_ref(),
            "--history".as_ref(),
            history.as_ref(),
            "--out".as_ref(),
            out.as_os_str(),
            "--store".as_ref(),
            store.as_os_str(),
        ]);
        args.extend_from_slice(inputs);
        pipeline_run(args)
            .expect_code(0)
            .expect_output("audit: all checks pass");
        let ours = examples(&out);
        let all = case["digests"].as_str().unwrap();
        let digests: Vec<&str> = (0..all.len() / 16)
            .map(|i| &all[16 * i..16 * i + 16])
            .collect();
        assert_eq!(
            ours.len(),
            digests.len(),
            "seed {seed}, {history}: example count"
        );
        for (k, (example, want)) in ours.iter().zip(&digests).enumerate() {
            assert_eq!(
                digest(example),
                *want,
                "seed {seed}, {history}: example {k} differs from the reference: {example}"
            );
        }
        for (k, whole) in case["whole"].as_object().unwrap() {
            let mine = &ours[k.parse::<usize>().unwrap()];
            for key in [
                "token_ids",
                "segment_ids",
                "mlm_positions",
                "mlm_labels",
                "nsp_label",
            ] {
                assert_eq!(
                    mine[key], whole[key],
                    "seed {seed}, {history}: example {k}, {key}"
                );
            }
        }
        cases += 1;
        compared += ours.len();
    }
    (cases, compared)
}

/// The sample corpus's Wikipedia split by this project's rule-based splitter (as
/// `pipeline prepare --write-sentences` writes it), given as the reference's CSV: no spaCy.
#[test]
fn the_sample_corpus_matches_the_reference_script() {
    let fx = SampleInputs::new();
    let csv = repo().join("tests/fixtures/reference/sample/rules-wiki-sentences.csv");
    let books = fx.books();
    let (cases, examples) = check_cases(
        "sample-rules.json",
        &fx.path("builds"),
        &[
            "--sentences".as_ref(),
            csv.as_os_str(),
            "--books".as_ref(),
            books.as_os_str(),
        ],
    );
    eprintln!("sample corpus: {cases} cases, {examples} examples identical");
    assert!(cases >= 20);
}

/// The whole recipe: the sample corpus's articles split by spaCy inside the build, against
/// the reference script's own spaCy rows (`reference_examples.py sentencize`, the whole
/// model over each article, committed as `sample/spacy-wiki-sentences.csv`) and examples.
#[test]
fn the_sample_corpus_split_by_spacy_matches_the_reference_script() {
    let Some(spacy) = spacy_args() else { return };
    let fx = SampleInputs::new();
    let (wiki, books) = (fx.wiki(), fx.books());
    let mut inputs: Vec<&std::ffi::OsStr> = vec![
        "--wiki".as_ref(),
        wiki.as_os_str(),
        "--books".as_ref(),
        books.as_os_str(),
    ];
    inputs.extend(spacy.iter().map(|a| -> &std::ffi::OsStr { a.as_ref() }));
    let (cases, examples) = check_cases("sample-spacy.json", &fx.path("builds"), &inputs);
    eprintln!("sample corpus split by spaCy: {cases} cases, {examples} examples identical");
    assert!(cases >= 20);
    // The rows themselves: the store's Wikipedia sentences are the reference's CSV.
    let rows = fx.path("rows.csv");
    let mut command = crate::util::pipeline();
    command
        .args(["--quiet", "prepare", "--recipe"])
        .arg(reference_recipe())
        .arg("--out")
        .arg(fx.path("store-rows"))
        .arg("--wiki")
        .arg(&wiki)
        .arg("--books")
        .arg(&books)
        .arg("--write-sentences")
        .arg(&rows)
        .args(&spacy);
    crate::util::run(&mut command).expect_code(0);
    let expected = repo().join("tests/fixtures/reference/sample/spacy-wiki-sentences.csv");
    assert!(
        std::fs::read(&rows).unwrap() == std::fs::read(expected).unwrap(),
        "the spaCy rows differ from the reference's"
    );
}

#[test]
fn the_synthetic_corpus_matches_the_reference_script() {
    let dir: PathBuf = repo().join("tests/fixtures/reference/synthetic");
    let (csv, books) = (
        dir.join("wiki-sentences.csv"),
        dir.join("bookcorpus.tar.bz2"),
    );
    let root = tempfile::tempdir().unwrap();
    let (cases, examples) = check_cases(
        "synthetic.json",
        root.path(),
        &[
            "--sentences".as_ref(),
            csv.as_os_str(),
            "--books".as_ref(),
            books.as_os_str(),
        ],
    );
    eprintln!("synthetic corpus: {cases} cases, {examples} examples identical");
    assert!(cases >= 20);
}

#[test]
fn bad_reference_requests_are_one_line_errors() {
    let fx = SampleInputs::new();
    let bad = fx.path("bad");
    std::fs::create_dir_all(&bad).unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = bad.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let header = write("header.csv", b"\"sentence\"\n\"a\"\n");
    let open = write("open.csv", b"\"text\"\n\"a\"\n\"never closed\n");
    let binary = write("binary.csv", b"\"text\"\n\"\xff\xfe\"\n");
    let good = write("good.csv", b"\"text\"\n\"One.\"\n\"Two.\"\n");
    let recipe_text = std::fs::read_to_string(reference_recipe()).unwrap();
    let keyed_with_reference = write(
        "mixed.toml",
        recipe_text
            .replace("kind = \"reference\"", "kind = \"keyed\"")
            .as_bytes(),
    );
    let reference_pairs = write(
        "pairs.toml",
        recipe_text
            .replace("derangement = false", "derangement = true")
            .as_bytes(),
    );
    let unknown_history = write(
        "history.toml",
        recipe_text
            .replace("history = \"fresh\"", "history = \"sometimes\"")
            .as_bytes(),
    );
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let books = s(&fx.books());
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--sentences".into(), s(&header)],
            "the header is \"sentence\"",
        ),
        (
            vec!["--sentences".into(), s(&open)],
            "line 3: a quote is never closed",
        ),
        (
            vec!["--sentences".into(), s(&binary)],
            "line 2: not valid UTF-8",
        ),
        (
            vec![
                "--sentences".into(),
                s(&good),
                "--history".into(),
                "continued:9,3".into(),
            ],
            "--history [9, 3]: cursors must increase",
        ),
        (
            vec![
                "--sentences".into(),
                s(&good),
                "--history".into(),
                "continued:5000".into(),
            ],
            "reference.history.continued is 5000, outside",
        ),
    ];
    for (extra, needle) in cases {
        let out = fx.path(&format!("out-{}", needle.len()));
        let mut command = crate::util::pipeline();
        command
            .args(["--quiet", "build", "--seed", "1", "--recipe"])
            .arg(reference_recipe())
            .arg("--out")
            .arg(&out)
            .args(["--books", &books])
            .args(&extra);
        let result = crate::util::run(&mut command).expect_code(2);
        // One error line (a cursor past the pairs is known once the store is made, after
        // the store's own line).
        let errors: Vec<&str> = result
            .stderr
            .lines()
            .filter(|l| l.starts_with("pipeline:"))
            .collect();
        assert_eq!(errors.len(), 1, "{}", result.dump());
        assert!(errors[0].contains(needle), "{needle:?}\n{}", result.dump());
        assert!(!result.stderr.contains("panicked"), "{}", result.dump());
        assert!(!out.join("manifest.json").exists());
    }
    for (recipe, needle) in [
        (
            &keyed_with_reference,
            "only a recipe with kind = \"reference\" has a [reference] section",
        ),
        (
            &reference_pairs,
            "the reference kind pairs as the script does",
        ),
        (&unknown_history, "unknown variant `sometimes`"),
    ] {
        let mut command = crate::util::pipeline();
        command
            .args(["--quiet", "build", "--seed", "1", "--recipe"])
            .arg(recipe)
            .arg("--out")
            .arg(fx.path("never"));
        let result = crate::util::run(&mut command).expect_code(2);
        assert_eq!(result.stderr.lines().count(), 1, "{}", result.dump());
        assert!(
            result.stderr.contains(needle),
            "{needle:?}\n{}",
            result.dump()
        );
    }
    let mut command = crate::util::pipeline();
    command
        .args([
            "--quiet",
            "build",
            "--seed",
            "1",
            "--history",
            "resumed",
            "--recipe",
        ])
        .arg(crate::util::keyed_recipe())
        .arg("--out")
        .arg(fx.path("keyed"));
    crate::util::run(&mut command).expect_code(2).expect_output(
        "--history resumed: a history is what the reference kind reproduces; this recipe is keyed",
    );
}
