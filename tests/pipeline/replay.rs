//! `trainer replay` against the real thing: a small BERT trained by PyTorch + `transformers`
//! as the reference trains (scripts/replay_reference.py; committed fixture in
//! trainer/tests/fixtures/replay) on the reference build of the sample corpus, seed 1,
//! history `fresh`, 10 steps of 12 at micro-batch 4, at the reference's own rate and
//! warm-up. The replay must pick that build out of the other histories, another seed and
//! the keyed recipe, and that micro-batch size out of four; and `make which-history` must
//! get there from a (fake) Hub.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use earlyberts_format::sha256_hex;
use serde_json::Value;

use crate::{
    server::Server,
    util::{Output, SampleInputs, keyed_recipe, pipeline, reference_recipe, repo, run},
};

const STEPS: u64 = 10;
const BATCH: u64 = 12;
/// The micro-batch size of the PyTorch run (reference.json says so too).
const REFERENCE_MICRO_BATCH: u64 = 4;

fn fixture() -> PathBuf {
    repo().join("trainer/tests/fixtures/replay")
}

/// The Wikipedia rows spaCy made of the sample corpus (the reference's own sentence
/// cache, so the reference builds need no spaCy here).
fn spacy_rows() -> PathBuf {
    repo().join("tests/fixtures/reference/sample/spacy-wiki-sentences.csv")
}

/// The `trainer` binary, which `cargo test --workspace` builds beside `pipeline` (cargo
/// hands a test only its own package's binaries).
pub fn trainer() -> Command {
    let path = Path::new(env!("CARGO_BIN_EXE_pipeline"))
        .with_file_name(format!("trainer{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} is missing: run these tests with `cargo test --workspace`",
        path.display()
    );
    Command::new(path)
}

/// The candidates: the build the reference run trained on and the wrong ones.
struct Candidates {
    inputs: SampleInputs,
    names: Vec<&'static str>,
}

impl Candidates {
    fn build() -> Candidates {
        let inputs = SampleInputs::new();
        let limit = (STEPS * BATCH).to_string();
        let reference = |seed: u64, history: &str, out: &str| {
            let mut command = pipeline();
            command
                .args(["build", "--recipe"])
                .arg(reference_recipe())
                .args(["--seed", &seed.to_string(), "--history", history])
                .arg("--out")
                .arg(inputs.path(out))
                .arg("--sentences")
                .arg(spacy_rows())
                .arg("--books")
                .arg(inputs.books())
                .args(["--limit-examples", &limit, "-q"]);
            run(&mut command).expect_code(0);
        };
        reference(1, "fresh", "fresh-seed1");
        reference(1, "resumed", "resumed-seed1");
        // The first 60 examples (5 steps) are fresh's; the rest shuffled.
        reference(1, "continued:60", "continued-60-seed1");
        reference(2, "fresh", "fresh-seed2");
        let mut keyed = inputs.build_command(&keyed_recipe(), 1, "keyed-seed1");
        run(keyed.args(["--limit-examples", &limit, "-q"])).expect_code(0);
        Candidates {
            inputs,
            names: vec![
                "fresh-seed1",
                "resumed-seed1",
                "continued-60-seed1",
                "fresh-seed2",
                "keyed-seed1",
            ],
        }
    }

    /// `trainer replay` of every candidate against `target`, with `extra` flags.
    fn replay(&self, target: &Path, extra: &[&str]) -> Output {
        let mut command = trainer();
        command
            .arg("replay")
            .arg("--init")
            .arg(fixture().join("init"))
            .arg("--target")
            .arg(target)
            .args(["--steps", &STEPS.to_string()])
            // The reference run trained the keyed builds (made for 256) at 12 a step.
            .args(["--batch-size", &BATCH.to_string(), "--override-batch-size"])
            .args(["--device", "cpu", "-q"]);
        for name in &self.names {
            command.arg("--build").arg(self.inputs.path(name));
        }
        run(command.args(extra))
    }
}

/// The JSON lines of a replay, by (candidate name, micro-batch).
fn results(out: &Output) -> Vec<(String, u64, Value)> {
    out.stdout
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            let build = Path::new(v["build"].as_str().unwrap());
            let name = build.file_name().unwrap().to_str().unwrap().to_string();
            (name, v["micro_batch"].as_u64().unwrap(), v)
        })
        .collect()
}

