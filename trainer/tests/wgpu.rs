//! The GPU code path before any GPU: `trainer run --device wgpu` goes through burn's cubecl
//! backend with fusion and autotune, as CUDA does (only the kernel compiler differs). In CI
//! it runs on lavapipe, Mesa's software Vulkan (`.ci/run` installs it).
//!
//! What is compared, and why the tolerances are what they are:
//! - wgpu against the CPU (burn-flex) from the same initial weights on the same examples,
//!   dropout off: both compute in f32 but sum in other orders (tiled matmuls, fused
//!   reductions), so they agree to rounding, which training carries forward. Measured on
//!   lavapipe over 8 steps at rate 1e-3 (2026-12-02): losses within 9.0e-8 relatively,
//!   gradient norms within 6.9e-5, the weights' update from the initial ones within 8.0e-6
//!   (`make test-wgpu` with `-- --nocapture` prints them); a wgpu run resumed on the CPU
//!   at step 3: 9.2e-8, 6.8e-5 and 1.9e-6. The bounds below are ×14 to ×300 those and far
//!   below what a wrong kernel or a lost update gives (differences of order 1).
//! - wgpu against itself (run to run, and interrupted and resumed): bitwise, with dropout
//!   on, as measured on lavapipe; asserted, so a kernel that made it vary (a sum in
//!   scheduling order, say) would fail the test. A real GPU may differ there: resume on one
//!   is then within tolerance, not bitwise, and this test would say so.
//! - With dropout on, the CPU and wgpu draw other masks from the same seed (each backend
//!   has its own generator), so only dropout-off runs are compared across backends.

use std::{fs, path::Path};

use burn::backend::{Flex, Wgpu};
use earlyberts_trainer::{
    checkpoint::{load_checkpoint, read_weights, to_hf},
    device::DeviceChoice,
    model::BertConfig,
    replay::compare_updates,
};

use crate::cli::{
    Fixture, assert_same_files, copy_dir, fixture, losses, ok, resume_on, run_args, with,
};
use crate::parity::{outputs_on, transformers_loads};

/// Relative difference of the losses, step by step.
const LOSS_TOLERANCE: f64 = 3e-5;
/// Relative difference of the gradient norms, step by step.
const GRAD_NORM_TOLERANCE: f64 = 1e-3;
/// `‖Δwgpu − Δcpu‖ / ‖Δcpu‖`, the weights' update from the initial ones.
const UPDATE_TOLERANCE: f64 = 1e-3;

/// Whether a wgpu adapter works here (a GPU, or lavapipe). Without one the tests skip,
/// saying so — unless EARLYBERTS_REQUIRE_WGPU=1 (CI), which makes it a failure.
fn wgpu_usable() -> bool {
    static PROBE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PROBE.get_or_init(|| match DeviceChoice::Wgpu.check() {
        Ok(()) => true,
        Err(err) => {
            assert!(
                std::env::var("EARLYBERTS_REQUIRE_WGPU").as_deref() != Ok("1"),
                "EARLYBERTS_REQUIRE_WGPU=1 but {err}"
            );
            eprintln!("{err}: wgpu tests skipped");
            false
        }
    })
}

/// `trainer run` of the tiny model as the CLI tests run it, on `device`, learning fast
/// enough (rate 1e-3 after 2 warm-up steps) that the weights move well above rounding.
fn run_on<'a>(f: &'a Fixture, device: &'a str, out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let fast = ["--lr", "1e-3", "--warmup", "2", "--pad-multiple", "64"];
    with(
        run_args(f, out, &[&fast[..], extra].concat()),
        "--device",
        Some(device),
    )
}

/// `(step, loss, grad_norm)` of each step line.
fn steps(stdout: &str) -> Vec<(u64, f64, f64)> {
    stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let f = |k: &str| v[k].as_f64().unwrap();
            (v["step"].as_u64().unwrap(), f("loss"), f("grad_norm"))
        })
        .collect()
}

fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(f64::MIN_POSITIVE)
}

/// The largest relative differences of losses and gradient norms between two runs' steps.
fn step_differences(a: &str, b: &str) -> (f64, f64) {
    let (a, b) = (steps(a), steps(b));
    assert_eq!(a.len(), b.len());
    a.iter().zip(&b).fold((0.0, 0.0), |(l, g), (x, y)| {
        assert_eq!(x.0, y.0);
        (l.max(relative(x.1, y.1)), g.max(relative(x.2, y.2)))
    })
}

/// `‖Δa − Δb‖ / ‖Δb‖` of two checkpoints' updates from the tiny model's initial weights of
/// seed 3 (`--init random`: the same weights on every backend).
fn update_difference(a: &Path, b: &Path) -> f64 {
    let init = to_hf(&BertConfig::tiny().init::<Flex>(3, &Default::default()));
    let weights = |dir: &Path| read_weights(dir).unwrap().1;
    let mut names: Vec<String> = init.keys().cloned().collect();
    names.sort();
    let comparison = compare_updates(&init, &weights(a), &weights(b), &names);
    comparison.overall.relative_error
}

