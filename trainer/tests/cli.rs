//! The `trainer` binary end to end on CPU: resume is bit-identical to an uninterrupted run
//! (with and without dropout), the default paths of `trainer run --seed N`, publish, plot,
//! and one-line errors for bad input.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use earlyberts_format::{BuildInfo, Vocab, sha256_hex};
use earlyberts_trainer::{checkpoint::save_checkpoint, model::BertConfig};

use crate::common;

/// Runs the trainer from the workspace root, where `cubecl.toml` keeps a GPU backend's
/// autotune results in `target/cubecl`: every test that runs on a GPU (wgpu), and every
/// later run in this clone, reuses one cache instead of tuning each shape again.
pub(crate) fn trainer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .expect("the trainer runs")
}

pub(crate) fn ok(args: &[&str]) -> String {
    let out = trainer(args);
    assert!(
        out.status.success(),
        "trainer {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `args`, expects exit code 2 and a one-line `trainer: …` error containing `needle`.
fn refused(args: &[&str], needle: &str) {
    let out = trainer(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{args:?}: one line expected, got {stderr}");
    assert!(
        lines[0].starts_with("trainer: ") && lines[0].contains(needle),
        "{args:?}: '{needle}' not in {stderr}"
    );
}

pub(crate) fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

pub(crate) struct Fixture {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub build: PathBuf,
}

pub(crate) fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let build = root.join("build");
    common::build(&build, 40);
    Fixture {
        _dir: dir,
        root,
        build,
    }
}

/// `trainer run` on the tiny config from a random init; extra arguments appended.
pub(crate) fn run_args<'a>(f: &'a Fixture, out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        "--seed",
        "3",
        "--init",
        "random",
        "--config",
        "tiny",
        "--build",
        s(&f.build),
        "--batch-size",
        "8",
        "--micro-batch",
        "4",
        "--out",
        s(out),
        "--device",
        "cpu",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    args
}

/// `args` with `flag`'s value replaced (or the flag removed when `value` is None).
pub(crate) fn with<'a>(mut args: Vec<&'a str>, flag: &str, value: Option<&'a str>) -> Vec<&'a str> {
    let i = args
        .iter()
        .position(|a| *a == flag)
        .expect("the flag is there");
    match value {
        Some(v) => args[i + 1] = v,
        None => {
            args.drain(i..i + 2);
        }
    }
    args
}

/// `trainer run --resume FROM` on the fixture's build to `max_steps`, on CPU; extra
/// arguments appended.
fn resume(f: &Fixture, from: &Path, max_steps: u64, extra: &[&str]) -> String {
    resume_on(f, "cpu", from, max_steps, extra)
}

/// [`resume`] on `device`.
pub(crate) fn resume_on(
    f: &Fixture,
    device: &str,
    from: &Path,
    max_steps: u64,
    extra: &[&str],
) -> String {
    let max_steps = max_steps.to_string();
    let mut args = vec![
        "run",
        "--resume",
        s(from),
        "--build",
        s(&f.build),
        "--max-steps",
        &max_steps,
        "--device",
        device,
        "--quiet",
    ];
    args.extend_from_slice(extra);
    ok(&args)
}

pub(crate) fn losses(stdout: &str) -> Vec<(u64, u64)> {
    stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["step"].as_u64().unwrap(),
                v["loss"].as_f64().unwrap().to_bits(),
            )
        })
        .collect()
}

