//! Parity with Hugging Face `transformers`: the fixture in `tests/fixtures/parity` was made by
//! `scripts/parity.py make-fixture` (a small `BertForPreTraining`, seed 1234; its
//! `expected.json` records the torch and transformers versions). These tests need no Python.
//!
//! With `EARLYBERTS_PARITY_PYTHON=/path/to/python` (one that imports torch and
//! transformers), `exported_checkpoint_loads_in_transformers` also has transformers load the
//! trainer's export and compare its outputs with the trainer's.

use std::path::{Path, PathBuf};

use burn::{
    backend::{Autodiff, Flex},
    tensor::{Tensor, backend::Backend},
};
use earlyberts_format::{Example, NspLabel, Vocab};
use earlyberts_trainer::{
    checkpoint::{
        HfTensors, from_hf, from_pytorch, from_safetensors, load_checkpoint, read_hf_config,
        save_checkpoint, to_hf,
    },
    data::{PadTo, StepFeed, collate},
    model::{BertConfig, BertForPreTraining},
    schedule::LearningRateSchedule,
    train::{TrainConfig, Trainer, frozen},
};

type Cpu = Autodiff<Flex>;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parity")
}

fn config() -> BertConfig {
    read_hf_config(&fixture().join("init")).unwrap().unwrap()
}

fn expected() -> HfTensors {
    let path = fixture().join("expected.safetensors");
    from_safetensors(&path, &std::fs::read(&path).unwrap()).unwrap()
}

fn scalars() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(fixture().join("expected.json")).unwrap()).unwrap()
}

fn examples() -> Vec<Example> {
    let json: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(fixture().join("inputs.json")).unwrap()).unwrap();
    let u16s = |v: &serde_json::Value| -> Vec<u16> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u16)
            .collect()
    };
    json.iter()
        .map(|e| Example {
            token_ids: u16s(&e["token_ids"]),
            segment_a_len: e["segment_a_len"].as_u64().unwrap() as u16,
            mlm_positions: u16s(&e["mlm_positions"]),
            mlm_labels: u16s(&e["mlm_labels"]),
            nsp_label: if e["nsp_label"] == 0 {
                NspLabel::IsNext
            } else {
                NspLabel::RandomNext
            },
        })
        .collect()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// MLM logits at the labelled positions (example by example) and NSP logits.
fn outputs(model: &BertForPreTraining<Flex>) -> (Vec<f32>, Vec<f32>) {
    outputs_on(model, &Default::default())
}

/// [`outputs`] on any backend.
pub(crate) fn outputs_on<B: Backend>(
    model: &BertForPreTraining<B>,
    device: &B::Device,
) -> (Vec<f32>, Vec<f32>) {
    let batch = collate::<B>(&examples(), 0, PadTo::LONGEST, device);
    let out = model.forward(
        batch.input_ids,
        batch.token_type_ids,
        batch.padding,
        batch.mlm_rows,
    );
    let values = |t: Tensor<B, 2>| -> Vec<f32> { t.into_data().iter::<f32>().collect() };
    (values(out.mlm_logits), values(out.nsp_logits))
}