/// Two runs' steps (their stdout) and final checkpoints agree within the tolerances.
fn assert_close(what: &str, (a_log, a): (&str, &Path), (b_log, b): (&str, &Path)) {
    let (loss, grad_norm) = step_differences(a_log, b_log);
    let update = update_difference(a, b);
    eprintln!("{what}: losses {loss:.1e}, gradient norms {grad_norm:.1e}, update {update:.1e}");
    assert!(
        loss <= LOSS_TOLERANCE,
        "{what}: losses differ by {loss:.2e}"
    );
    assert!(
        grad_norm <= GRAD_NORM_TOLERANCE,
        "{what}: gradient norms differ by {grad_norm:.2e}"
    );
    assert!(
        update <= UPDATE_TOLERANCE,
        "{what}: updates differ by {update:.2e}"
    );
}

/// From the same initial weights on the same examples, dropout off; then the wgpu run's
/// step-3 checkpoint resumed on the CPU to step 8 lands where the wgpu run did.
#[test]
fn tiny_model_trains_alike_on_wgpu_and_cpu_and_resumes_across() {
    if !wgpu_usable() {
        return;
    }
    let f = fixture();
    let (gpu, cpu) = (f.root.join("gpu"), f.root.join("cpu"));
    let extra = ["--dropout", "0", "--max-steps", "8", "--checkpoints", "3,8"];
    let on_gpu = ok(&run_on(&f, "wgpu", &gpu, &extra));
    let on_cpu = ok(&run_on(&f, "cpu", &cpu, &extra));
    assert_close(
        "wgpu vs cpu over 8 steps",
        (&on_gpu, &gpu.join("seed3/step8")),
        (&on_cpu, &cpu.join("seed3/step8")),
    );
    // Resumed on the CPU from a copy of the wgpu run (a resume writes into the run's folder).
    let across = f.root.join("across");
    copy_dir(&gpu.join("seed3"), &across);
    let resumed = resume_on(&f, "cpu", &across.join("step3"), 8, &[]);
    assert_close(
        "wgpu run resumed on cpu at step 3",
        (&resumed, &across.join("step8")),
        (&last_steps(&on_gpu, 3), &gpu.join("seed3/step8")),
    );
}

/// The step lines of `stdout` after the first `skip`.
fn last_steps(stdout: &str, skip: usize) -> String {
    stdout
        .lines()
        .skip(skip)
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Interrupted at step 3 and resumed to 7 on wgpu: bitwise the uninterrupted run (losses,
/// weights and optimizer state), with dropout on (its masks come from the device's own
/// generator, seeded per step; the CPU's generator draws other masks, so a run with
/// dropout resumed on another backend continues with other masks). Its checkpoint gives
/// the same logits on CPU and wgpu, and transformers loads it.
#[test]
fn a_wgpu_run_resumes_bitwise_and_its_checkpoints_load() {
    if !wgpu_usable() {
        return;
    }
    let f = fixture();
    let (whole, first) = (f.root.join("whole"), f.root.join("first"));
    let dropout = ["--dropout", "0.1"];
    let all = ok(&run_on(
        &f,
        "wgpu",
        &whole,
        &[&dropout[..], &["--max-steps", "7", "--checkpoints", "3"]].concat(),
    ));
    ok(&run_on(
        &f,
        "wgpu",
        &first,
        &[&dropout[..], &["--max-steps", "3"]].concat(),
    ));
    let step3 = first.join("seed3/step3");
    assert_same_files(&whole.join("seed3/step3"), &step3);
    let resumed = resume_on(&f, "wgpu", &step3, 7, &[]);
    assert_eq!(losses(&resumed), losses(&all)[3..].to_vec(), "wgpu resume");
    assert_same_files(&whole.join("seed3/step7"), &first.join("seed3/step7"));
    checkpoint_loads_everywhere(&first.join("seed3/step7"));
}

/// The checkpoint gives the same outputs loaded on the CPU and on wgpu, and transformers
/// reproduces them (when `EARLYBERTS_PARITY_PYTHON` is set, as in the parity tests).
fn checkpoint_loads_everywhere(dir: &Path) {
    let config = BertConfig::tiny();
    let on_cpu = load_checkpoint::<Flex>(dir, &config, &Default::default()).unwrap();
    let on_gpu = load_checkpoint::<Wgpu>(dir, &config, &Default::default()).unwrap();
    let (mlm, nsp) = outputs_on(&on_cpu, &Default::default());
    let (gpu_mlm, gpu_nsp) = outputs_on(&on_gpu, &Default::default());
    let worst = mlm
        .iter()
        .chain(&nsp)
        .zip(gpu_mlm.iter().chain(&gpu_nsp))
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    eprintln!("the checkpoint's logits on cpu vs wgpu: max |Δ| {worst:.1e}");
    assert!(worst <= 1e-4, "logits differ by {worst:.2e}");
    fs::write(
        dir.join("outputs.json"),
        serde_json::json!({"mlm_logits": mlm, "nsp_logits": nsp}).to_string(),
    )
    .unwrap();
    transformers_loads(dir);
}
