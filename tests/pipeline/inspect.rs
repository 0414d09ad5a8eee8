//! `pipeline inspect`: the printed examples are the build's, in the order a step uses them.

use earlyberts_format::Example;
use serde_json::Value;

use crate::util::{Fixture, pipeline_run};

fn json_of(index: u64, e: &Example) -> Value {
    serde_json::json!({
        "index": index,
        "token_ids": e.token_ids,
        "segment_ids": e.segment_ids(),
        "mlm_positions": e.mlm_positions,
        "mlm_labels": e.mlm_labels,
        "nsp_label": e.nsp_label.id(),
    })
}

fn parse_lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn jsonl_range_crosses_shards() {
    let fx = Fixture::new();
    let out = pipeline_run([
        "inspect".as_ref(),
        fx.build().as_os_str(),
        "--examples".as_ref(),
        "30..35".as_ref(),
        "--format".as_ref(),
        "jsonl".as_ref(),
    ])
    .expect_code(0);
    let expected: Vec<Value> = (30..35)
        .map(|k| json_of(k, &fx.examples[k as usize]))
        .collect();
    assert_eq!(parse_lines(&out.stdout), expected);
}

#[test]
fn step_batches_wrap_at_the_end_of_the_data() {
    let fx = Fixture::new();
    // 100 examples, 8 per step (the recipe's batch_size): step 13 is 96..104 → 96..100, 0..4.
    let out = pipeline_run([
        "inspect".as_ref(),
        fx.build().as_os_str(),
        "--step".as_ref(),
        "13".as_ref(),
        "--format".as_ref(),
        "jsonl".as_ref(),
    ])
    .expect_code(0);
    let indices: Vec<u64> = parse_lines(&out.stdout)
        .iter()
        .map(|v| v["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indices, vec![96, 97, 98, 99, 0, 1, 2, 3]);
    let out = pipeline_run([
        "inspect".as_ref(),
        fx.build().as_os_str(),
        "--step".as_ref(),
        "2".as_ref(),
        "--batch-size".as_ref(),
        "3".as_ref(),
        "--format".as_ref(),
        "jsonl".as_ref(),
    ])
    .expect_code(0);
    let expected: Vec<Value> = (3..6)
        .map(|k| json_of(k, &fx.examples[k as usize]))
        .collect();
    assert_eq!(parse_lines(&out.stdout), expected);
}

#[test]
fn text_shows_tokens_and_labels() {
    let fx = Fixture::new();
    let e = &fx.examples[5];
    let out = pipeline_run([
        "inspect".as_ref(),
        fx.build().as_os_str(),
        "--examples".as_ref(),
        "5".as_ref(),
    ])
    .expect_code(0)
    .expect_output(&format!("example 5  nsp={}", e.nsp_label.id()))
    .expect_output("  [CLS] ");
    let vocab = earlyberts_format::Vocab::bert_base_uncased();
    let label = vocab.token(e.mlm_labels[0]).unwrap();
    assert!(
        out.stdout.contains(&format!("[MASK]({label})"))
            || out.stdout.contains(&format!("({label})")),
        "{}",
        out.dump()
    );
}

#[test]
fn bad_requests_are_one_line_errors() {
    let fx = Fixture::new();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--examples", "90..200"],
            "goes past the end of the build (100 examples)",
        ),
        (vec!["--step", "0"], "steps are numbered from 1"),
        (vec!["--examples", "x"], "'x' is not a whole number"),
        (
            vec!["--vocab", "/nonexistent/vocab.txt"],
            "/nonexistent/vocab.txt",
        ),
    ];
    let build = fx.build();
    for (args, message) in cases {
        let mut all = vec!["inspect", build.to_str().unwrap()];
        all.extend(args);
        pipeline_run(all).expect_code(2).expect_output(message);
    }
    let other_vocab = fx.root.path().join("vocab.txt");
    std::fs::write(&other_vocab, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n").unwrap();
    pipeline_run([
        "inspect".as_ref(),
        fx.build().as_os_str(),
        "--vocab".as_ref(),
        other_vocab.as_os_str(),
    ])
    .expect_code(2)
    .expect_output("pass its vocab.txt with --vocab");
}
