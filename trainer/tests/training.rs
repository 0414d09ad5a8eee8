//! The trainer on CPU with the tiny config over a synthetic build: finite losses, learning,
//! bit-identical reruns, the step/example mapping and the padding of micro-batches.

use burn::backend::{Autodiff, Flex};
use earlyberts_format::{Build, Invalid, Vocab};

use crate::common::build;
use earlyberts_trainer::{
    Error,
    data::{PadTo, StepFeed, collate},
    model::BertConfig,
    schedule::LearningRateSchedule,
    train::{StepLog, TrainConfig, Trainer},
};

type Cpu = Autodiff<Flex>;

fn run(dir: &std::path::Path, steps: u64, schedule: LearningRateSchedule) -> Vec<StepLog> {
    let device = Default::default();
    let model = BertConfig::tiny().init::<Cpu>(7, &device);
    let feed = StepFeed::new(Build::open(dir).unwrap(), 8, &Vocab::bert_base_uncased());
    let config = TrainConfig {
        batch_size: 8,
        schedule,
        ..TrainConfig::reference(4)
    };
    let mut trainer = Trainer::new(model, config, &device).unwrap();
    (0..steps).map(|_| trainer.step(&feed).unwrap()).collect()
}

#[test]
fn tiny_model_trains_and_reruns_are_identical() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), 8);
    let fast = LearningRateSchedule {
        peak: 3e-3,
        warmup: 0,
        total: 1000,
        end: 0.0,
        power: 1.0,
    };
    let logs = run(dir.path(), 12, fast);
    assert!(logs.iter().all(|l| l.loss.is_finite()));
    // Initial losses are BERT's: ln(30522) for MLM, ln(2) for NSP.
    assert!(
        (logs[0].mlm_loss - 30522f64.ln()).abs() < 0.2,
        "{}",
        logs[0].mlm_loss
    );
    assert!(
        (logs[0].nsp_loss - 2f64.ln()).abs() < 0.1,
        "{}",
        logs[0].nsp_loss
    );
    // The same 8 examples every step: the loss must fall.
    assert!(
        logs[11].loss < logs[1].loss - 1.0,
        "{} -> {}",
        logs[1].loss,
        logs[11].loss
    );
    let again = run(dir.path(), 12, fast);
    let losses = |l: &[StepLog]| l.iter().map(|e| e.loss.to_bits()).collect::<Vec<_>>();
    assert_eq!(
        losses(&logs),
        losses(&again),
        "two CPU runs must be bit-identical"
    );
}

#[test]
fn first_step_runs_at_rate_zero() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), 16);
    let logs = run(dir.path(), 2, LearningRateSchedule::reference());
    assert_eq!(logs[0].lr, 0.0);
    assert_eq!((logs[0].first_example, logs[0].last_example), (0, 7));
    assert_eq!((logs[1].first_example, logs[1].last_example), (8, 15));
}

#[test]
fn steps_wrap_and_batches_pad() {
    let dir = tempfile::tempdir().unwrap();
    let b = build(dir.path(), 20);
    let feed = StepFeed::new(b, 8, &Vocab::bert_base_uncased());
    let (examples, first, last) = feed.step(3).unwrap(); // positions 16..24 → 16..20, 0..4
    assert_eq!((first, last), (16, 3));
    let direct: Vec<_> = [16, 17, 18, 19, 0, 1, 2, 3]
        .iter()
        .map(|&k| feed.build().example(k).unwrap())
        .collect();
    assert_eq!(examples, direct);
    let batch = collate::<Flex>(&examples, 0, PadTo::LONGEST, &Default::default());
    let seq = examples.iter().map(|e| e.token_ids.len()).max().unwrap();
    assert_eq!(batch.input_ids.dims(), [8, seq]);
    assert_eq!(
        batch.labelled,
        examples
            .iter()
            .map(|e| e.mlm_positions.len())
            .sum::<usize>()
    );
    let padding = batch.padding.into_data().to_vec::<bool>().unwrap();
    assert_eq!(padding.iter().filter(|&&p| !p).count(), batch.tokens);
    let types: Vec<i64> = batch.token_type_ids.into_data().iter::<i64>().collect();
    let e = &examples[0];
    assert_eq!(types[e.segment_a_len as usize - 1], 0);
    if (e.segment_a_len as usize) < e.token_ids.len() {
        assert_eq!(types[e.segment_a_len as usize], 1);
    }
}