#[test]
fn replay_finds_the_build_and_the_micro_batch_of_a_pytorch_run() {
    let reference: Value =
        serde_json::from_str(&fs::read_to_string(fixture().join("reference.json")).unwrap())
            .unwrap();
    assert_eq!(reference["micro_batch"], REFERENCE_MICRO_BATCH);
    assert_eq!(
        (
            reference["steps"].as_u64(),
            reference["batch_size"].as_u64()
        ),
        (Some(STEPS), Some(BATCH))
    );
    let candidates = Candidates::build();
    let manifest: Value = serde_json::from_str(&candidates.inputs.manifest("fresh-seed1")).unwrap();
    assert_eq!(manifest["seed"], reference["build"]["seed"]);

    let out = candidates
        .replay(
            &fixture().join("target"),
            &["--micro-batch", "12,6,4,3", "--format", "json"],
        )
        .expect_code(0);
    let results = results(&out);
    assert_eq!(results.len(), 5 * 4, "{}", out.dump());
    let mut best_wrong_data = f64::INFINITY;
    let mut other_micro_batches = (f64::INFINITY, 0.0f64);
    let mut right = f64::NAN;
    for (name, micro_batch, v) in &results {
        let error = v["relative_error"].as_f64().unwrap();
        eprintln!(
            "{name:>20} micro-batch {micro_batch:>2}: relative error {error:.3e}, 1 - cosine {:.3e}, sign agreement {:.4}, {}",
            1.0 - v["cosine"].as_f64().unwrap(),
            v["sign_agreement"].as_f64().unwrap(),
            v["verdict"]
        );
        let expected = match (name.as_str(), *micro_batch) {
            ("fresh-seed1", REFERENCE_MICRO_BATCH) => {
                right = error;
                "exact"
            }
            ("fresh-seed1", _) => {
                other_micro_batches = (
                    other_micro_batches.0.min(error),
                    other_micro_batches.1.max(error),
                );
                "match"
            }
            _ => {
                best_wrong_data = best_wrong_data.min(error);
                "no match"
            }
        };
        assert_eq!(v["verdict"], expected, "{name} at {micro_batch}: {v}");
        assert_eq!(v["per_tensor"].as_array().unwrap().len(), 46);
        assert!(v["left_out"].as_array().unwrap().is_empty());
    }
    let (nearest, farthest) = other_micro_batches;
    eprintln!(
        "margins: the right build at the right micro-batch {right:.3e}; at the others {nearest:.3e} to {farthest:.3e} (×{:.0} to ×{:.0}); other data from {best_wrong_data:.3e} (×{:.1} the farthest right-data replay)",
        nearest / right,
        farthest / right,
        best_wrong_data / farthest
    );
    // Two rounds: every build once at 12, then only the matching one at 6, 4 and 3, with
    // the same errors as when every build ran at every size.
    let two_rounds = candidates
        .replay(
            &fixture().join("target"),
            &[
                "--micro-batch",
                "12,6,4,3",
                "--micro-batch-after-match",
                "--format",
                "json",
            ],
        )
        .expect_code(0);
    let fewer = self::results(&two_rounds);
    let replayed: Vec<(&str, u64)> = fewer.iter().map(|(n, m, _)| (n.as_str(), *m)).collect();
    let mut expected: Vec<(&str, u64)> = candidates.names.iter().map(|n| (*n, 12)).collect();
    expected.extend([("fresh-seed1", 6), ("fresh-seed1", 4), ("fresh-seed1", 3)]);
    assert_eq!(sorted(replayed), sorted(expected), "{}", two_rounds.dump());
    for (name, micro_batch, v) in &fewer {
        let all = results
            .iter()
            .find(|r| (&r.0, r.1) == (name, *micro_batch))
            .unwrap();
        assert_eq!(
            v["relative_error"], all.2["relative_error"],
            "{name} at {micro_batch}"
        );
    }
    // The verdict line of the text output names the build and the micro-batch size.
    let text = candidates
        .replay(&fixture().join("target"), &["--micro-batch", "4"])
        .expect_code(0);
    let verdict = format!("made the target (exact at micro-batch {REFERENCE_MICRO_BATCH},");
    assert!(
        text.stdout.lines().any(|l| l.starts_with("verdict: ")
            && l.contains("fresh-seed1")
            && l.contains(&verdict)),
        "{}",
        text.dump()
    );
}

