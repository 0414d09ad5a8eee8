//! Hugging Face checkpoints: names, shapes, ties, round trips and refusals.

use burn::{
    backend::Flex,
    tensor::{Bool, Int, Tensor, TensorData},
};
use earlyberts_format::Vocab;
use earlyberts_trainer::{
    checkpoint::{
        from_hf, from_safetensors, load_checkpoint, save_checkpoint, to_hf, to_safetensors,
    },
    model::{BertConfig, BertForPreTraining},
};

fn tiny() -> (BertConfig, BertForPreTraining<Flex>) {
    let config = BertConfig::tiny();
    let model = config.init::<Flex>(3, &Default::default());
    (config, model)
}

fn outputs(model: &BertForPreTraining<Flex>) -> (Vec<f32>, Vec<f32>) {
    let device = Default::default();
    let ids = Tensor::<Flex, 2, Int>::from_data(
        TensorData::new(vec![101i64, 2023, 103, 102, 2003, 102], [1, 6]),
        &device,
    );
    let types = Tensor::<Flex, 2, Int>::from_data(
        TensorData::new(vec![0i64, 0, 0, 0, 1, 1], [1, 6]),
        &device,
    );
    let padding =
        Tensor::<Flex, 2, Bool>::from_data(TensorData::new(vec![false; 6], [1, 6]), &device);
    let rows = Tensor::<Flex, 1, Int>::from_data(TensorData::new(vec![2i64], [1]), &device);
    let out = model.forward(ids, types, padding, rows);
    (
        out.mlm_logits.into_data().iter::<f32>().collect(),
        out.nsp_logits.into_data().iter::<f32>().collect(),
    )
}

#[test]
fn names_shapes_and_ties_follow_transformers() {
    let (config, model) = tiny();
    let tensors = to_hf(&model);
    let (h, i) = (config.hidden_size, config.intermediate_size);
    assert_eq!(
        tensors["bert.encoder.layer.1.intermediate.dense.weight"].0,
        vec![i, h],
        "PyTorch layout [out, in]"
    );
    assert_eq!(
        tensors["bert.encoder.layer.0.attention.output.LayerNorm.bias"].0,
        vec![h]
    );
    assert_eq!(tensors["cls.predictions.bias"].0, vec![config.vocab_size]);
    assert_eq!(tensors["cls.seq_relationship.weight"].0, vec![2, h]);
    assert!(
        !tensors.contains_key("cls.predictions.decoder.weight"),
        "tied to the word embeddings, as save_pretrained stores it"
    );
    // 5 embedding tensors + 16 per layer + pooler 2 + transform 4 + bias 1 + NSP 2
    assert_eq!(
        tensors.len(),
        5 + 16 * config.num_hidden_layers + 2 + 4 + 1 + 2
    );
}

#[test]
fn safetensors_round_trip_gives_the_same_model() {
    let (config, model) = tiny();
    let dir = tempfile::tempdir().unwrap();
    let step = dir.path().join("seed1/step10");
    std::fs::create_dir_all(step.parent().unwrap()).unwrap();
    save_checkpoint(&step, &model, &config, &Vocab::bert_base_uncased()).unwrap();
    for name in [
        "model.safetensors",
        "config.json",
        "vocab.txt",
        "tokenizer_config.json",
        "special_tokens_map.json",
    ] {
        assert!(step.join(name).is_file(), "{name} missing");
    }
    assert!(!dir.path().join("seed1/step10.tmp").exists());
    let loaded = load_checkpoint::<Flex>(&step, &config, &Default::default()).unwrap();
    assert_eq!(outputs(&loaded), outputs(&model));
    let bytes = std::fs::read(step.join("model.safetensors")).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    assert_eq!(header["__metadata__"]["format"], "pt");
    let config_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(step.join("config.json")).unwrap()).unwrap();
    assert_eq!(config_json["architectures"][0], "BertForPreTraining");
}

