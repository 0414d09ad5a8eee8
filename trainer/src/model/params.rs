//! The parameters of [`BertForPreTraining`], described once: each one's module path in
//! this crate, its Hugging Face name and its kind ([`PARAMETERS`]). Random initialisation,
//! Hugging Face import and export all walk the model's parameters in module order (burn's
//! `ModuleMapper` / `ModuleVisitor`) and look each one up here; shapes come from the
//! modules themselves. Adding a parameter is one field in its module and one row here.
//!
//! burn's `Linear` stores its weight as `[d_input, d_output]`, PyTorch as `[out, in]`:
//! [`ParamKind::Weight`] tensors are transposed both ways, on the host, so that nothing
//! depends on how a backend materialises a transposed view.

use burn::{
    module::{Module, ModuleMapper, ModuleVisitor, Param},
    tensor::{Tensor, TensorData, backend::Backend},
};
use earlyberts_format::random::{Stage, Stream};

use super::BertForPreTraining;
use crate::{Error, Result};

/// Tensors by Hugging Face name: shape and row-major f32 values.
pub type HfTensors = std::collections::BTreeMap<String, (Vec<usize>, Vec<f32>)>;

/// What a parameter is, which decides its initial value and its layout in a checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// An embedding table `[n, hidden]`: normal initialisation, same layout in HF.
    Embedding,
    /// A `Linear` weight, `[d_in, d_out]` here and `[d_out, d_in]` in HF: normal
    /// initialisation.
    Weight,
    /// A bias: zeros.
    Bias,
    /// A LayerNorm scale: ones.
    Scale,
    /// A LayerNorm shift: zeros.
    Shift,
}

/// Every parameter: module path (`{i}` is the layer index), Hugging Face name, kind; in
/// module order. The decoder of the MLM head is the word-embedding matrix itself, so it has
/// no row (as in `save_pretrained`'s output, which leaves tied copies out).
#[rustfmt::skip]
pub const PARAMETERS: &[(&str, &str, ParamKind)] = {
    use ParamKind::*;
    &[
        ("bert.embeddings.word_embeddings.weight", "bert.embeddings.word_embeddings.weight", Embedding),
        ("bert.embeddings.position_embeddings.weight", "bert.embeddings.position_embeddings.weight", Embedding),
        ("bert.embeddings.token_type_embeddings.weight", "bert.embeddings.token_type_embeddings.weight", Embedding),
        ("bert.embeddings.norm.gamma", "bert.embeddings.LayerNorm.weight", Scale),
        ("bert.embeddings.norm.beta", "bert.embeddings.LayerNorm.bias", Shift),
        ("bert.encoder.{i}.attention.query.weight", "bert.encoder.layer.{i}.attention.self.query.weight", Weight),
        ("bert.encoder.{i}.attention.query.bias", "bert.encoder.layer.{i}.attention.self.query.bias", Bias),
        ("bert.encoder.{i}.attention.key.weight", "bert.encoder.layer.{i}.attention.self.key.weight", Weight),
        ("bert.encoder.{i}.attention.key.bias", "bert.encoder.layer.{i}.attention.self.key.bias", Bias),
        ("bert.encoder.{i}.attention.value.weight", "bert.encoder.layer.{i}.attention.self.value.weight", Weight),
        ("bert.encoder.{i}.attention.value.bias", "bert.encoder.layer.{i}.attention.self.value.bias", Bias),
        ("bert.encoder.{i}.attention.output.weight", "bert.encoder.layer.{i}.attention.output.dense.weight", Weight),
        ("bert.encoder.{i}.attention.output.bias", "bert.encoder.layer.{i}.attention.output.dense.bias", Bias),
        ("bert.encoder.{i}.attention.output_norm.gamma", "bert.encoder.layer.{i}.attention.output.LayerNorm.weight", Scale),
        ("bert.encoder.{i}.attention.output_norm.beta", "bert.encoder.layer.{i}.attention.output.LayerNorm.bias", Shift),
        ("bert.encoder.{i}.intermediate.weight", "bert.encoder.layer.{i}.intermediate.dense.weight", Weight),
        ("bert.encoder.{i}.intermediate.bias", "bert.encoder.layer.{i}.intermediate.dense.bias", Bias),
        ("bert.encoder.{i}.output.weight", "bert.encoder.layer.{i}.output.dense.weight", Weight),
        ("bert.encoder.{i}.output.bias", "bert.encoder.layer.{i}.output.dense.bias", Bias),
        ("bert.encoder.{i}.output_norm.gamma", "bert.encoder.layer.{i}.output.LayerNorm.weight", Scale),
        ("bert.encoder.{i}.output_norm.beta", "bert.encoder.layer.{i}.output.LayerNorm.bias", Shift),
        ("bert.pooler.dense.weight", "bert.pooler.dense.weight", Weight),
        ("bert.pooler.dense.bias", "bert.pooler.dense.bias", Bias),
        ("predictions.transform.weight", "cls.predictions.transform.dense.weight", Weight),
        ("predictions.transform.bias", "cls.predictions.transform.dense.bias", Bias),
        ("predictions.transform_norm.gamma", "cls.predictions.transform.LayerNorm.weight", Scale),
        ("predictions.transform_norm.beta", "cls.predictions.transform.LayerNorm.bias", Shift),
        ("predictions.bias", "cls.predictions.bias", Bias),
        ("seq_relationship.weight", "cls.seq_relationship.weight", Weight),
        ("seq_relationship.bias", "cls.seq_relationship.bias", Bias),
    ]
};