/// The loss of one micro-batch, computed directly from the model.
fn direct_loss(
    model: &earlyberts_trainer::model::BertForPreTraining<Cpu>,
    examples: &[earlyberts_format::Example],
) -> f64 {
    use burn::{nn::loss::CrossEntropyLossConfig, tensor::ElementConversion};
    let device = Default::default();
    let batch = collate::<Cpu>(examples, 0, PadTo::LONGEST, &device);
    let out = model.forward(
        batch.input_ids,
        batch.token_type_ids,
        batch.padding,
        batch.mlm_rows,
    );
    let ce = CrossEntropyLossConfig::new().init(&device);
    let mlm = ce
        .forward(out.mlm_logits, batch.mlm_labels)
        .into_scalar()
        .elem::<f64>();
    let nsp = ce
        .forward(out.nsp_logits, batch.nsp_labels)
        .into_scalar()
        .elem::<f64>();
    mlm + nsp
}

#[test]
fn micro_batches_average_their_mean_losses() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), 8);
    let device = Default::default();
    let feed = StepFeed::new(
        Build::open(dir.path()).unwrap(),
        4,
        &Vocab::bert_base_uncased(),
    );
    let (examples, _, _) = feed.step(1).unwrap();
    let model = BertConfig::tiny().init::<Cpu>(5, &device);
    let config = |micro| TrainConfig {
        batch_size: 4,
        ..TrainConfig::reference(micro)
    };
    // Micro-batch 1: the step's loss is the mean of the four examples' own losses.
    let mut per_example = Trainer::new(model.clone(), config(1), &device).unwrap();
    let expected: f64 = examples
        .iter()
        .map(|e| direct_loss(&model, std::slice::from_ref(e)))
        .sum::<f64>()
        / 4.0;
    let got = per_example.step(&feed).unwrap().loss;
    assert!((got - expected).abs() < 1e-5, "{got} vs {expected}");
    // Micro-batch 2: the mean of the two halves' losses.
    let mut halves = Trainer::new(model.clone(), config(2), &device).unwrap();
    let expected =
        (direct_loss(&model, &examples[..2]) + direct_loss(&model, &examples[2..])) / 2.0;
    let got = halves.step(&feed).unwrap().loss;
    assert!((got - expected).abs() < 1e-5, "{got} vs {expected}");
    // A micro-batch that does not divide the batch is refused, naming the field.
    let refused = Trainer::new(model, config(3), &device)
        .err()
        .expect("refused");
    let Error::Invalid(Invalid::Unusable {
        field,
        value,
        reason,
    }) = refused
    else {
        panic!("not an unusable setting: {refused}")
    };
    assert_eq!(
        (field.as_str(), value.as_str(), reason.as_str()),
        ("micro_batch", "3", "does not divide the batch size 4")
    );
}

#[test]
fn padding_to_a_multiple_of_64_changes_no_loss() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), 16);
    let device = Default::default();
    let feed = StepFeed::new(
        Build::open(dir.path()).unwrap(),
        8,
        &Vocab::bert_base_uncased(),
    );
    let lengths: Vec<usize> = (0..16)
        .map(|k| feed.build().example(k).unwrap().token_ids.len())
        .collect();
    assert!(
        lengths.iter().any(|&n| n % 64 != 0),
        "the build must have lengths that padding changes: {lengths:?}"
    );
    let model = BertConfig::tiny().init::<Cpu>(11, &device);
    let train = |pad_multiple| {
        let config = TrainConfig {
            batch_size: 8,
            pad_multiple,
            schedule: LearningRateSchedule {
                peak: 1e-3,
                warmup: 0,
                total: 100,
                end: 0.0,
                power: 1.0,
            },
            ..TrainConfig::reference(4)
        };
        let mut trainer = Trainer::new(model.clone(), config, &device).unwrap();
        (0..4)
            .map(|_| trainer.step(&feed).unwrap())
            .collect::<Vec<_>>()
    };
    let (longest, padded) = (train(1), train(64));
    // Padded keys get the mask's minimum (their attention weight is exactly 0) and carry no
    // label: only the order of float sums may differ.
    for (a, b) in longest.iter().zip(&padded) {
        for (x, y, what) in [
            (a.loss, b.loss, "loss"),
            (a.mlm_loss, b.mlm_loss, "MLM loss"),
            (a.nsp_loss, b.nsp_loss, "NSP loss"),
            (a.grad_norm, b.grad_norm, "gradient norm"),
        ] {
            let rel = (x - y).abs() / x.abs();
            assert!(rel < 1e-5, "step {}: {what} {x} vs {y} ({rel:e})", a.step);
        }
        assert_eq!(a.mlm_accuracy, b.mlm_accuracy);
        assert_eq!(a.tokens, b.tokens, "real tokens are counted, not padding");
    }
    eprintln!(
        "padding to 64: step-4 loss {} vs {} (relative difference {:e})",
        longest[3].loss,
        padded[3].loss,
        (longest[3].loss - padded[3].loss).abs() / longest[3].loss
    );
}