/// Has transformers load the checkpoint in `dir` (its `outputs.json` beside it: the logits
/// transformers must reproduce) when `EARLYBERTS_PARITY_PYTHON` names a Python with torch and
/// transformers; says so and returns when it does not.
pub(crate) fn transformers_loads(dir: &Path) {
    let Ok(python) = std::env::var("EARLYBERTS_PARITY_PYTHON") else {
        eprintln!("EARLYBERTS_PARITY_PYTHON is not set: transformers not asked to load the export");
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/parity.py");
    let status = std::process::Command::new(python)
        .arg(script)
        .arg("check-export")
        .arg(dir)
        .status()
        .unwrap();
    assert!(status.success(), "transformers disagrees with the export");
}

#[test]
fn both_formats_import_to_the_same_model() {
    let init = fixture().join("init");
    let config = config();
    assert_eq!((config.vocab_size, config.hidden_size), (512, 32));
    let device = Default::default();
    let from_st = load_checkpoint::<Flex>(&init, &config, &device).unwrap();
    // pytorch_model.bin: torch.save's zip format, with the tied decoder stored too.
    let bin = from_pytorch(&init.join("pytorch_model.bin")).unwrap();
    assert!(bin.contains_key("cls.predictions.decoder.weight"));
    let from_bin = from_hf::<Flex>(&config, bin, &device).unwrap();
    assert_eq!(to_hf(&from_st), to_hf(&from_bin));
}

#[test]
fn forward_and_loss_match_transformers() {
    let model =
        load_checkpoint::<Flex>(&fixture().join("init"), &config(), &Default::default()).unwrap();
    let (mlm, nsp) = outputs(&model);
    let expected = expected();
    let d_mlm = max_abs_diff(&mlm, &expected["mlm_logits"].1);
    let d_nsp = max_abs_diff(&nsp, &expected["nsp_logits"].1);
    eprintln!("forward: max |Δ| MLM logits {d_mlm:.2e}, NSP logits {d_nsp:.2e}");
    assert!(d_mlm <= 1e-4 && d_nsp <= 1e-4, "{d_mlm} {d_nsp}");
}

fn fixture_trainer(dir: &Path, micro_batch: u64) -> (Trainer<Cpu>, StepFeed) {
    let examples = examples();
    let build = earlyberts_trainer::bench::write_examples_build(dir, &examples).unwrap();
    let feed = StepFeed::new(build, examples.len() as u64, &Vocab::bert_base_uncased());
    // The fixture's schedule: the reference's shape with warm-up 2 and total 10.
    let train = TrainConfig {
        batch_size: examples.len() as u64,
        schedule: LearningRateSchedule {
            peak: 1e-3,
            warmup: 2,
            total: 10,
            end: 1e-7,
            power: 1.0,
        },
        ..TrainConfig::reference(micro_batch)
    };
    let device = Default::default();
    let model = load_checkpoint::<Cpu>(&fixture().join("init"), &config(), &device).unwrap();
    (Trainer::new(model, train, &device).unwrap(), feed)
}

#[test]
fn three_adamw_steps_match_transformers() {
    let dir = tempfile::tempdir().unwrap();
    let (mut trainer, feed) = fixture_trainer(dir.path(), 3);
    let scalars = scalars();
    for reference in scalars["steps"].as_array().unwrap() {
        let log = trainer.step(&feed).unwrap();
        let lr = reference["lr"].as_f64().unwrap();
        let loss = reference["loss"].as_f64().unwrap();
        let norm = reference["grad_norm"].as_f64().unwrap();
        eprintln!(
            "step {}: lr {} vs {lr}, loss {} vs {loss}, grad norm {} vs {norm}",
            log.step, log.lr, log.loss, log.grad_norm
        );
        assert!((log.lr - lr).abs() <= 1e-12 * lr.max(1.0), "lr");
        assert!((log.loss - loss).abs() <= 1e-5, "loss");
        assert!((log.grad_norm - norm).abs() <= 1e-4 * norm, "grad norm");
    }
    let ours = to_hf(&frozen(trainer.model()));
    let mut worst = (0.0f32, String::new());
    for (name, (shape, data)) in expected() {
        let Some(name) = name.strip_prefix("after.") else {
            continue;
        };
        let (our_shape, our_data) = &ours[name];
        assert_eq!(our_shape, &shape, "{name}");
        let d = max_abs_diff(our_data, &data);
        if d > worst.0 {
            worst = (d, name.to_string());
        }
    }
    eprintln!("after 3 steps: max |Δ| {:.2e} ({})", worst.0, worst.1);
    assert!(worst.0 <= 1e-5, "{worst:?}");
}

#[test]
fn exported_checkpoint_loads_in_transformers() {
    let dir = tempfile::tempdir().unwrap();
    let (mut trainer, feed) = fixture_trainer(&dir.path().join("build"), 3);
    for _ in 0..3 {
        trainer.step(&feed).unwrap();
    }
    let model = frozen(trainer.model());
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("parity-export");
    save_checkpoint(&out, &model, &config(), &Vocab::bert_base_uncased()).unwrap();
    let (mlm, nsp) = outputs(&model);
    std::fs::write(
        out.join("outputs.json"),
        serde_json::json!({"mlm_logits": mlm, "nsp_logits": nsp}).to_string(),
    )
    .unwrap();
    // The export reads back to the same model.
    let back = load_checkpoint::<Flex>(&out, &config(), &Default::default()).unwrap();
    assert_eq!(outputs(&back), (mlm, nsp));
    transformers_loads(&out);
}