#[test]
fn replay_compares_a_checkpoint_without_heads_on_what_it_has() {
    let candidates = Candidates::build();
    // A `BertModel` checkpoint, as `AutoModel.save_pretrained` writes one: no `bert.`
    // prefix, no pretraining heads.
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("bert-model");
    write_without_heads(&fixture().join("target"), &target);
    let out = candidates
        .replay(&target, &["--micro-batch", "4", "--format", "json"])
        .expect_code(0);
    let results = results(&out);
    for (name, _, v) in &results {
        let left_out: Vec<&str> = v["left_out"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        assert_eq!(left_out.len(), 7, "{left_out:?}");
        assert!(
            left_out.iter().all(|n| n.starts_with("cls.")),
            "{left_out:?}"
        );
        assert_eq!(v["per_tensor"].as_array().unwrap().len(), 39);
        let expected = if name == "fresh-seed1" {
            "exact"
        } else {
            "no match"
        };
        assert_eq!(v["verdict"], expected, "{name}: {v}");
    }
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

/// Copies a `BertForPreTraining` checkpoint as a `BertModel` one.
fn write_without_heads(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    let bytes = fs::read(from.join("model.safetensors")).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let kept: Vec<(String, safetensors::tensor::TensorView)> = file
        .tensors()
        .into_iter()
        .filter_map(|(name, view)| name.strip_prefix("bert.").map(|n| (n.to_string(), view)))
        .collect();
    fs::write(
        to.join("model.safetensors"),
        safetensors::serialize(kept, None).unwrap(),
    )
    .unwrap();
    let mut config: Value =
        serde_json::from_str(&fs::read_to_string(from.join("config.json")).unwrap()).unwrap();
    config["architectures"] = serde_json::json!(["BertModel"]);
    fs::write(to.join("config.json"), config.to_string()).unwrap();
}

/// Serves Hub repository `repo` at `revision` (commit `sha`) with `files`, as the Hub's
/// API describes them: files over 1 KiB through LFS (sha256), smaller ones by git blob sha1.
fn serve_hub_repo(
    server: &Server,
    repo: &str,
    revision: &str,
    sha: &str,
    files: &[(&str, Vec<u8>)],
) {
    server.file(
        &format!("/hub/api/models/{repo}/revision/{revision}"),
        format!("{{\"sha\": \"{sha}\"}}").as_bytes(),
    );
    let tree: Vec<Value> = files
        .iter()
        .map(|(name, bytes)| {
            server.file(&format!("/hub/{repo}/resolve/{sha}/{name}"), bytes);
            match bytes.len() > 1024 {
                true => {
                    serde_json::json!({"type": "file", "path": name, "size": 134, "oid": "pointer",
                    "lfs": {"oid": sha256_hex(bytes), "size": bytes.len()}})
                }
                false => serde_json::json!({"type": "file", "path": name, "size": bytes.len(),
                    "oid": git_blob_sha1(bytes)}),
            }
        })
        .chain([serde_json::json!({"type": "directory", "path": "runs", "size": 0, "oid": "d"})])
        .collect();
    server.file(
        &format!("/hub/api/models/{repo}/tree/{sha}/"),
        serde_json::to_vec(&tree).unwrap().as_slice(),
    );
}

fn git_blob_sha1(bytes: &[u8]) -> String {
    use sha1::Digest;
    let mut h = sha1::Sha1::new();
    h.update(format!("blob {}\0", bytes.len()));
    h.update(bytes);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn make_which_history_end_to_end_against_a_fake_hub() {
    if Command::new("make").arg("--version").output().is_err() {
        eprintln!("skipping: make is not installed");
        return;
    }
    let server = Server::start();
    let read = |rel: &str| fs::read(fixture().join(rel)).unwrap();
    // MultiBERTs step 0 of every seed (the group holds all five), then EarlyBERTs seed 1.
    for seed in 0..5 {
        let files = [
            ("config.json", read("init/config.json")),
            ("pytorch_model.bin", read("init/pytorch_model.bin")),
            (
                "vocab.txt",
                fs::read(repo().join("manifests/vocab/bert-base-uncased-vocab.txt")).unwrap(),
            ),
        ];
        serve_hub_repo(
            &server,
            &format!("google/multiberts-seed_{seed}-step_0k"),
            "main",
            &format!("c0{seed}"),
            &files,
        );
    }
    // All 31 revisions of EarlyBERTs seed 1, one branch each: step10 is the PyTorch run's,
    // the others go on in its direction as far as the reference's rates carry them.
    for (step, weights) in suite_revisions() {
        let files = [
            ("config.json", read("target/config.json")),
            ("model.safetensors", weights),
            (
                "README.md",
                b"a model card the replay does not need\n".to_vec(),
            ),
        ];
        let (revision, sha) = (format!("step{step}"), format!("e{step}"));
        serve_hub_repo(
            &server,
            "personads/earlyberts-seed1",
            &revision,
            &sha,
            &files,
        );
    }
    let root = tempfile::tempdir().unwrap();
    let lock = root.path().join("sources.lock");
    let hub = format!("{}/hub", server.base);
    run(pipeline()
        .env("HF_ENDPOINT", &hub)
        .args([
            "fetch",
            "--lock",
            "--only",
            "multiberts,earlyberts-seed1,earlyberts-seed1-suite",
            "--sources",
        ])
        .arg(repo().join("manifests/sources.toml"))
        .arg("--lock-file")
        .arg(&lock))
    .expect_code(0)
    .expect_output("locked 77 files");
    let text = fs::read_to_string(&lock).unwrap();
    assert!(
        !text.contains("README.md") && text.contains("resolve/e10/model.safetensors"),
        "{text}"
    );

    let inputs = SampleInputs::new();
    let trainer_path = trainer().get_program().to_owned();
    let out = run(Command::new("make")
        .current_dir(repo())
        .env("HF_ENDPOINT", &hub)
        .env("EARLYBERTS_FETCH_BACKOFF_MS", "10")
        .arg("--no-print-directory")
        .arg("which-history")
        .arg(format!("DATA={}", root.path().join("data").display()))
        .arg(format!("LOCK={}", lock.display()))
        .args([
            "SEED=1",
            "STEP=10",
            "WHICH_BATCH=12",
            "MICRO_BATCHES=12,4",
            "HISTORIES=fresh resumed",
            "AUDIT=1",
        ])
        .arg(format!("WIKI_INPUT=--sentences {}", spacy_rows().display()))
        .arg(format!("BOOKS_INPUT=--books {}", inputs.books().display()))
        .arg("REPLAY_FLAGS=--device cpu -q")
        .arg("BUILD_FLAGS=-q")
        .arg(format!("PIPELINE={}", env!("CARGO_BIN_EXE_pipeline")))
        .arg(format!("TRAINER={}", trainer_path.to_str().unwrap()))
        .args(["BUILD_PIPELINE=true", "BUILD_TRAINER=true"]));
    let out = out.expect_code(0);
    assert!(
        out.stdout.lines().any(|l| l.starts_with("verdict: ")
            && l.contains("seed1-fresh made the target (exact at micro-batch 4,")),
        "{}",
        out.dump()
    );
    assert!(
        root.path()
            .join("data/sources/earlyberts/seed1/step10/model.safetensors")
            .is_file()
    );
    // The audit of the 31 revisions ran first and found nothing; two rounds replayed each
    // history once at 12, then only the matching one at 4.
    assert!(
        out.stdout.contains("31 revisions; initial weights"),
        "{}",
        out.dump()
    );
    assert!(
        out.stdout.contains("verdict: no findings"),
        "{}",
        out.dump()
    );
    let replays = out
        .stderr
        .lines()
        .filter(|l| l.contains(" at micro-batch "))
        .count();
    assert_eq!(replays, 3, "{}", out.dump());
    // The same revisions with step300 serving step40000's weights: found.
    let fetched = root.path().join("data/sources/earlyberts/seed1");
    let faulty = root.path().join("faulty");
    for (step, _) in suite_revisions() {
        let from = fetched.join(format!("step{}", if step == 300 { 40_000 } else { step }));
        let to = faulty.join(format!("step{step}"));
        fs::create_dir_all(&to).unwrap();
        for name in ["config.json", "model.safetensors"] {
            fs::copy(from.join(name), to.join(name)).unwrap();
        }
    }
    let init = root.path().join("data/sources/multiberts/seed_1-step_0k");
    let out = run(trainer()
        .arg("suite")
        .arg("--init")
        .arg(&init)
        .arg("--revisions")
        .arg(&faulty));
    let out = out.expect_code(1);
    for finding in [
        "finding: step300 moved a weight by",
        "finding: step400 is no farther from the initial weights than step300",
        "finding: step40000 holds the same weights as step300",
    ] {
        assert!(out.stdout.contains(finding), "{finding}\n{}", out.dump());
    }
}

/// The EarlyBERTs revisions of a run that goes on in the direction of the PyTorch run's
/// first 10 steps: step `s` is `w₁₀ + (w₁₀ − w₀)·(L(s) − L(10))/L(10)`, `L(s)` the sum of
/// the reference's rates of steps 1…s, so each interval moves each weight as far as its
/// rates carried the first 10 steps.
fn suite_revisions() -> Vec<(u64, Vec<u8>)> {
    use safetensors::{SafeTensors, tensor::TensorView};
    let init = fs::read(fixture().join("init.safetensors")).unwrap();
    let target = fs::read(fixture().join("target/model.safetensors")).unwrap();
    let (init, target) = (
        SafeTensors::deserialize(&init).unwrap(),
        SafeTensors::deserialize(&target).unwrap(),
    );
    let floats = |bytes: &[u8]| -> Vec<f64> {
        bytes
            .chunks_exact(4)
            .map(|b| f64::from(f32::from_le_bytes(b.try_into().unwrap())))
            .collect()
    };
    let rates = reference_rate_sums(40_000);
    let steps = earlyberts_format::training::checkpoint_steps();
    steps
        .into_iter()
        .map(|step| {
            if step == 10 {
                return (
                    step,
                    fs::read(fixture().join("target/model.safetensors")).unwrap(),
                );
            }
            let scale = (rates[step as usize] - rates[10]) / rates[10];
            let tensors: Vec<(String, Vec<usize>, Vec<u8>)> = target
                .tensors()
                .into_iter()
                .map(|(name, view)| {
                    let (w10, w0) = (
                        floats(view.data()),
                        floats(init.tensor(&name).unwrap().data()),
                    );
                    let bytes = w10
                        .iter()
                        .zip(&w0)
                        .flat_map(|(a, b)| ((a + (a - b) * scale) as f32).to_le_bytes())
                        .collect();
                    (name, view.shape().to_vec(), bytes)
                })
                .collect();
            let views = tensors.iter().map(|(name, shape, bytes)| {
                let view = TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes).unwrap();
                (name.clone(), view)
            });
            (step, safetensors::serialize(views, None).unwrap())
        })
        .collect()
}

/// `sums[s]`: the reference's learning rates of optimizer steps 1…s added up (step k runs
/// at schedule position k − 1: linear warm-up, then linear decay).
fn reference_rate_sums(steps: u64) -> Vec<f64> {
    let r = earlyberts_format::training::REFERENCE_TRAINING;
    let rate = |p: u64| match p < r.warmup_steps {
        true => r.peak_lr * p as f64 / r.warmup_steps as f64,
        false => {
            let left = 1.0 - (p - r.warmup_steps) as f64 / (r.decay_steps - r.warmup_steps) as f64;
            (r.peak_lr - r.end_lr) * left + r.end_lr
        }
    };
    let mut sums = vec![0.0];
    for k in 1..=steps {
        sums.push(sums[k as usize - 1] + rate(k - 1));
    }
    sums
}
