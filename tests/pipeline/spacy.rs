//! The spaCy stage of `prepare` (the reference recipe's splitter): the fast component set
//! gives the full model's sentences; a killed `prepare` takes its workers with it and
//! resumes from the chunks it finished; parts run as separate processes assemble into the
//! one-process store, and `prepare --parts-status` says where their work stands; bad setups
//! are one-line errors. Skipped (saying so) where spaCy cannot run, unless
//! EARLYBERTS_REQUIRE_SPACY=1.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use arrow_array::{ArrayRef, StringArray};
use earlyberts_pipeline::{
    source::fixture::write_parquet,
    split::spacy::{SpacyComponents, SpacyOptions, SpacyPool},
};

use serde_json::json;

use crate::util::{
    Output, SampleInputs, keyed_recipe, pipeline, reference_recipe, repo, run, snapshot, spacy_args,
};

/// Articles of a few paragraphs each, headings and lists among them: `n` of them fill
/// `n / 1024` chunks of the reader (one batch of the parquet file each).
fn articles(n: usize) -> Vec<String> {
    let base = fs::read_to_string(repo().join("tests/fixtures/corpus/wikipedia.txt")).unwrap();
    let paragraphs: Vec<&str> = base
        .lines()
        .filter(|l| !l.starts_with("###") && l.len() > 30)
        .collect();
    (0..n)
        .map(|i| {
            let a = paragraphs[i % paragraphs.len()];
            let b = paragraphs[(i * 7 + 3) % paragraphs.len()];
            format!("Part {i}\n\n{a}\n{b}")
        })
        .collect()
}

struct Corpus {
    fx: SampleInputs,
    wiki: PathBuf,
}

fn corpus(n: usize) -> Corpus {
    corpus_files(&[n])
}

/// Wikipedia as files of `sizes` articles (`many/wiki-I.parquet`; the glob in `wiki`).
fn corpus_files(sizes: &[usize]) -> Corpus {
    let fx = SampleInputs::new();
    let mut texts = articles(sizes.iter().sum()).into_iter();
    for (i, &size) in sizes.iter().enumerate() {
        let file: Vec<String> = texts.by_ref().take(size).collect();
        let column: ArrayRef = Arc::new(StringArray::from(file));
        write_parquet(
            &fx.path(&format!("many/wiki-{i}.parquet")),
            vec![("text", column)],
        )
        .unwrap();
    }
    let wiki = fx.path("many/wiki-*.parquet");
    Corpus { fx, wiki }
}

impl Corpus {
    fn prepare(&self, out: &str, extra: &[&str], spacy: &[String]) -> Command {
        let mut command = pipeline();
        command
            .args(["--quiet", "-j", "2", "prepare", "--recipe"])
            .arg(reference_recipe())
            .arg("--out")
            .arg(self.fx.path(out))
            .arg("--wiki")
            .arg(&self.wiki)
            .arg("--books")
            .arg(self.fx.books())
            .args(spacy)
            .args(extra);
        command
    }

    /// `prepare --parts-status` of `out` (no spaCy flags: the parts' setup is taken),
    /// which must exit `code`: its JSON.
    #[track_caller]
    fn parts_status(&self, out: &str, code: i32) -> serde_json::Value {
        let status = run(&mut self.prepare(out, &["--parts-status"], &[])).expect_code(code);
        serde_json::from_str(&status.stdout).unwrap_or_else(|e| panic!("{e}\n{}", status.dump()))
    }

    fn store_json(&self, out: &str) -> String {
        fs::read_to_string(self.fx.path(out).join("store.json")).unwrap()
    }

    fn chunk_files(&self, out: &str) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let rows = self.fx.path(out).join("rows");
        let mut stack = vec![rows];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.to_string_lossy().ends_with(".rows.zst") {
                    found.push(path);
                }
            }
        }
        found.sort();
        found
    }
}

/// The shard hashes of a store: what must not depend on how it was made.
fn shards_of(store_json: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(store_json).unwrap();
    v["shards"].clone()
}