#[test]
fn import_accepts_hf_variants_and_refuses_bad_tensors() {
    let (config, model) = tiny();
    let device = Default::default();
    // No `bert.` prefix, old LayerNorm names, a position_ids buffer: all fine.
    let mut variant = earlyberts_trainer::checkpoint::HfTensors::new();
    for (name, tensor) in to_hf(&model) {
        let name = name
            .strip_prefix("bert.")
            .map(str::to_owned)
            .unwrap_or(name)
            .replace("LayerNorm.weight", "LayerNorm.gamma");
        variant.insert(name, tensor);
    }
    variant.insert(
        "embeddings.position_ids".into(),
        (vec![1, 512], vec![0.0; 512]),
    );
    let loaded = from_hf::<Flex>(&config, variant, &device).unwrap();
    assert_eq!(outputs(&loaded), outputs(&model));

    let mut missing = to_hf(&model);
    missing.remove("bert.pooler.dense.bias");
    let err = from_hf::<Flex>(&config, missing, &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no tensor 'bert.pooler.dense.bias'"), "{err}");

    let mut misshaped = to_hf(&model);
    misshaped.insert(
        "cls.seq_relationship.weight".into(),
        (
            vec![3, config.hidden_size],
            vec![0.0; 3 * config.hidden_size],
        ),
    );
    let err = from_hf::<Flex>(&config, misshaped, &device)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "tensor 'cls.seq_relationship.weight' has shape [3, 64], the model needs [2, 64]"
        ),
        "{err}"
    );

    let bytes = to_safetensors(&to_hf(&model)).unwrap();
    let err = from_safetensors(std::path::Path::new("m.safetensors"), &bytes[..20]).unwrap_err();
    assert!(
        format!("{err:#}").contains("'m.safetensors' is not a valid safetensors file"),
        "{err:#}"
    );
}

#[test]
fn damaged_checkpoint_files_are_errors_not_panics() {
    use earlyberts_trainer::checkpoint::{from_pytorch, read_weights};
    let (_, model) = tiny();
    let dir = tempfile::tempdir().unwrap();
    let path = std::path::Path::new("m.safetensors");
    let bytes = to_safetensors(&to_hf(&model)).unwrap();
    // Truncated at every interesting point: inside the length, the header, the data.
    for cut in [0, 4, 8, 20, 200, bytes.len() / 2, bytes.len() - 1] {
        let err = from_safetensors(path, &bytes[..cut]).unwrap_err();
        assert!(format!("{err:#}").contains("'m.safetensors'"), "{err:#}");
    }
    // A header length that points past the end.
    let mut huge = bytes.clone();
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    let err = from_safetensors(path, &huge).unwrap_err();
    assert!(
        matches!(&err, earlyberts_trainer::Error::Weights { path: p, .. } if p == path),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("'m.safetensors' is not a valid safetensors file: "),
        "{err}"
    );
    // A tensor of another dtype.
    let half = vec![0u8; 2 * 4];
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::F16, vec![4], &half).unwrap();
    let f16 = safetensors::serialize([("bert.pooler.dense.bias", view)], None).unwrap();
    let err = from_safetensors(path, &f16).unwrap_err().to_string();
    assert!(err.contains("is F16, only F32 is supported"), "{err}");
    // pytorch_model.bin: truncated, and not a zip or pickle at all.
    let parity = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/parity/init/pytorch_model.bin");
    let bin = std::fs::read(parity).unwrap();
    for (name, bytes) in [
        ("truncated.bin", &bin[..bin.len() / 2]),
        ("garbage.bin", &b"not a checkpoint"[..]),
    ] {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let err = from_pytorch(&p).unwrap_err().to_string();
        assert!(
            err.contains(name) && err.contains("not a readable PyTorch checkpoint"),
            "{err}"
        );
    }
    // A directory without weights.
    let err = read_weights(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("neither model.safetensors nor pytorch_model.bin"),
        "{err}"
    );
}
