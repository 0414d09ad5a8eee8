//! `pipeline where`: every occurrence of a sentence, a document and a text, against an
//! answer computed here without the index — from the store's sentences and the examples'
//! tokens (and, for the keyed kind, from the pairing) — for both recipe kinds.

use std::{
    collections::{BTreeSet, HashMap},
    ffi::OsStr,
    path::Path,
};

use earlyberts_format::{Build, Example, NspLabel, Vocab, provenance::PROVENANCE_INFO_FILE};
use earlyberts_pipeline::{
    pairs::Pairing, recipe::Recipe, stage::Tokenizer, store::SentenceStore, tokenize::BertWordPiece,
};
use serde_json::Value;

use crate::util::{
    SampleInputs, keyed_recipe, pipeline, pipeline_run, reference_recipe, repo, run,
};

/// `(example, segment, positions, masked)`: one occurrence as `where --format jsonl` prints it.
type Found = (u64, String, [u64; 2], u64);

/// The ids of an example as trained on: labels put back.
fn as_trained_on(e: &Example) -> Vec<u16> {
    let mut ids = e.token_ids.clone();
    for (&p, &l) in e.mlm_positions.iter().zip(&e.mlm_labels) {
        ids[p as usize] = l;
    }
    ids
}

/// Segment A's and B's positions in an example the length rule did not cut.
fn segments(e: &Example) -> [(&'static str, [u64; 2]); 2] {
    let (a, len) = (u64::from(e.segment_a_len), e.token_ids.len() as u64);
    [("A", [1, a - 1]), ("B", [a, len - 1])]
}

fn masked(e: &Example, [start, end]: [u64; 2]) -> u64 {
    e.mlm_positions
        .iter()
        .filter(|&&p| (start..end).contains(&u64::from(p)))
        .count() as u64
}

/// The ids of store sentence `i`.
fn sentence(store: &SentenceStore, i: u64) -> Vec<u16> {
    let mut ids = Vec::new();
    store.sentence_into(i, &mut ids);
    ids
}

/// What the build and its store say, read here.
struct Answer {
    examples: Vec<Example>,
    store: SentenceStore,
    /// Each store sentence's ids → the sentences that have them.
    sentences: HashMap<Vec<u16>, Vec<u64>>,
}

impl Answer {
    fn new(build: &Path, store: &Path) -> Answer {
        let build = Build::open(build).unwrap();
        let examples = (0..build.len())
            .map(|k| build.example(k).unwrap())
            .collect();
        let store = SentenceStore::open(store).unwrap();
        let mut sentences: HashMap<Vec<u16>, Vec<u64>> = HashMap::new();
        for i in 0..store.len() {
            sentences.entry(sentence(&store, i)).or_default().push(i);
        }
        Answer {
            examples,
            store,
            sentences,
        }
    }

    /// The one store sentence with these ids (None where several sentences share them).
    fn sentence_of(&self, ids: &[u16]) -> Option<u64> {
        match self.sentences.get(ids).map(Vec::as_slice) {
            Some([one]) => Some(*one),
            _ => None,
        }
    }

    /// Every segment of every example holding sentence `s` (unique ids).
    fn occurrences(&self, s: u64) -> BTreeSet<Found> {
        let wanted = sentence(&self.store, s);
        let mut found = BTreeSet::new();
        for (k, e) in self.examples.iter().enumerate() {
            let ids = as_trained_on(e);
            for (segment, [start, end]) in segments(e) {
                if ids[start as usize..end as usize] == wanted[..] {
                    found.insert((
                        k as u64,
                        segment.into(),
                        [start, end],
                        masked(e, [start, end]),
                    ));
                }
            }
        }
        found
    }

    /// Every place `needle` occurs in the examples' tokens.
    fn text(&self, needle: &[u16]) -> BTreeSet<Found> {
        let mut found = BTreeSet::new();
        for (k, e) in self.examples.iter().enumerate() {
            let ids = as_trained_on(e);
            for start in 0..ids.len().saturating_sub(needle.len() - 1) {
                if ids[start..start + needle.len()] == needle[..] {
                    let at = [start as u64, (start + needle.len()) as u64];
                    let segment = if at[0] < u64::from(e.segment_a_len) {
                        "A"
                    } else {
                        "B"
                    };
                    found.insert((k as u64, segment.into(), at, masked(e, at)));
                }
            }
        }
        found
    }

    /// Sentences in segment A, in B of an "is next" pair and in B of a "random next" pair.
    fn picks(&self) -> [(&'static str, u64); 3] {
        let pick = |label: NspLabel, segment: usize| {
            self.examples
                .iter()
                .filter(|e| e.nsp_label == label)
                .find_map(|e| {
                    let [start, end] = segments(e)[segment].1;
                    self.sentence_of(&as_trained_on(e)[start as usize..end as usize])
                })
                .expect("the sample corpus has such a sentence")
        };
        [
            ("A", pick(NspLabel::IsNext, 0)),
            ("B, is next", pick(NspLabel::IsNext, 1)),
            ("B, random next", pick(NspLabel::RandomNext, 1)),
        ]
    }
}

/// `pipeline where BUILD ARGS… --format jsonl`: its lines as occurrences, and the steps.
fn where_(build: &Path, args: &[&str]) -> (BTreeSet<Found>, Vec<u64>, Option<i32>) {
    let mut command = pipeline();
    command
        .arg("where")
        .arg(build)
        .args(args)
        .args(["--format", "jsonl"]);
    let out = run(&mut command);
    let lines: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let u = |v: &Value| v.as_u64().unwrap();
    let found = lines
        .iter()
        .map(|l| {
            let p = l["positions"].as_array().unwrap();
            let segment = l["segment"].as_str().unwrap().to_string();
            (
                u(&l["example"]),
                segment,
                [u(&p[0]), u(&p[1])],
                u(&l["masked"]),
            )
        })
        .collect();
    let steps = lines.iter().map(|l| u(&l["step"])).collect();
    (found, steps, out.code)
}

/// The occurrences of a `where` answer (in its order, with their `steps`) at its first step.
fn in_first_step(all: &BTreeSet<Found>, steps: &[u64]) -> BTreeSet<Found> {
    all.iter()
        .zip(steps)
        .filter(|(_, s)| **s == steps[0])
        .map(|(o, _)| o.clone())
        .collect()
}

/// The sentence, document and text queries of one build, against [`Answer`].
fn check(build: &Path, store: &Path) -> Answer {
    let answer = Answer::new(build, store);
    assert!(
        answer.examples.iter().all(|e| e.token_ids.len() < 512),
        "no cut"
    );
    for (what, s) in answer.picks() {
        let expected = answer.occurrences(s);
        assert!(!expected.is_empty());
        let (found, steps, code) =
            where_(build, &["--sentence", &s.to_string(), "--batch-size", "8"]);
        assert_eq!(
            (found.clone(), code),
            (expected.clone(), Some(0)),
            "sentence {s} ({what})"
        );
        let first = expected.iter().map(|o| o.0).collect::<Vec<_>>();
        assert_eq!(steps, first.iter().map(|k| k / 8 + 1).collect::<Vec<_>>());
    }
    let needle = tokens("the city");
    let (found, _, code) = where_(build, &["--text", "the city"]);
    assert_eq!(
        (found, code),
        (answer.text(&needle), Some(0)),
        "--text 'the city'"
    );
    answer
}

fn tokens(text: &str) -> Vec<u16> {
    let mut ids = Vec::new();
    BertWordPiece::new(&Vocab::bert_base_uncased())
        .unwrap()
        .encode_into(text, &mut ids)
        .unwrap();
    ids
}

#[test]
fn where_finds_every_occurrence_in_a_keyed_build() {
    let fx = SampleInputs::new();
    let mut command = fx.build_command(&keyed_recipe(), 3, "keyed");
    run(command.arg("--store").arg(fx.path("store"))).expect_code(0);
    let (build, store) = (fx.path("keyed"), fx.path("store"));
    let answer = check(&build, &store);
    // The pairing agrees: each pick is where Pairing::example puts it.
    let recipe = Recipe::load(&keyed_recipe()).unwrap();
    let pairing = Pairing::of_store(&answer.store, &recipe.pairs, 3);
    let from_pairing = |s: u64| -> BTreeSet<(u64, String)> {
        (0..pairing.len())
            .flat_map(|k| {
                let p = pairing.example(k);
                [(k, "A", p.first), (k, "B", p.second)]
            })
            .filter(|o| o.2 == s)
            .map(|(k, seg, _)| (k, seg.to_string()))
            .collect()
    };
    for (what, s) in answer.picks() {
        let found = where_(&build, &["--sentence", &s.to_string()]).0;
        let found: BTreeSet<(u64, String)> = found.into_iter().map(|o| (o.0, o.1)).collect();
        assert_eq!(found, from_pairing(s), "sentence {s} ({what})");
    }
    // A document: every pair holding one of its sentences.
    let d = answer.store.document(answer.picks()[0].1);
    let expected: BTreeSet<(u64, String)> = (0..pairing.len())
        .flat_map(|k| {
            let p = pairing.example(k);
            [(k, "A", p.first), (k, "B", p.second)]
        })
        .filter(|o| answer.store.document(o.2) == d)
        .map(|(k, seg, _)| (k, seg.to_string()))
        .collect();
    let found = where_(&build, &["--document", &d.to_string()]).0;
    let found: BTreeSet<(u64, String)> = found.into_iter().map(|o| (o.0, o.1)).collect();
    assert_eq!(found, expected, "document {d}");
    // `--first`: the occurrences of the first step, and only those.
    let (all, steps, _) = where_(&build, &["--document", &d.to_string(), "--batch-size", "8"]);
    let first = where_(
        &build,
        &["--document", &d.to_string(), "--batch-size", "8", "--first"],
    );
    assert_eq!(first.0, in_first_step(&all, &steps), "document {d} --first");
    // Shards of 8: `--first` reads the shards in order and stops after the first step,
    // and still prints every occurrence of that step.
    let mut small = fx.build_command(&keyed_recipe(), 3, "keyed-small-shards");
    let small = small
        .arg("--store")
        .arg(fx.path("store"))
        .args(["--examples-per-shard", "8"]);
    run(small).expect_code(0);
    let small = fx.path("keyed-small-shards");
    for text in ["the", "lake", "the city"] {
        let args = |first: bool| {
            let mut a = vec!["--text", text, "--batch-size", "4"];
            a.extend(first.then_some("--first"));
            a
        };
        let (all, steps, _) = where_(&small, &args(false));
        let (first, first_steps, _) = where_(&small, &args(true));
        assert_eq!(
            first,
            in_first_step(&all, &steps),
            "--text {text:?} --first"
        );
        assert!(first_steps.iter().all(|&s| s == steps[0]));
        // The summary counts what it printed, whatever the window of shards read.
        let out = run(pipeline().arg("where").arg(&small).args(args(true)));
        let n = first.len();
        let said = format!(
            "{n} occurrence{} up to the first step",
            if n == 1 { "" } else { "s" }
        );
        assert!(out.stderr.contains(&said), "{said:?} in {}", out.stderr);
    }
    later_passes_first_and_misses(&build, answer.examples.len() as u64);
}

/// The reference kind, run as a fresh run stopped at line 40 and continued: lines 40… are
/// in shuffled order, so some pairs are trained on twice and others not at all.
#[test]
fn where_finds_every_occurrence_in_a_reference_build() {
    let fx = SampleInputs::new();
    let csv = repo().join("tests/fixtures/reference/sample/rules-wiki-sentences.csv");
    let mut command = pipeline();
    command
        .args(["build", "--recipe"])
        .arg(reference_recipe())
        .args(["--seed", "1", "--history", "continued:40", "--out"])
        .arg(fx.path("reference"))
        .arg("--store")
        .arg(fx.path("store"))
        .arg("--sentences")
        .arg(&csv)
        .arg("--books")
        .arg(fx.books());
    run(&mut command).expect_code(0);
    let answer = check(&fx.path("reference"), &fx.path("store"));
    let twice = (0..answer.store.len())
        .filter(|&s| answer.sentence_of(&sentence(&answer.store, s)).is_some())
        .find(|&s| answer.occurrences(s).len() > 1)
        .expect("the continued run trains some sentence twice");
    let (found, _, _) = where_(&fx.path("reference"), &["--sentence", &twice.to_string()]);
    assert_eq!(found, answer.occurrences(twice));
}

/// `--until-step`, `--first`, a sentence trained on nowhere, a build without an index.
fn later_passes_first_and_misses(build: &Path, total: u64) {
    let (found, steps, _) = where_(build, &["--sentence", "10", "--batch-size", "8"]);
    let k = found.iter().next().unwrap().0;
    let until = (k + 2 * total) / 8 + 1;
    let (_, later, _) = where_(
        build,
        &[
            "--sentence",
            "10",
            "--batch-size",
            "8",
            "--until-step",
            &until.to_string(),
        ],
    );
    assert_eq!(later, vec![k / 8 + 1, (k + total) / 8 + 1, until]);
    assert_eq!(steps, vec![k / 8 + 1]);
    let (all, all_steps, _) = where_(build, &["--text", "the", "--batch-size", "8"]);
    let (first, first_steps, _) = where_(build, &["--text", "the", "--batch-size", "8", "--first"]);
    assert!(all.len() > first.len() && !first.is_empty());
    assert!(first_steps.iter().all(|&s| s == all_steps[0]));
    let (none, _, code) = where_(build, &["--sentence", "4000000000"]);
    assert_eq!((none.len(), code), (0, Some(1)));
    std::fs::remove_file(build.join(PROVENANCE_INFO_FILE)).unwrap();
    let out = pipeline_run([
        OsStr::new("where"),
        build.as_os_str(),
        "--sentence".as_ref(),
        "1".as_ref(),
    ]);
    let out = out.expect_code(2).expect_output("has no provenance index");
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}
