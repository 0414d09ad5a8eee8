//! `pipeline exposure`: every token's counts and every term's, against a brute-force count
//! over `pipeline inspect --format jsonl` and against `pipeline where`, for both recipe
//! kinds, with steps that wrap past the build's end as the trainer wraps.

use std::{collections::BTreeMap, path::Path};

use earlyberts_format::{Build, Vocab};
use earlyberts_pipeline::exposure::table::read_tokens;
use serde_json::Value;

use crate::util::{SampleInputs, keyed_recipe, pipeline, reference_recipe, repo, run};

/// Steps to count at, of `batch` examples.
struct Query {
    steps: Vec<u64>,
    batch: u64,
}

impl Query {
    /// The flags of `pipeline exposure` and `where` for it.
    fn flags(&self) -> [String; 4] {
        let list = self.steps.iter().map(u64::to_string).collect::<Vec<_>>();
        [
            "--steps".into(),
            list.join(","),
            "--batch-size".into(),
            self.batch.to_string(),
        ]
    }
}

/// The queries a build of `total` examples is checked with: steps of 8 before, at and past
/// the end of the build (wrapping twice); steps of a divisor of `total` ending exactly at
/// the end of the first and second passes; and steps that read only the first 24 examples.
fn queries(total: u64) -> Vec<Query> {
    let pass = total / 8;
    let mut queries = vec![Query {
        steps: vec![1, 2, pass, pass + 1, 2 * pass + 1, 2 * pass + 7],
        batch: 8,
    }];
    if let Some(d) = (2..=16).find(|d| total.is_multiple_of(*d)) {
        let pass = total / d;
        let steps = vec![1, pass, 2 * pass, 2 * pass + 1];
        queries.push(Query { steps, batch: d });
    }
    queries.push(Query {
        steps: vec![1, 2, 3],
        batch: 8,
    });
    queries
}

/// An example as `inspect --format jsonl` prints it.
struct Printed {
    token_ids: Vec<u64>,
    positions: Vec<u64>,
    labels: Vec<u64>,
}

fn inspect_all(build: &Path, total: u64) -> Vec<Printed> {
    let out = run(pipeline().arg("inspect").arg(build).args([
        "--examples",
        &format!("0..{total}"),
        "--format",
        "jsonl",
    ]))
    .expect_code(0);
    let ids = |v: &Value| -> Vec<u64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect()
    };
    out.stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            Printed {
                token_ids: ids(&v["token_ids"]),
                positions: ids(&v["mlm_positions"]),
                labels: ids(&v["mlm_labels"]),
            }
        })
        .collect()
}

/// `(step, token_id) → [seen, target, masked, kept, replaced]`, counted example by example
/// over the positions each step trains on.
fn brute_force(examples: &[Printed], q: &Query) -> BTreeMap<(u64, u64), [u64; 5]> {
    let mask = u64::from(Vocab::bert_base_uncased().special().mask);
    let total = examples.len() as u64;
    let mut counts: BTreeMap<(u64, u64), [u64; 5]> = BTreeMap::new();
    for &step in &q.steps {
        for position in 0..step * q.batch {
            let e = &examples[(position % total) as usize];
            let mut text = e.token_ids.clone();
            for (&p, &label) in e.positions.iter().zip(&e.labels) {
                text[p as usize] = label;
                let shown = e.token_ids[p as usize];
                let c = counts.entry((step, label)).or_default();
                c[1] += 1;
                c[if shown == mask {
                    2
                } else if shown == label {
                    3
                } else {
                    4
                }] += 1;
            }
            for id in text {
                counts.entry((step, id)).or_default()[0] += 1;
            }
        }
    }
    counts
}

/// `pipeline exposure BUILD ARGS…`: its output and stderr.
fn exposure(build: &Path, args: &[impl AsRef<std::ffi::OsStr>]) -> (String, String) {
    let out = run(pipeline().arg("exposure").arg(build).args(args)).expect_code(0);
    (out.stdout, out.stderr)
}

/// The non-zero rows of a `--format jsonl` token table, checking that it has every token
/// at every step.
fn token_rows(jsonl: &str, steps: &[u64]) -> BTreeMap<(u64, u64), [u64; 5]> {
    let vocab = Vocab::bert_base_uncased();
    let lines: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), steps.len() * vocab.len());
    let mut rows = BTreeMap::new();
    for (i, l) in lines.iter().enumerate() {
        let (step, id) = (l["step"].as_u64().unwrap(), l["token_id"].as_u64().unwrap());
        assert_eq!(
            (step, id),
            (steps[i / vocab.len()], (i % vocab.len()) as u64)
        );
        assert_eq!(l["token"], vocab.token(id as u16).unwrap());
        let c = ["seen", "target", "masked", "kept", "replaced"].map(|k| l[k].as_u64().unwrap());
        if c != [0; 5] {
            rows.insert((step, id), c);
        }
    }
    rows
}