#[test]
fn the_fast_components_split_as_the_whole_model() {
    let Some(spacy) = spacy_args() else { return };
    let mut texts = articles(40);
    texts.extend(
        fs::read_to_string(repo().join("tests/fixtures/corpus/wikipedia.txt"))
            .unwrap()
            .split("###")
            .map(str::to_string),
    );
    // Web text with gold paragraphs, when the developers' shared data is at hand.
    let ewt = repo().join("../shared/data/bench/en_ewt-ud-dev.conllu");
    if let Ok(conllu) = fs::read_to_string(&ewt) {
        let paragraphs = earlyberts_pipeline::split::eval::read_conllu(&conllu);
        texts.extend(paragraphs.iter().take(300).map(|p| p.sentences.join(" ")));
    }
    let options = |components| SpacyOptions {
        python: spacy[1].clone(),
        model: spacy[3].clone(),
        components,
        workers: 2,
        ..SpacyOptions::default()
    };
    let name = |_: usize, d: usize| format!("document {d}");
    let batches: Vec<&[String]> = texts.chunks(64).collect();
    let split = |components| {
        let pool = SpacyPool::start(&options(components)).unwrap();
        (pool.split(&batches, &name).unwrap(), pool.info().clone())
    };
    let (full, full_info) = split(SpacyComponents::Full);
    let (fast, fast_info) = split(SpacyComponents::Fast);
    assert_eq!(fast_info.components, ["tok2vec", "parser"]);
    assert!(full_info.components.len() > 2, "{:?}", full_info.components);
    assert_eq!(full, fast, "the fast components split differently");
    let sentences: usize = full.iter().flatten().map(Vec::len).sum();
    eprintln!(
        "fast = full on {} documents, {sentences} sentences",
        texts.len()
    );
}

/// A `prepare` killed with SIGKILL: its workers, which it cannot tell to stop, see their
/// parent gone and exit (they finished their batch as orphans, about 25 s, before); the
/// next run keeps the chunks it finished.
#[test]
fn a_killed_prepare_takes_its_workers_and_resumes_from_its_finished_chunks() {
    let Some(spacy) = spacy_args() else { return };
    let c = corpus(2500);
    run(&mut c.prepare("whole", &[], &spacy)).expect_code(0);
    let whole = c.store_json("whole");
    assert_eq!(
        c.chunk_files("whole").len(),
        3,
        "2,500 articles are 3 chunks"
    );
    // Kill the second run once its first chunk is on disk: both workers are splitting.
    let mut child = c
        .prepare("killed", &[], &spacy)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while c.chunk_files("killed").is_empty() && started.elapsed() < Duration::from_secs(300) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let workers = children_of(child.id());
    assert_eq!(workers.len(), 2, "two workers at -j 2: {workers:?}");
    child.kill().unwrap();
    child.wait().unwrap();
    let gone_after = wait_for_exit(&workers, Duration::from_secs(20));
    assert!(
        gone_after < Duration::from_secs(5),
        "workers took {gone_after:?} to exit"
    );
    eprintln!("workers gone {gone_after:?} after their pipeline was killed");
    let done = c.chunk_files("killed");
    assert!(!done.is_empty() && done.len() < 3, "{done:?}");
    let before: Vec<_> = done
        .iter()
        .map(|p| fs::metadata(p).unwrap().modified().unwrap())
        .collect();
    run(&mut c.prepare("killed", &[], &spacy)).expect_code(0);
    let after: Vec<_> = done
        .iter()
        .map(|p| fs::metadata(p).unwrap().modified().unwrap())
        .collect();
    assert_eq!(before, after, "finished chunks are kept, not split again");
    assert_eq!(shards_of(&c.store_json("killed")), shards_of(&whole));
    assert_eq!(c.store_json("killed"), whole);
}