/// The Hugging Face name and kind of the parameter at module `path`.
///
/// # Panics
/// If `path` is not in [`PARAMETERS`]: a parameter was added to a module without its row
/// (the `every_parameter_has_a_row` test catches that).
pub fn describe(path: &[String]) -> (String, ParamKind) {
    let layer = path.iter().find(|s| s.parse::<usize>().is_ok());
    let pattern = path
        .iter()
        .map(|s| if Some(s) == layer { "{i}" } else { s.as_str() })
        .collect::<Vec<_>>()
        .join(".");
    let (_, hf, kind) = PARAMETERS
        .iter()
        .find(|(module, _, _)| *module == pattern)
        .unwrap_or_else(|| panic!("parameter '{pattern}' has no row in PARAMETERS"));
    let name = match layer {
        Some(i) => hf.replace("{i}", i),
        None => hf.to_string(),
    };
    (name, *kind)
}

/// The module path of the parameter being visited, kept from enter/exit calls.
#[derive(Default)]
struct PathStack(Vec<String>);

impl PathStack {
    fn enter(&mut self, name: &str) {
        self.0.push(name.to_string());
    }

    fn exit(&mut self) {
        self.0.pop();
    }
}

/// `[a, b]` row-major → `[b, a]` row-major.
fn transposed(data: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; data.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = data[r * cols + c];
        }
    }
    out
}

/// Sets every parameter of `model` from `values(hf_name, kind, module_shape)`, which
/// returns row-major values in this crate's layout; stops at the first error.
fn set_params<B: Backend>(
    model: BertForPreTraining<B>,
    device: &B::Device,
    values: impl FnMut(&str, ParamKind, &[usize]) -> Result<Vec<f32>>,
) -> Result<BertForPreTraining<B>> {
    struct Setter<'a, B: Backend, F> {
        path: PathStack,
        device: &'a B::Device,
        values: F,
        error: Option<Error>,
    }
    impl<B: Backend, F: FnMut(&str, ParamKind, &[usize]) -> Result<Vec<f32>>> ModuleMapper<B>
        for Setter<'_, B, F>
    {
        fn enter_module(&mut self, name: &str, _container: &str) {
            self.path.enter(name);
        }
        fn exit_module(&mut self, _name: &str, _container: &str) {
            self.path.exit();
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
            if self.error.is_some() {
                return param;
            }
            let shape: [usize; D] = param.lazy_shape().dims();
            let (name, kind) = describe(&self.path.0);
            match (self.values)(&name, kind, &shape) {
                Ok(values) => Param::from_tensor(Tensor::from_data(
                    TensorData::new(values, shape),
                    self.device,
                )),
                Err(e) => {
                    self.error = Some(e);
                    param
                }
            }
        }
    }
    let mut setter = Setter {
        path: PathStack::default(),
        device,
        values,
        error: None,
    };
    let model = model.map(&mut setter);
    match setter.error {
        Some(e) => Err(e),
        None => Ok(model),
    }
}

/// BERT's initialisation of `skeleton`, drawn from the earlyberts stream `(seed, "init",
/// 0)` in module order: embeddings and weights from a normal with standard deviation
/// `std` truncated at two deviations (a weight's draws in this crate's `[d_in, d_out]`
/// order), biases and shifts 0, scales 1.
pub fn random_init<B: Backend>(
    skeleton: BertForPreTraining<B>,
    seed: u64,
    std: f64,
    device: &B::Device,
) -> BertForPreTraining<B> {
    let mut stream = Stream::new(seed, Stage::Init, 0);
    let values = |_: &str, kind: ParamKind, shape: &[usize]| -> Result<Vec<f32>> {
        let n = shape.iter().product();
        Ok(match kind {
            ParamKind::Embedding | ParamKind::Weight => (0..n)
                .map(|_| stream.truncated_normal(std) as f32)
                .collect(),
            ParamKind::Bias | ParamKind::Shift => vec![0.0; n],
            ParamKind::Scale => vec![1.0; n],
        })
    };
    set_params(skeleton, device, values).expect("drawing values does not fail")
}