/// Every token at every step of each query; in each format, cached and counted again, for
/// the first.
fn check_tokens(build: &Path) {
    let total = Build::open(build).unwrap().len();
    let examples = inspect_all(build, total);
    let queries = queries(total);
    for q in &queries {
        let (jsonl, said) = exposure(
            build,
            &[&q.flags()[..], &["--format".into(), "jsonl".into()]].concat(),
        );
        assert!(said.contains("counted and cached"), "{said}");
        assert_eq!(
            token_rows(&jsonl, &q.steps),
            brute_force(&examples, q),
            "{:?}",
            q.flags()
        );
    }
    let q = &queries[0];
    let args = |format: &str| [&q.flags()[..], &["--format".into(), format.into()]].concat();
    let (jsonl, _) = exposure(build, &args("jsonl"));
    let expected = brute_force(&examples, q);
    // The second query is read from the cache, with the same answer in every format.
    let (again, said) = exposure(build, &args("jsonl"));
    assert!(said.contains("read from the cache"), "{said}");
    assert_eq!(again, jsonl);
    let (csv, _) = exposure(build, &args("csv"));
    let csv_rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        csv_rows[0],
        "step,token_id,token,seen,target,masked,kept,replaced"
    );
    assert_eq!(csv_rows.len() - 1, jsonl.lines().count());
    // A token holding a comma is quoted.
    let comma = Vocab::bert_base_uncased().id(",").unwrap();
    assert!(csv.contains(&format!("\n{},{comma},\",\",", q.steps[0])));
    let parquet = build.join("out.parquet");
    let mut command = pipeline();
    command.arg("exposure").arg(build).args(q.flags());
    run(command.arg("--out").arg(&parquet)).expect_code(0);
    let (read, _) = read_tokens(&parquet, Vocab::bert_base_uncased().len(), q.batch).unwrap();
    assert_eq!(read.steps, q.steps);
    let vocab_size = read.vocab_size;
    for (&(step, id), c) in &expected {
        let s = q.steps.iter().position(|&x| x == step).unwrap();
        let at = s * vocab_size + id as usize;
        assert_eq!(
            read.counts.each_ref().map(|k| k[at]),
            *c,
            "step {step} id {id}"
        );
    }
    // A damaged cache is counted again and replaced.
    let cache = build.join("exposure").join(cache_name(build, &q.flags()));
    std::fs::write(&cache, b"PAR1 not a table").unwrap();
    let (recounted, said) = exposure(build, &args("jsonl"));
    assert!(said.contains("counted and cached"), "{said}");
    assert_eq!(recounted, jsonl);
}

/// The cache file a query writes, as `pipeline exposure` names it on stderr.
fn cache_name(build: &Path, flags: &[String]) -> String {
    let (_, said) = exposure(build, &[flags, &["--format".into(), "csv".into()]].concat());
    let at = said.find("tokens-").unwrap();
    said[at..at + "tokens-".len() + 16 + ".parquet".len()].to_string()
}

/// Each term's counts and first step for each query, against `pipeline where --text`;
/// `late` is a word the first 24 examples do not hold (its first step is found reading on).
fn check_terms(build: &Path, late: &str) {
    let total = Build::open(build).unwrap().len();
    let terms = [
        "the",
        "lake",
        "the city",
        "of the",
        "zyzzyva quokka",
        "The",
        late,
    ];
    let file = build.join("terms.txt");
    std::fs::write(&file, format!("{}\n\n", terms.join("\n  "))).unwrap();
    for q in queries(total) {
        let args = [
            &q.flags()[..],
            &["--terms".into(), file.display().to_string()],
        ]
        .concat();
        let (jsonl, _) = exposure(
            build,
            &[&args[..], &["--format".into(), "jsonl".into()]].concat(),
        );
        let rows: Vec<Value> = jsonl
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(rows.len(), q.steps.len() * terms.len());
        let last = q.steps.last().unwrap().to_string();
        for (t, term) in terms.iter().enumerate() {
            let found = where_lines(build, q.batch, &["--text", term, "--until-step", &last]);
            let first = where_lines(build, q.batch, &["--text", term, "--first"]);
            let len = tokens_of(term);
            for (s, &step) in q.steps.iter().enumerate() {
                let row = &rows[s * terms.len() + t];
                assert_eq!(
                    (row["step"].as_u64(), row["term"].as_str()),
                    (Some(step), Some(*term))
                );
                let upto: Vec<&(u64, u64)> = found.iter().filter(|(at, _)| *at <= step).collect();
                let fully = upto.iter().filter(|(_, m)| *m == len).count() as u64;
                let partly = upto.iter().filter(|(_, m)| *m > 0 && *m < len).count() as u64;
                let counts =
                    ["seen", "fully_masked", "partly_masked"].map(|k| row[k].as_u64().unwrap());
                assert_eq!(
                    counts,
                    [upto.len() as u64, fully, partly],
                    "{term:?} at step {step}"
                );
                assert_eq!(
                    row["first_step"].as_u64(),
                    first.first().map(|f| f.0),
                    "{term:?}"
                );
            }
        }
    }
}

