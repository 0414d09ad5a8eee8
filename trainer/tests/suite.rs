//! `trainer suite` on the trainer's own tiny runs: a clean suite passes; a duplicated
//! revision, two swapped labels and a final checkpoint served as an early step are each
//! found (exit status 1), and bad input gets one line.

use std::{fs, path::Path};

use earlyberts_format::Vocab;
use earlyberts_trainer::{checkpoint::save_checkpoint, model::BertConfig};
use serde_json::Value;

use crate::cli::{Fixture, fixture, ok, run_args, s, trainer, with};

const STEPS: [u64; 5] = [1, 2, 4, 8, 12];

/// Which original step's weights each label serves.
type Relabel = fn(u64) -> u64;
/// A finding: its kind, its step and the other step it names.
type Expected = (&'static str, u64, u64);

/// A tiny run from saved initial weights, with checkpoints at [`STEPS`]: `(init, run)`.
fn tiny_run(f: &Fixture) -> (std::path::PathBuf, std::path::PathBuf) {
    let init = f.root.join("init");
    let config = BertConfig::tiny();
    let model = config.init::<burn::backend::Flex>(11, &Default::default());
    save_checkpoint(&init, &model, &config, &Vocab::bert_base_uncased()).unwrap();
    let out = f.root.join("runs");
    let extra = ["--max-steps", "12", "--checkpoints", "1,2,4,8,12"];
    let extra = [&extra[..], &["--lr", "1e-3", "--warmup", "4"]].concat();
    let args = with(run_args(f, &out, &extra), "--init", Some(s(&init)));
    ok(&args);
    (init, out.join("seed3"))
}

/// `trainer suite --init INIT --revisions RUN --format json`: the exit code and the report.
fn audit(init: &Path, run: &Path) -> (Option<i32>, Value) {
    let out = trainer(&[
        "suite",
        "--init",
        s(init),
        "--revisions",
        s(run),
        "--format",
        "json",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    (out.status.code(), report)
}

/// The findings of a report, as `(kind, step, the other step)`.
fn findings(report: &Value) -> Vec<(String, u64, u64)> {
    let other = |f: &Value| {
        ["same_as", "earlier", "previous"]
            .iter()
            .find_map(|k| f[k].as_u64())
            .unwrap()
    };
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["step"].as_u64().unwrap(),
                other(f),
            )
        })
        .collect()
}

/// A copy of `run` whose revisions' weights are given by `weights_of(step)` (a step of the
/// original run).
fn relabelled(run: &Path, to: &Path, weights_of: impl Fn(u64) -> u64) {
    for step in STEPS {
        let dir = to.join(format!("step{step}"));
        fs::create_dir_all(&dir).unwrap();
        let from = run.join(format!("step{}", weights_of(step)));
        for name in ["config.json", "model.safetensors", "trainer_state.json"] {
            fs::copy(from.join(name), dir.join(name)).unwrap();
        }
    }
}

#[test]
fn a_clean_suite_passes_and_each_fault_is_found() {
    let f = fixture();
    let (init, run) = tiny_run(&f);
    let (code, report) = audit(&init, &run);
    assert_eq!(code, Some(0), "{report:#}");
    assert!(findings(&report).is_empty());
    let revisions = report["revisions"].as_array().unwrap();
    let steps: Vec<u64> = revisions
        .iter()
        .map(|r| r["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, STEPS);
    let from_init: Vec<f64> = revisions
        .iter()
        .map(|r| r["from_init"]["l2"].as_f64().unwrap())
        .collect();
    assert!(from_init.windows(2).all(|w| w[0] < w[1]), "{from_init:?}");
    assert_eq!(report["optimizer"]["source"], "trainer_state.json");
    assert_eq!(revisions[0]["sha256"].as_str().unwrap().len(), 64);
    // The text form says the same.
    let text = ok(&["suite", "--init", s(&init), "--revisions", s(&run)]);
    assert!(text.contains("verdict: no findings"), "{text}");

    let faults: [(&str, Relabel, Expected); 3] = [
        (
            "a duplicated revision",
            |s| if s == 4 { 2 } else { s },
            ("identical", 4, 2),
        ),
        (
            "two swapped labels",
            |s| match s {
                4 => 8,
                8 => 4,
                s => s,
            },
            ("not_growing", 8, 4),
        ),
        (
            "the final weights as step 1",
            |s| if s == 1 { 12 } else { s },
            ("too_large_update", 1, 0),
        ),
    ];
    for (what, weights_of, expected) in faults {
        let faulty = f.root.join(what.replace(' ', "-"));
        relabelled(&run, &faulty, weights_of);
        let (code, report) = audit(&init, &faulty);
        assert_eq!(code, Some(1), "{what}: {report:#}");
        let found = findings(&report);
        let expected = (expected.0.to_string(), expected.1, expected.2);
        assert!(
            found.contains(&expected),
            "{what}: {expected:?} not in {found:?}"
        );
    }
    // The final weights as step 1 also stop the distance from growing at step 2.
    let faulty = f.root.join("the-final-weights-as-step-1");
    let found = findings(&audit(&init, &faulty).1);
    assert!(found.contains(&("not_growing".into(), 2, 1)), "{found:?}");
    // Checkpoint directories given one by one are audited as the same suite.
    let (one, two) = (run.join("step1"), run.join("step2"));
    ok(&["suite", "--init", s(&init), s(&two), s(&one)]);
}

#[test]
fn suite_refuses_bad_input_in_one_line() {
    let f = fixture();
    let plain = f.root.join("weights");
    fs::create_dir_all(&plain).unwrap();
    let out = trainer(&["suite", s(&plain)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("is not named stepN"), "{stderr}");
    for (args, needle) in [
        (
            vec!["suite", "--revisions", s(&plain)],
            "has no checkpoint directories",
        ),
        (vec!["suite"], "no checkpoints"),
        (vec!["suite", s(&plain.join("step3"))], "does not exist"),
    ] {
        let out = trainer(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(needle) && stderr.lines().count() == 1,
            "{args:?}: {stderr}"
        );
    }
}