#[test]
fn parts_run_apart_assemble_into_the_one_process_store() {
    let Some(spacy) = spacy_args() else { return };
    // Three chunks in two files: dealt across the inputs, three parts get one chunk each
    // (dealt per file, part 2 had none and part 0 two).
    let c = corpus_files(&[2048, 700]);
    run(&mut c.prepare("one", &[], &spacy)).expect_code(0);
    // No part has run: every chunk is missing, owned by no part.
    let status = c.parts_status("parts", 1);
    assert_eq!(status["parts"], json!(null), "{status}");
    assert_eq!(
        (&status["chunks"], &status["chunks_missing"]),
        (&json!(3), &json!(3))
    );
    assert_eq!(status["parts_missing"], json!([]), "{status}");
    let part = |k: &str| {
        c.prepare("parts", &["--part", k], &spacy)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Two parts at once, as two machines sharing the store directory would run them.
    for (k, child) in [("0/3", part("0/3")), ("1/3", part("1/3"))] {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "part {k}: 1 chunk, 1 split now, 0 were done already"
            )),
            "{stderr}"
        );
    }
    assert_eq!(c.chunk_files("parts").len(), 2);
    // Where the work stands, for scripts: part 2's chunk is missing, in the parts' setup.
    let status = c.parts_status("parts", 1);
    assert_eq!(status["parts"], 3, "{status}");
    assert_eq!(status["setup"]["loaded"], json!(spacy[3]), "{status}");
    assert_eq!(
        (&status["chunks"], &status["chunks_missing"]),
        (&json!(3), &json!(1))
    );
    assert_eq!(status["parts_missing"], json!([2]), "{status}");
    assert!(
        status["core_hours_missing"].as_f64().unwrap() > 0.0,
        "{status}"
    );
    assert_eq!(status["complete"], false, "{status}");
    // With part 2 missing, the assembly refuses, saying which part and what it costs: it
    // never starts spaCy's work on its own. It needs no spaCy flags (the parts' are kept).
    let refused = run(&mut c.prepare("parts", &[], &[])).expect_code(2);
    assert_eq!(refused.stderr.lines().count(), 1, "{}", refused.dump());
    for needle in [
        "1 of 3 chunks",
        "(part 2/3)",
        "core-hours",
        "--split-missing",
    ] {
        assert!(
            refused.stderr.contains(needle),
            "{needle}: {}",
            refused.dump()
        );
    }
    assert!(!c.fx.path("parts/store.json").exists());
    // A part of another N would leave the assembly naming the wrong parts.
    let other_n = run(&mut c.prepare("parts", &["--part", "0/2"], &spacy)).expect_code(2);
    assert!(
        other_n.stderr.contains("records parts of N = 3"),
        "{}",
        other_n.dump()
    );
    // A part run again does nothing twice; the missing one runs.
    let again = run(&mut c.prepare("parts", &["--part", "1/3"], &spacy)).expect_code(0);
    assert!(
        again.stderr.contains("0 split now, 1 were done already"),
        "{}",
        again.dump()
    );
    run(&mut c.prepare("parts", &["--part", "2/3"], &spacy)).expect_code(0);
    let status = c.parts_status("parts", 0);
    assert_eq!(status["chunks_missing"], 0, "{status}");
    assert_eq!(status["parts_missing"], json!([]), "{status}");
    assert_eq!(status["core_hours_missing"], 0.0, "{status}");
    assert_eq!(status["complete"], true, "{status}");
    // With every chunk there, the assembly runs no Python: one that cannot run proves it.
    run(&mut c.prepare(
        "parts",
        &[],
        &["--python".into(), "/nonexistent/python".into()],
    ))
    .expect_code(0);
    // `make data` after the assembly: the build takes the store as it is, no spaCy flags,
    // no Python.
    let mut build = pipeline();
    build
        .args(["--quiet", "build", "--recipe"])
        .arg(reference_recipe())
        .args(["--seed", "1", "--out"])
        .arg(c.fx.path("build"))
        .arg("--store")
        .arg(c.fx.path("parts"))
        .arg("--wiki")
        .arg(&c.wiki)
        .arg("--books")
        .arg(c.fx.books())
        .args(["--python", "/nonexistent/python"]);
    run(&mut build).expect_code(0);
    // Every file of the store is the one-process run's, but the parts' own record.
    let strip =
        |out: &str| snapshot(&c.fx.path(out)).replace(c.fx.path(out).to_str().unwrap(), "STORE");
    let parts = strip("parts");
    let (record, assembled): (Vec<&str>, Vec<&str>) = parts
        .lines()
        .partition(|l| l.starts_with("STORE/rows/parts.json "));
    assert_eq!(record.len(), 1, "{parts}");
    assert_eq!(assembled.join("\n") + "\n", strip("one"));
}