/// A whole word of the vocabulary that the build's text holds, but not its first 24
/// examples.
fn late_word(build: &Path) -> String {
    let total = Build::open(build).unwrap().len();
    let examples = inspect_all(build, total);
    let text = |e: &Printed| {
        let mut ids = e.token_ids.clone();
        for (&p, &l) in e.positions.iter().zip(&e.labels) {
            ids[p as usize] = l;
        }
        ids
    };
    let early: std::collections::BTreeSet<u64> = examples[..24].iter().flat_map(text).collect();
    let vocab = Vocab::bert_base_uncased();
    examples[24..]
        .iter()
        .flat_map(text)
        .filter(|id| !early.contains(id))
        .map(|id| vocab.token(id as u16).unwrap().to_string())
        .find(|w| w.len() > 3 && w.chars().all(|c| c.is_ascii_lowercase()))
        .expect("a word first seen after example 24")
}

/// `(step, masked)` of each line of `where BUILD ARGS… --batch-size BATCH`.
fn where_lines(build: &Path, batch: u64, args: &[&str]) -> Vec<(u64, u64)> {
    let out = run(pipeline().arg("where").arg(build).args(args).args([
        "--batch-size",
        &batch.to_string(),
        "--format",
        "jsonl",
    ]));
    out.stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["step"].as_u64().unwrap(), v["masked"].as_u64().unwrap())
        })
        .collect()
}

fn tokens_of(text: &str) -> u64 {
    use earlyberts_pipeline::{stage::Tokenizer, tokenize::BertWordPiece};
    let mut ids = Vec::new();
    let vocab = Vocab::bert_base_uncased();
    BertWordPiece::new(&vocab)
        .unwrap()
        .encode_into(text, &mut ids)
        .unwrap();
    ids.len() as u64
}

#[test]
fn exposure_equals_a_brute_force_count_in_a_keyed_build() {
    let fx = SampleInputs::new();
    let mut command = fx.build_command(&keyed_recipe(), 3, "keyed");
    run(command.args(["--examples-per-shard", "8"])).expect_code(0);
    check_tokens(&fx.path("keyed"));
    check_terms(&fx.path("keyed"), &late_word(&fx.path("keyed")));
    // The same bytes on one thread and on three, counted afresh each time.
    let table = |threads: &str| {
        std::fs::remove_dir_all(fx.path("keyed/exposure")).unwrap();
        let out = fx.path(&format!("t{threads}.parquet"));
        let mut command = pipeline();
        command
            .args(["-j", threads, "exposure"])
            .arg(fx.path("keyed"));
        run(command
            .args(["--batch-size", "8", "--steps", "3,30"])
            .arg("--out")
            .arg(&out))
        .expect_code(0);
        std::fs::read(out).unwrap()
    };
    assert_eq!(table("1"), table("3"));
}

#[test]
fn exposure_equals_a_brute_force_count_in_a_reference_build() {
    let fx = SampleInputs::new();
    let csv = repo().join("tests/fixtures/reference/sample/rules-wiki-sentences.csv");
    let mut command = pipeline();
    command
        .args(["build", "--recipe"])
        .arg(reference_recipe())
        .args([
            "--seed",
            "1",
            "--history",
            "continued:40",
            "--examples-per-shard",
            "16",
        ])
        .arg("--out")
        .arg(fx.path("reference"))
        .arg("--sentences")
        .arg(&csv)
        .arg("--books")
        .arg(fx.books());
    run(&mut command).expect_code(0);
    check_tokens(&fx.path("reference"));
    check_terms(&fx.path("reference"), &late_word(&fx.path("reference")));
}

#[test]
fn exposure_refuses_bad_requests_in_one_line() {
    let fx = SampleInputs::new();
    run(&mut fx.build_command(&keyed_recipe(), 1, "b")).expect_code(0);
    let build = fx.path("b");
    let blank = fx.path("blank.txt");
    std::fs::write(&blank, "\n  \n").unwrap();
    let control = fx.path("control.txt");
    std::fs::write(&control, "lake\n\u{7}\n").unwrap();
    let cases: [(Vec<&str>, &str); 5] = [
        (vec!["--steps", "0,10"], "steps are numbered from 1"),
        (vec!["--steps", "ten"], "'ten' is not a whole number"),
        (vec!["--batch-size", "0"], "--batch-size 0"),
        (vec!["--terms", blank.to_str().unwrap()], "holds no terms"),
        (
            vec!["--terms", control.to_str().unwrap()],
            "has no tokens to count",
        ),
    ];
    for (args, message) in cases {
        let out = run(pipeline()
            .arg("exposure")
            .arg(&build)
            .args(&args)
            .args(["--format", "csv"]));
        let out = out.expect_code(2);
        let first = out.stderr.lines().next().unwrap_or_default();
        assert!(first.contains(message), "{message:?} in {}", out.stderr);
        // clap adds a usage hint; our own errors are one line.
        assert!(out.stderr.lines().count() == 1 || first.starts_with("error: invalid value"));
    }
}