pub(crate) fn assert_same_files(a: &Path, b: &Path) {
    for name in ["model.safetensors", "optimizer.bin"] {
        assert!(
            fs::read(a.join(name)).unwrap() == fs::read(b.join(name)).unwrap(),
            "{name} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

#[test]
fn resume_is_bit_identical_to_an_uninterrupted_run() {
    let f = fixture();
    for dropout in ["0", "0.1"] {
        let whole = f.root.join(format!("whole-{dropout}"));
        let first = f.root.join(format!("first-{dropout}"));
        let d = ["--dropout", dropout];
        let all = ok(&run_args(
            &f,
            &whole,
            &[&d[..], &["--max-steps", "7", "--checkpoints", "3"]].concat(),
        ));
        let again = ok(&run_args(
            &f,
            &f.root.join(format!("again-{dropout}")),
            &[&d[..], &["--max-steps", "7", "--checkpoints", "3"]].concat(),
        ));
        assert_eq!(losses(&all), losses(&again), "two runs must be identical");
        assert_same_files(
            &whole.join("seed3/step7"),
            &f.root.join(format!("again-{dropout}/seed3/step7")),
        );
        // Stop at 3, resume to 7 (5 steps: the cursor wraps at 40 examples).
        ok(&run_args(
            &f,
            &first,
            &[&d[..], &["--max-steps", "3"]].concat(),
        ));
        let step3 = first.join("seed3/step3");
        assert_same_files(&whole.join("seed3/step3"), &step3);
        let resumed = resume(&f, &step3, 7, &[]);
        assert_eq!(
            losses(&resumed),
            losses(&all)[3..].to_vec(),
            "dropout {dropout}"
        );
        assert_same_files(&whole.join("seed3/step7"), &first.join("seed3/step7"));
        // The run's log holds each step once.
        let log = fs::read_to_string(first.join("seed3/log.jsonl")).unwrap();
        assert_eq!(losses(&log), losses(&all));
        // Resuming a finished run has nothing to do.
        let again = resume(&f, &first.join("seed3"), 7, &[]);
        assert!(again.is_empty());
    }
}

#[test]
fn default_paths_use_the_multiberts_checkpoint_and_the_seed_build() {
    let f = fixture();
    let data = f.root.join("data");
    fs::create_dir_all(data.join("builds")).unwrap();
    fs::rename(&f.build, data.join("builds/wikibooks-earlyberts-seed0")).unwrap();
    let init = data.join("sources/multiberts/seed_0-step_0k");
    fs::create_dir_all(init.parent().unwrap()).unwrap();
    let config = BertConfig::tiny();
    let model = config.init::<burn::backend::Flex>(11, &Default::default());
    save_checkpoint(&init, &model, &config, &Vocab::bert_base_uncased()).unwrap();
    let out = f.root.join("runs");
    let args = [
        "run",
        "--seed",
        "0",
        "--data",
        s(&data),
        "--out",
        s(&out),
        "--batch-size",
        "4",
        "--override-batch-size",
        "--micro-batch",
        "2",
        "--max-steps",
        "2",
        "--device",
        "cpu",
        "--quiet",
    ];
    let stdout = ok(&args);
    assert_eq!(losses(&stdout).len(), 2);
    let state: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join("seed0/step2/trainer_state.json")).unwrap())
            .unwrap();
    assert_eq!(state["model"]["hidden_size"], 64, "config.json of the init");
    assert_eq!(state["next_example"], 8);
    // Another seed has no checkpoint: the error says what to do.
    let mut other = args.to_vec();
    other[2] = "7";
    refused(&other, "no MultiBERTs seed-7 checkpoint");
}

#[test]
fn checkpoints_hold_the_builds_own_vocabulary() {
    let f = fixture();
    let vocab_txt = |dir: &Path| fs::read(dir.join("vocab.txt")).unwrap();
    // The uncased build: its checkpoints hold the uncased vocabulary.
    let uncased = f.root.join("uncased");
    ok(&run_args(&f, &uncased, &["--max-steps", "1"]));
    assert!(vocab_txt(&uncased.join("seed3/step1")) == Vocab::bert_base_uncased().bytes());
    // A build of another vocabulary (as `pipeline build --vocab` makes): the uncased one
    // with ten tokens renamed, and no newline after the last line.
    let text = String::from_utf8(Vocab::bert_base_uncased().bytes().to_vec()).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for (i, line) in lines.iter_mut().enumerate().skip(2000).take(10) {
        *line = format!("custom-token-{i}");
    }
    let custom_bytes = lines.join("\n").into_bytes();
    let custom_file = f.root.join("custom-vocab.txt");
    fs::write(&custom_file, &custom_bytes).unwrap();
    let custom = Vocab::from_file(&custom_file).unwrap();
    let build = f.root.join("custom-build");
    let info = BuildInfo {
        vocab: custom.info(),
        ..common::info("custom")
    };
    let recorded = common::build_with(&build, 40, info)
        .manifest()
        .vocab
        .clone();
    assert_eq!(recorded.sha256, sha256_hex(&custom_bytes));
    assert_ne!(recorded.sha256, Vocab::bert_base_uncased().sha256());
    // Without the vocabulary at hand the run refuses to start, rather than write another.
    let out = f.root.join("custom-runs");
    let args = with(
        run_args(&f, &out, &["--max-steps", "1"]),
        "--build",
        Some(s(&build)),
    );
    let needle = format!("refers to the vocabulary with sha256 {}", recorded.sha256);
    refused(&args, &needle);
    refused(&args, "with --vocab FILE");
    assert!(!out.join("seed3/step1").exists());
    // Another vocabulary given is refused too.
    let uncased_file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../manifests/vocab/bert-base-uncased-vocab.txt");
    let mut wrong = args.clone();
    wrong.extend(["--vocab", s(&uncased_file)]);
    refused(&wrong, "but the ids refer to the vocabulary with sha256");
    // Given, it is each checkpoint's vocab.txt, byte for byte: the sha256 the build records.
    let mut given = args.clone();
    given.extend(["--vocab", s(&custom_file)]);
    ok(&given);
    let step1 = out.join("seed3/step1");
    assert!(
        vocab_txt(&step1) == custom_bytes,
        "step1/vocab.txt is not the build's"
    );
    assert_eq!(sha256_hex(&vocab_txt(&step1)), recorded.sha256);
    // Resumed without it, the run takes the checkpoint's (its sha256 is the build's).
    let resumed = [
        "run",
        "--resume",
        s(&step1),
        "--build",
        s(&build),
        "--max-steps",
        "2",
        "--device",
        "cpu",
        "--quiet",
    ];
    ok(&resumed);
    assert!(
        vocab_txt(&out.join("seed3/step2")) == custom_bytes,
        "step2/vocab.txt"
    );
}

#[test]
fn publish_makes_one_branch_per_step_and_plot_draws_the_run() {
    let f = fixture();
    let out = f.root.join("out");
    ok(&run_args(
        &f,
        &out,
        &["--max-steps", "4", "--checkpoints", "1,2"],
    ));
    let run = out.join("seed3");
    let repo = f.root.join("repo");
    let published = trainer(&["publish", s(&run), "--repo", s(&repo)]);
    assert!(published.status.success(), "{published:?}");
    let git = |args: &[&str]| {
        let o = Command::new("git")
            .arg("-C")
            .arg(&repo)
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{o:?}");
        String::from_utf8(o.stdout).unwrap()
    };
    let branches = git(&["branch", "--format=%(refname:short)"]);
    let mut branches: Vec<&str> = branches.lines().collect();
    branches.sort();
    assert_eq!(branches, ["main", "step1", "step2", "step4"]);
    let files = git(&["ls-tree", "--name-only", "step2"]);
    for name in [
        "README.md",
        "config.json",
        "model.safetensors",
        "vocab.txt",
        "trainer_state.json",
    ] {
        assert!(files.lines().any(|l| l == name), "{name} not on step2");
    }
    assert!(!files.contains("optimizer.bin"));
    let size = git(&["cat-file", "-s", "step2:model.safetensors"]);
    assert_eq!(
        size.trim().parse::<u64>().unwrap(),
        fs::metadata(run.join("step2/model.safetensors"))
            .unwrap()
            .len()
    );
    let card = fs::read_to_string(repo.join("README.md")).unwrap();
    assert!(card.contains("revision=\"step2\""), "{card}");
    assert_eq!(git(&["rev-parse", "main"]), git(&["rev-parse", "step4"]));
    // Same checkpoints → same commits.
    let again = f.root.join("repo2");
    assert!(
        trainer(&["publish", s(&run), "--repo", s(&again)])
            .status
            .success()
    );
    let head = |r: &Path| {
        Command::new("git")
            .arg("-C")
            .arg(r)
            .args(["rev-parse", "step4"])
            .output()
            .unwrap()
            .stdout
    };
    assert_eq!(head(&repo), head(&again));
    refused(&["publish", s(&run), "--repo", s(&repo)], "is not empty");

    let svg = f.root.join("curves.svg");
    assert!(
        trainer(&["plot", s(&run), "--out", s(&svg)])
            .status
            .success()
    );
    let text = fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") && text.contains("polyline") && text.contains("loss"));
}

#[test]
fn bad_input_gets_a_one_line_error() {
    let f = fixture();
    let out = f.root.join("out");
    let base = run_args(&f, &out, &[]);
    refused(
        &with(base.clone(), "--micro-batch", Some("3")),
        "--micro-batch 3 does not divide the batch size 8",
    );
    refused(
        &with(base.clone(), "--device", Some("cuda")),
        if cfg!(feature = "cuda") {
            "cuda:0: no usable device"
        } else {
            "built without CUDA"
        },
    );
    if !cfg!(feature = "wgpu") {
        refused(
            &with(base.clone(), "--device", Some("wgpu")),
            "built without wgpu; rebuild with",
        );
    }
    refused(
        &with(base.clone(), "--device", Some("tpu")),
        "is not cpu, cuda, cuda:N or wgpu",
    );
    // A batch size other than the build's is refused, unless asked for as such.
    let other_batch = with(base.clone(), "--batch-size", Some("4"));
    let refused_batch = with(other_batch.clone(), "--micro-batch", Some("2"));
    for needle in [
        "--batch-size: batch_size 4 differs from the 8 examples a step that",
        "drop the flag, or add --override-batch-size to train at 4 anyway",
    ] {
        refused(&refused_batch, needle);
    }
    let mut overridden = with(other_batch, "--micro-batch", Some("3"));
    overridden.push("--override-batch-size");
    refused(
        &overridden,
        "--micro-batch 3 does not divide the batch size 4",
    );
    refused(
        &run_args(&f, &out, &["--dropout", "1.5"]),
        "dropout 1.5 is not in [0, 1)",
    );
    refused(
        &run_args(&f, &out, &["--pad-multiple", "0"]),
        "--pad-multiple 0 is not in 1..=512",
    );
    refused(&["run", "--init", "random"], "--seed N is required");
    refused(
        &[
            "run",
            "--seed",
            "1",
            "--init",
            "random",
            "--data",
            s(&f.root.join("nowhere")),
        ],
        "is not a build (no manifest.json)",
    );
    // A checkpoint whose vocabulary does not match the build's.
    let parity = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parity/init");
    let args = with(base.clone(), "--init", Some(s(&parity)));
    // without --config, the checkpoint's config.json gives the architecture
    refused(&with(args, "--config", None), "the model's has 512");
    // A checkpoint missing a tensor.
    let broken = f.root.join("broken");
    let config = BertConfig::tiny();
    let model = config.init::<burn::backend::Flex>(1, &Default::default());
    save_checkpoint(&broken, &model, &config, &Vocab::bert_base_uncased()).unwrap();
    let mut tensors = earlyberts_trainer::checkpoint::to_hf(&model);
    tensors.remove("bert.encoder.layer.1.output.dense.bias");
    fs::write(
        broken.join("model.safetensors"),
        earlyberts_trainer::checkpoint::to_safetensors(&tensors).unwrap(),
    )
    .unwrap();
    let args = with(base.clone(), "--init", Some(s(&broken)));
    refused(&args, "no tensor 'bert.encoder.layer.1.output.dense.bias'");
    // A damaged build: one byte of a shard flipped.
    let damaged = f.root.join("damaged");
    copy_dir(&f.build, &damaged);
    let shard = damaged.join(earlyberts_format::shard_file_name(1));
    let mut bytes = fs::read(&shard).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    fs::write(&shard, &bytes).unwrap();
    refused(
        &with(base.clone(), "--build", Some(s(&damaged))),
        "does not verify",
    );
    // A damaged training state.
    ok(&run_args(&f, &out, &["--max-steps", "1"]));
    let step1 = out.join("seed3/step1");
    let mut optimizer = fs::read(step1.join("optimizer.bin")).unwrap();
    optimizer.truncate(optimizer.len() - 5);
    fs::write(step1.join("optimizer.bin"), optimizer).unwrap();
    refused(
        &["run", "--resume", s(&step1), "--build", s(&f.build)],
        "the checkpoint is damaged",
    );
    refused(
        &["run", "--resume", s(&f.build), "--build", s(&f.build)],
        "has no checkpoint directories",
    );
}

#[test]
fn replay_refuses_bad_input_with_one_line() {
    let f = fixture();
    let config = BertConfig::tiny();
    let vocab = Vocab::bert_base_uncased();
    let checkpoint = |name: &str, config: &BertConfig, seed| {
        let dir = f.root.join(name);
        let model = config.init::<burn::backend::Flex>(seed, &Default::default());
        save_checkpoint(&dir, &model, config, &vocab).unwrap();
        (dir, model)
    };
    let (init, _) = checkpoint("init", &config, 1);
    let (target, model) = checkpoint("target", &config, 2);
    // 4 steps of 8 unless `extra` says otherwise.
    let replay = |init: &Path, target: &Path, extra: &[&str]| -> Vec<String> {
        let mut args = vec!["replay", "--init", s(init), "--target", s(target)];
        if !extra.contains(&"--steps") {
            args.extend(["--steps", "4"]);
        }
        args.extend(["--batch-size", "8", "--build", s(&f.build), "-q"]);
        args.extend(extra);
        args.into_iter().map(String::from).collect()
    };
    let refuse = |args: Vec<String>, needle: &str| {
        refused(&args.iter().map(String::as_str).collect::<Vec<_>>(), needle)
    };
    // It runs on good input (exit 1: the target, another random model, matches no build).
    let out = trainer(
        &replay(&init, &target, &[])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("verdict: no candidate build made the target"),
        "{stdout}"
    );
    refuse(
        replay(&f.root.join("nowhere"), &target, &[]),
        "does not exist",
    );
    refuse(
        replay(&init, &f.root.join("nowhere"), &[]),
        "does not exist",
    );
    // Another vocabulary, or another width, said by config.json or by a tensor's shape.
    let (other_vocab, _) = checkpoint("vocab", &BertConfig::tiny().with_vocab_size(512), 3);
    refuse(
        replay(&init, &other_vocab, &[]),
        "has vocab_size 512, the initial checkpoint 30522",
    );
    let (wider, _) = checkpoint("wider", &BertConfig::tiny().with_hidden_size(128), 3);
    fs::remove_file(wider.join("config.json")).unwrap();
    refuse(
        replay(&init, &wider, &[]),
        "has shape [30522, 128], the model needs [30522, 64]",
    );
    // A target with a NaN.
    let mut tensors = earlyberts_trainer::checkpoint::to_hf(&model);
    tensors.get_mut("bert.pooler.dense.bias").unwrap().1[3] = f32::NAN;
    let nan = f.root.join("nan");
    copy_dir(&target, &nan);
    let bytes = earlyberts_trainer::checkpoint::to_safetensors(&tensors).unwrap();
    fs::write(nan.join("model.safetensors"), bytes).unwrap();
    refuse(
        replay(&init, &nan, &[]),
        "'bert.pooler.dense.bias' holds NaN or infinite values",
    );
    // A build shorter than the replayed steps (40 examples; 6 steps of 8 need 48).
    refuse(
        replay(&init, &target, &["--steps", "6"]),
        "has 40 examples, the replayed steps need 48",
    );
    refuse(replay(&init, &target, &["--steps", "0"]), "--steps 0");
    refuse(
        replay(&init, &target, &["--micro-batch", "8,3"]),
        "--micro-batch 3 does not divide the batch size 8",
    );
    refuse(
        replay(&init, &target, &["--micro-batch", "8,x"]),
        "--micro-batch '8,x'",
    );
    refuse(
        replay(&init, &target, &["--build", s(&f.root)]),
        "is not a build (no manifest.json)",
    );
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// `trainer bench` of one step of the tiny model, 4 × 32 tokens in 2 micro-batches, on CPU;
/// extra arguments appended.
fn bench_tiny(extra: &[&str]) -> serde_json::Value {
    let args = [
        "bench",
        "--device",
        "cpu",
        "--config",
        "tiny",
        "--seq",
        "32",
        "--batch-size",
        "4",
        "--micro-batch",
        "2",
        "--steps",
        "1",
    ];
    serde_json::from_str(ok(&[&args[..], extra].concat()).trim()).unwrap()
}

#[test]
fn bench_reports_throughput() {
    let report = bench_tiny(&["--warmup", "0", "--peak-tflops", "1"]);
    assert_eq!(report["data"], "fixed 32 tokens");
    assert!(report["tokens_per_s"].as_f64().unwrap() > 0.0);
    assert!(report["mfu"].as_f64().unwrap() > 0.0);
    assert!(report["first_step_s"].as_f64().unwrap() > 0.0);
    assert_eq!(report["step_times_s"].as_array().unwrap().len(), 1);
    assert!(report["last_loss"].as_f64().unwrap().is_finite());
    // One read per step (its statistics); syncs: after forward and backward of each of the
    // 2 micro-batches, after the optimizer, after the step.
    assert_eq!(report["host_reads_per_step"], 1.0, "{report}");
    assert_eq!(report["syncs_per_step"], 6.0, "{report}");
    // Whole steps only, as `trainer run` runs them: the bench's one sync after the step.
    let bare = bench_tiny(&["--no-phases"]);
    assert!(bare["phases"].is_null(), "{bare}");
    assert_eq!(bare["host_reads_per_step"], 1.0, "{bare}");
    assert_eq!(bare["syncs_per_step"], 1.0, "{bare}");
    let phases = &report["phases"];
    let phase_sum: f64 = ["forward_s", "backward_s", "optimizer_s"]
        .iter()
        .map(|p| phases[p].as_f64().unwrap())
        .sum();
    let step = report["step_s"].as_f64().unwrap();
    assert!(
        phase_sum > 0.5 * step && phase_sum <= step * 1.01,
        "{report}"
    );

    // Realistic lengths from a file, padded to multiples of 64: the FLOPs count the padding.
    let dir = tempfile::tempdir().unwrap();
    let lengths = dir.path().join("lengths.txt");
    fs::write(&lengths, "12\n70\n\n33\n5\n").unwrap();
    let with_lengths = |pad: &str| {
        let stdout = ok(&[
            "bench",
            "--device",
            "cpu",
            "--config",
            "tiny",
            "--lengths",
            s(&lengths),
            "--batch-size",
            "4",
            "--micro-batch",
            "2",
            "--steps",
            "1",
            "--warmup",
            "0",
            "--pad-multiple",
            pad,
        ]);
        serde_json::from_str::<serde_json::Value>(stdout.trim()).unwrap()
    };
    let (exact, padded) = (with_lengths("1"), with_lengths("64"));
    assert!(exact["data"].as_str().unwrap().starts_with("lengths "));
    let real_tokens = (12 + 70 + 33 + 5) as f64;
    let tokens = exact["tokens_per_s"].as_f64().unwrap() * exact["step_s"].as_f64().unwrap();
    assert!((tokens - real_tokens).abs() < 1e-6 * real_tokens, "{exact}");
    let flops = |r: &serde_json::Value| r["model_tflops_per_step"].as_f64().unwrap();
    assert!(flops(&padded) > flops(&exact), "{exact} {padded}");

    fs::write(&lengths, "12\n600\n").unwrap();
    refused(
        &[
            "bench",
            "--device",
            "cpu",
            "--config",
            "tiny",
            "--lengths",
            s(&lengths),
        ],
        "line 2: '600' is not a sequence length in 4..=512",
    );
    let out = trainer(&["bench", "--device", "cpu", "--steps", "0"]);
    assert_eq!(out.status.code(), Some(2));
}

/// The GPU script's control flow, budget and output, with its GPU commands faked.
#[test]
fn gpu_bench_dry_run_keeps_its_budget_and_its_outputs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir().unwrap();
    let lengths = dir.path().join("lengths.txt");
    fs::write(&lengths, "60\n128\n").unwrap();
    let dry = |out: &Path, budget: &str, extra: &[(&str, &str)]| {
        let started = std::time::Instant::now();
        let status = Command::new("bash")
            .arg("scripts/gpu-bench.sh")
            .arg(out)
            .current_dir(&root)
            .envs([
                ("DRY_RUN", "1"),
                ("BUDGET_S", budget),
                ("STOP_MARGIN_S", "4"),
                ("FAKE_STEP_S", "0.1"),
                ("CACHE_DIR", s(&dir.path().join("cubecl"))),
                ("CUDA_CACHE_PATH", s(&dir.path().join("cuda-cache"))),
                ("LENGTHS", s(&lengths)),
            ])
            .envs(extra.iter().copied())
            .output()
            .expect("bash runs");
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
        let rows: Vec<serde_json::Value> = fs::read_to_string(out.join("results.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let files = fs::read_dir(out).unwrap().count();
        assert!(files <= 8, "{files} files in OUT");
        assert!(out.join("caches.tar.gz").is_file() && out.join("summary.txt").is_file());
        (rows, started.elapsed().as_secs_f64())
    };
    let tag = |rows: &[serde_json::Value], t: &str| {
        rows.iter()
            .find(|r| r["tag"] == t)
            .unwrap_or_else(|| panic!("no {t} in {rows:?}"))
            .clone()
    };
    // Every phase runs; the micro-batch that does not fit is retried once at half.
    let (rows, _) = dry(&dir.path().join("all"), "60", &[("DRY_MAX_MICRO", "128")]);
    assert_eq!(tag(&rows, "burn-base-s128-m256")["status"], "failed");
    assert_eq!(tag(&rows, "burn-base-s128-m128")["phase"], "main");
    for t in [
        "burn-tiny-smoke",
        "torch-tf32-s128-m128",
        "torch-eager-s128-m128",
        "torch-compile-bf16-s128-m128",
        "burn-base-real-m128",
        "agree-tiny-cuda",
        "agree-tiny-cpu",
        "launches-base-s64",
    ] {
        assert!(tag(&rows, t)["step_s"].is_number(), "{t}: {rows:?}");
    }
    // A phase that hangs is killed at the budget; what follows is skipped, not run late.
    let (rows, seconds) = dry(&dir.path().join("hang"), "16", &[("DRY_HANG", "main")]);
    assert!(tag(&rows, "burn-tiny-smoke")["step_s"].is_number());
    let hung = tag(&rows, "burn-base-s128-m256");
    assert!(
        hung["error"].as_str().unwrap().contains("timed out"),
        "{hung}"
    );
    assert_eq!(tag(&rows, "torch-tf32-s128-m128")["status"], "skipped");
    assert!(
        seconds < 16.0,
        "the script took {seconds} s of a 16 s budget"
    );
}

fn kill_points() -> usize {
    std::env::var("EARLYBERTS_KILL_POINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4)
}

#[test]
fn killed_training_resumes_to_identical_weights() {
    let f = fixture();
    let every_step: String = (1..=10)
        .map(|k| k.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let extra = ["--max-steps", "10", "--checkpoints", every_step.as_str()];
    let reference = f.root.join("reference");
    let started = std::time::Instant::now();
    let all = ok(&run_args(&f, &reference, &extra));
    let duration = started.elapsed().as_secs_f64();
    let n = kill_points();
    let mut resumed_from = Vec::new();
    for i in 1..=n {
        let out = f.root.join(format!("killed{i}"));
        let args = run_args(&f, &out, &extra);
        let mut child = Command::new(env!("CARGO_BIN_EXE_trainer"))
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let jitter = ((i * 7919) % 100) as f64 / 400.0;
        std::thread::sleep(std::time::Duration::from_secs_f64(
            duration * (i as f64 + jitter) / (n + 1) as f64,
        ));
        child.kill().ok(); // SIGKILL, between or during checkpoint writes
        child.wait().unwrap();
        let run = out.join("seed3");
        let has_checkpoint = earlyberts_trainer::publish::checkpoints(&run).is_ok();
        if has_checkpoint {
            resume(&f, &run, 10, &["--checkpoints", &every_step]);
        } else {
            ok(&args);
        }
        resumed_from.push(has_checkpoint);
        assert_same_files(&reference.join("seed3/step10"), &run.join("step10"));
        let log = fs::read_to_string(run.join("log.jsonl")).unwrap();
        assert_eq!(losses(&log), losses(&all), "kill point {i}");
        let leftovers: Vec<_> = fs::read_dir(&run)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
    eprintln!(
        "{n} kill points over {duration:.2} s of training; resumed from a checkpoint {} times",
        resumed_from.iter().filter(|r| **r).count()
    );
}

#[test]
fn sigint_finishes_the_step_saves_and_says_how_to_resume() {
    interrupted_saves_and_resumes(&["INT"]);
}

/// A scheduler's SIGTERM beside the SIGUSR1 its job script passes on (train.sbatch), in
/// either order, saves as one signal does: neither ends the process at once.
#[test]
fn sigusr1_with_sigterm_still_saves() {
    interrupted_saves_and_resumes(&["USR1", "TERM"]);
    interrupted_saves_and_resumes(&["TERM", "USR1"]);
}

/// A run of 500 steps sent `signals` after its first step: it finishes the step it is in,
/// saves, says how to resume, exits 130, and resumes from there.
fn interrupted_saves_and_resumes(signals: &[&str]) {
    use std::io::{BufRead, BufReader};
    let f = fixture();
    let out = f.root.join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(run_args(&f, &out, &["--max-steps", "500"]))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    lines.next().unwrap().unwrap(); // step 1 done
    // the shell's built-in kill: no procps needed
    let kills: Vec<String> = signals
        .iter()
        .map(|s| format!("kill -{s} {}", child.id()))
        .collect();
    Command::new("sh")
        .args(["-c", &kills.join("; ")])
        .status()
        .unwrap();
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let out_put = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out_put.stderr);
    assert_eq!(out_put.status.code(), Some(130), "{stderr}");
    let last = 1 + rest.len();
    assert!(
        stderr.contains(&format!(
            "interrupted after step {last}, saved; continue with: trainer run --resume"
        )),
        "{stderr}"
    );
    let step = out.join(format!("seed3/step{last}"));
    assert!(step.join("trainer_state.json").is_file());
    let resumed = resume(&f, &out.join("seed3"), last as u64 + 2, &[]);
    assert_eq!(losses(&resumed).len(), 2);
}