/// `skeleton` with every parameter taken from `tensors` by Hugging Face name; a missing or
/// mis-shaped tensor is refused by name. Names are read with or without the `bert.`
/// prefix, with the old `LayerNorm.gamma`/`beta` names; `position_ids` buffers are ignored.
pub fn import_hf<B: Backend>(
    skeleton: BertForPreTraining<B>,
    tensors: HfTensors,
    device: &B::Device,
) -> Result<BertForPreTraining<B>> {
    let mut tensors = normalised(tensors);
    let values = |name: &str, kind: ParamKind, shape: &[usize]| -> Result<Vec<f32>> {
        let expected: Vec<usize> = match kind {
            ParamKind::Weight => shape.iter().rev().copied().collect(),
            _ => shape.to_vec(),
        };
        let Some((found, data)) = tensors.remove(name) else {
            return Err(Error::MissingTensor { name: name.into() });
        };
        if found != expected {
            return Err(Error::TensorShape {
                name: name.into(),
                found,
                expected,
            });
        }
        Ok(match kind {
            ParamKind::Weight => transposed(&data, expected[0], expected[1]),
            _ => data,
        })
    };
    set_params(skeleton, device, values)
}

/// `raw` under the names [`PARAMETERS`] uses: the `bert.` prefix added where a `BertModel`
/// checkpoint leaves it out, old `LayerNorm.gamma`/`beta` renamed, `position_ids` buffers
/// dropped.
pub fn normalised(raw: HfTensors) -> HfTensors {
    let mut tensors = HfTensors::new();
    for (name, tensor) in raw {
        if name.ends_with("position_ids") {
            continue;
        }
        let name = name
            .replace("LayerNorm.gamma", "LayerNorm.weight")
            .replace("LayerNorm.beta", "LayerNorm.bias");
        let prefixless = ["embeddings.", "encoder.", "pooler."]
            .iter()
            .any(|p| name.starts_with(p));
        let name = if prefixless {
            format!("bert.{name}")
        } else {
            name
        };
        tensors.insert(name, tensor);
    }
    tensors
}

/// The Hugging Face names of a model's parameters with `layers` encoder layers, in module
/// order.
pub fn hf_names(layers: usize) -> Vec<String> {
    let mut names = Vec::new();
    let mut rows = PARAMETERS.iter().map(|(_, hf, _)| *hf).peekable();
    while let Some(hf) = rows.next() {
        if !hf.contains("{i}") {
            names.push(hf.to_string());
            continue;
        }
        // A layer's rows are adjacent: all of layer 0's, then all of layer 1's, …
        let mut layer = vec![hf];
        while let Some(next) = rows.next_if(|n| n.contains("{i}")) {
            layer.push(next);
        }
        for i in 0..layers {
            names.extend(layer.iter().map(|row| row.replace("{i}", &i.to_string())));
        }
    }
    names
}

/// The model's parameters under Hugging Face names and layouts.
pub fn export_hf<B: Backend>(model: &BertForPreTraining<B>) -> HfTensors {
    struct Exporter {
        path: PathStack,
        out: HfTensors,
    }
    impl<B: Backend> ModuleVisitor<B> for Exporter {
        fn enter_module(&mut self, name: &str, _container: &str) {
            self.path.enter(name);
        }
        fn exit_module(&mut self, _name: &str, _container: &str) {
            self.path.exit();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let (name, kind) = describe(&self.path.0);
            let tensor = param.val();
            let shape = tensor.dims().to_vec();
            let values: Vec<f32> = crate::device::read(tensor).iter::<f32>().collect();
            let entry = match kind {
                ParamKind::Weight => (
                    vec![shape[1], shape[0]],
                    transposed(&values, shape[0], shape[1]),
                ),
                _ => (shape, values),
            };
            self.out.insert(name, entry);
        }
    }
    let mut exporter = Exporter {
        path: PathStack::default(),
        out: HfTensors::new(),
    };
    model.visit(&mut exporter);
    exporter.out
}

#[cfg(test)]
mod tests {
    use burn::backend::Flex;

    use super::*;
    use crate::model::BertConfig;

    #[test]
    fn every_parameter_has_a_row_and_every_row_a_parameter() {
        let config = BertConfig::tiny().with_num_hidden_layers(1);
        let model = config.init::<Flex>(0, &Default::default());
        let names: Vec<String> = export_hf(&model).into_keys().collect();
        assert_eq!(names.len(), PARAMETERS.len());
        let two_layers = BertConfig::tiny().init::<Flex>(0, &Default::default());
        let mut listed = hf_names(2);
        listed.sort();
        let exported: Vec<String> = export_hf(&two_layers).into_keys().collect();
        assert_eq!(listed, exported, "hf_names lists the model's parameters");
        for (_, hf, _) in PARAMETERS {
            assert!(names.contains(&hf.replace("{i}", "0")), "{hf}");
        }
    }
}