/// `--parts-status` reads the store and the inputs' footers only: no spaCy, no store written.
/// It is an error where no spaCy runs, and beside --part.
#[test]
fn parts_status_runs_no_spacy() {
    let c = corpus(1500);
    let status = c.parts_status("store", 1);
    assert_eq!(status["parts"], json!(null), "{status}");
    assert_eq!(status["chunks"], 2, "{status}");
    assert_eq!(status["chunks_missing"], 2, "{status}");
    assert_eq!(status["setup"]["loaded"], "en_core_web_sm", "{status}");
    assert!(
        !c.fx.path("store").exists(),
        "a status wrote into the store"
    );
    let mut keyed = pipeline();
    keyed
        .args(["prepare", "--parts-status", "--recipe"])
        .arg(keyed_recipe())
        .arg("--out")
        .arg(c.fx.path("store"))
        .arg("--wiki")
        .arg(&c.wiki)
        .arg("--books")
        .arg(c.fx.books());
    run(&mut keyed).expect_code(2).expect_output("run no spaCy");
    let both = run(&mut c.prepare("store", &["--parts-status", "--part", "0/2"], &[]));
    both.expect_code(2).expect_output("cannot be used with");
}

/// A stand-in interpreter that answers the protocol with garbage.
fn fake_python(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("python");
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    let mut perms = fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    fs::set_permissions(&path, perms).unwrap();
    path
}

#[test]
fn bad_spacy_setups_are_one_line_errors() {
    let fx = SampleInputs::new();
    let garbage = fake_python(&fx.path(""), "cat > /dev/null & echo 'Traceback: garbage'");
    let prepare = |extra: &[&str]| -> Output {
        let mut command = pipeline();
        command
            .args(["--quiet", "prepare", "--recipe"])
            .arg(reference_recipe())
            .arg("--out")
            .arg(fx.path("store"))
            .arg("--wiki")
            .arg(fx.wiki())
            .arg("--books")
            .arg(fx.books())
            .args(extra);
        run(&mut command)
    };
    let mut cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--python".into(), "/nonexistent/python3".into()],
            "cannot run '/nonexistent/python3'",
        ),
        (
            vec!["--python".into(), garbage.to_string_lossy().into()],
            "the worker stopped",
        ),
    ];
    if let Some(spacy) = spacy_args() {
        let python = spacy[1].clone();
        cases.push((
            vec![
                "--python".into(),
                python.clone(),
                "--spacy-model".into(),
                "xx_no_such_model".into(),
            ],
            "cannot load the spaCy model 'xx_no_such_model'",
        ));
        cases.push((
            vec![
                "--python".into(),
                python.clone(),
                "--spacy-model".into(),
                spacy[3].clone(),
            ],
            "with --allow-spacy-version",
        ));
        let mut long = spacy.clone();
        long.extend(["--spacy-max-length".into(), "100".into()]);
        cases.push((long, "over max_length 100"));
    }
    for (flags, needle) in cases {
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let out = prepare(&flags).expect_code(2);
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.dump());
        assert!(out.stderr.contains(needle), "{needle:?}\n{}", out.dump());
        assert!(!fx.path("store/store.json").exists());
    }
}

/// The processes whose parent is `pid` (from /proc).
fn children_of(pid: u32) -> Vec<u32> {
    let mut children = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Some(child) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if let Some((_, ppid)) = state_of(child)
            && ppid == pid
        {
            children.push(child);
        }
    }
    children
}

/// How long `pids` took to exit (a zombie has), failing after `limit`.
fn wait_for_exit(pids: &[u32], limit: Duration) -> Duration {
    let started = Instant::now();
    let alive = || {
        pids.iter()
            .filter(|&&p| state_of(p).is_some_and(|(state, _)| state != 'Z'))
            .count()
    };
    while alive() > 0 {
        assert!(
            started.elapsed() < limit,
            "{pids:?} outlived their parent by {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    started.elapsed()
}

/// A process's state letter and parent, or `None` once it is gone.
fn state_of(pid: u32) -> Option<(char, u32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
    let mut rest = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    Some((state, rest.next()?.parse().ok()?))
}
