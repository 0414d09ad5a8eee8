//! `Build`: one build directory, read as `pipeline inspect`, `pipeline where` and the
//! trainer read it.

use std::{path::PathBuf, sync::OnceLock};

use earlyberts_format::{
    Build as BuildDir, Invalid, PaddedBatch, StepBatch, Vocab, provenance::ProvenanceIndex,
    verify::verify_build,
};
use earlyberts_pipeline::{
    exposure::{self, Terms, cache::cached_token_exposure, table::Table, term_exposure},
    provenance::{Query, Steps, open_index, sightings},
};
use pyo3::{
    exceptions::{PyIndexError, PyValueError},
    prelude::*,
    types::{PyDict, PyList},
};

use crate::{arrays, build_error, occurrence::Occurrence};

/// A build directory (`pipeline build --out DIR`): its examples in training order, the
/// batch each optimizer step trains on, and where the model saw a sentence, a document or
/// a piece of text. Opening reads only `manifest.json`; `verify()` checks every shard.
#[pyclass(module = "earlyberts", frozen)]
pub struct Build {
    build: BuildDir,
    vocab: Option<PathBuf>,
    /// Read on first need (padding, decoding, text queries).
    vocabulary: OnceLock<Vocab>,
    /// Opened by the first `where`.
    index: OnceLock<ProvenanceIndex>,
}

#[pymethods]
impl Build {
    /// Opens the build in `path`; `vocab` is the vocab.txt its ids refer to when it is not
    /// the built-in uncased BERT vocabulary.
    #[new]
    #[pyo3(signature = (path, vocab = None))]
    fn new(path: PathBuf, vocab: Option<PathBuf>) -> PyResult<Build> {
        let build = BuildDir::open(&path).map_err(|e| {
            build_error(format!(
                "cannot open build '{}': {}",
                path.display(),
                earlyberts_format::one_line(&e)
            ))
        })?;
        Ok(Build {
            build,
            vocab,
            vocabulary: OnceLock::new(),
            index: OnceLock::new(),
        })
    }

    /// Recomputes every shard's payload hash and counts and checks them against the
    /// manifest (in parallel, without the GIL); raises `BuildError` naming the first shard
    /// that differs.
    fn verify(&self, py: Python<'_>) -> PyResult<()> {
        let dir = self.build.dir().to_path_buf();
        let report = py
            .detach(|| verify_build(&dir, None, &()))
            .map_err(build_error)?;
        match report.problems.first() {
            None => Ok(()),
            Some(problem) => Err(build_error(format!(
                "'{}' does not verify: {problem}",
                dir.display()
            ))),
        }
    }

    fn __len__(&self) -> usize {
        self.build.len() as usize
    }

    fn __repr__(&self) -> String {
        let m = self.build.manifest();
        format!(
            "Build('{}', recipe='{}', seed={}, examples={})",
            self.build.dir().display(),
            m.recipe.name,
            m.seed,
            m.len()
        )
    }

    /// The build's `manifest.json`, as a dict.
    #[getter]
    fn manifest<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let text = serde_json::to_string(self.build.manifest()).map_err(build_error)?;
        py.import("json")?.call_method1("loads", (text,))
    }

    /// The seed the build was made for.
    #[getter]
    fn seed(&self) -> u64 {
        self.build.manifest().seed
    }

    /// The recipe's name (`earlyberts`, `earlyberts-keyed`, …).
    #[getter]
    fn recipe(&self) -> String {
        self.build.manifest().recipe.name.clone()
    }

    /// Examples per optimizer step: the recipe's `training.batch_size`, else 256.
    #[getter]
    fn batch_size(&self) -> u64 {
        self.build.manifest().batch_size()
    }

    /// Example `index` of the training order (negative counts from the end): `input_ids`,
    /// `token_type_ids`, `mlm_positions`, `mlm_labels` (int64 arrays) and
    /// `next_sentence_label`.
    fn example<'py>(&self, py: Python<'py>, index: i64) -> PyResult<Bound<'py, PyDict>> {
        let index = self.position(index)?;
        let example = self.build.example(index).map_err(build_error)?;
        arrays::example(py, &example)
    }

    /// Examples `start` to `stop` (excluded), as a list of `example()` dicts; the shards'
    /// blocks are decoded once.
    fn examples<'py>(
        &self,
        py: Python<'py>,
        start: u64,
        stop: u64,
    ) -> PyResult<Bound<'py, PyList>> {
        if start > stop || stop > self.build.len() {
            return Err(PyIndexError::new_err(format!(
                "examples({start}, {stop}): the build holds examples 0..{}",
                self.build.len()
            )));
        }
        let examples = py
            .detach(|| self.build.read_range(start..stop))
            .map_err(build_error)?;
        let dicts = examples
            .iter()
            .map(|e| arrays::example(py, e))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, dicts)
    }

    /// The batch optimizer step `step` (from 1) trains on — examples
    /// `[B·(step−1), B·step)`, wrapping at the end of the build as the trainer wraps —
    /// padded to its longest sequence as `BertForPreTraining` takes it: `input_ids`,
    /// `token_type_ids`, `attention_mask`, `labels` (-100 where unlabelled) as
    /// `[B, seq]` int64 arrays and `next_sentence_label` as `[B]`; torch tensors with
    /// `as_torch=True`. `batch_size` defaults to the recipe's; `micro_batch` pads that many
    /// examples at a time, as the reference trained, and returns a list of batches.
    #[pyo3(signature = (step, batch_size = None, as_torch = false, micro_batch = None))]
    fn step<'py>(
        &self,
        py: Python<'py>,
        step: u64,
        batch_size: Option<u64>,
        as_torch: bool,
        micro_batch: Option<u64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let batch_size = batch_size.unwrap_or(self.build.manifest().batch_size());
        let batch = StepBatch::new(step, batch_size, self.build.len())
            .map_err(|reason| PyValueError::new_err(format!("step({step}): {reason}")))?;
        let pad = self.vocabulary()?.special().pad;
        let examples = py
            .detach(|| self.build.read_step(&batch))
            .map_err(build_error)?;
        let Some(micro) = micro_batch else {
            let padded = PaddedBatch::new(&examples, pad, 0);
            return Ok(arrays::batch(py, padded, as_torch)?.into_any());
        };
        if micro == 0 || !batch_size.is_multiple_of(micro) {
            return Err(PyValueError::new_err(format!(
                "micro_batch={micro} does not divide the batch size {batch_size}"
            )));
        }
        let batches = examples
            .chunks(micro as usize)
            .map(|chunk| arrays::batch(py, PaddedBatch::new(chunk, pad, 0), as_torch))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(PyList::new(py, batches)?.into_any())
    }

    /// Where the model saw a piece of `text` (tokenized with the build's vocabulary),
    /// store sentence `sentence` or every sentence of document `document` — one of the
    /// three: a list of `Occurrence`s by step, as `pipeline where` prints them. `first`
    /// keeps the first step that has any; `until_step` adds the steps of later passes over
    /// the data.
    #[pyo3(signature = (text = None, sentence = None, document = None, first = false, until_step = None, batch_size = None))]
    #[allow(clippy::too_many_arguments)]
    fn r#where(
        &self,
        py: Python<'_>,
        text: Option<String>,
        sentence: Option<u32>,
        document: Option<u32>,
        first: bool,
        until_step: Option<u64>,
        batch_size: Option<u64>,
    ) -> PyResult<Vec<Occurrence>> {
        let query = match (text, sentence, document) {
            (Some(text), None, None) => Query::text(&text, self.vocabulary()?),
            (None, Some(n), None) => Ok(Query::Sentence(n)),
            (None, None, Some(d)) => Ok(Query::Document(d)),
            _ => {
                return Err(PyValueError::new_err(
                    "where() takes exactly one of text=, sentence= or document=",
                ));
            }
        }
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let steps = Steps {
            batch_size: batch_size.unwrap_or(self.build.manifest().batch_size()),
            first,
            until: until_step,
        };
        let index = self.index()?;
        let found = py
            .detach(|| sightings(&self.build, index, &query, steps))
            .map_err(|e| match e {
                earlyberts_pipeline::Error::Invalid(e) => PyValueError::new_err(e.to_string()),
                e => build_error(e),
            })?;
        Ok(found.lines.iter().map(Occurrence::from).collect())
    }

    /// How often each token had been seen and been an MLM target by each step, as
    /// `pipeline exposure` counts it: one row per step and token id (`step`, `token_id`,
    /// `token`, `seen`, `target`, `masked`, `kept`, `replaced`). With `terms` (words or
    /// phrases, each tokenized as the build tokenizes): one row per step and term (`step`,
    /// `term`, `tokens`, `seen`, `fully_masked`, `partly_masked`, `first_step`). `steps`
    /// defaults to the EarlyBERTs checkpoint steps, `batch_size` to the recipe's. A
    /// `pandas.DataFrame` when pandas is installed (or `as_frame=True`), else a dict of
    /// numpy arrays. Token counts are cached beside the build.
    #[pyo3(signature = (steps = None, terms = None, batch_size = None, as_frame = None))]
    fn exposure<'py>(
        &self,
        py: Python<'py>,
        steps: Option<Vec<u64>>,
        terms: Option<Vec<String>>,
        batch_size: Option<u64>,
        as_frame: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if steps.as_ref().is_some_and(Vec::is_empty) {
            return Err(PyValueError::new_err(
                "steps=[]: give at least one step, or None for the checkpoint steps",
            ));
        }
        let steps = steps.unwrap_or_default();
        let value_error = |e: earlyberts_pipeline::Error| match e {
            earlyberts_pipeline::Error::Invalid(Invalid::TooSmall { field, value, .. }) => {
                PyValueError::new_err(match field.as_str() {
                    "steps" => "exposure(): steps are numbered from 1".to_string(),
                    "batch_size" => {
                        format!("exposure(batch_size={value}): a step holds at least 1 example")
                    }
                    _ => "exposure(): the build holds no examples".to_string(),
                })
            }
            earlyberts_pipeline::Error::Invalid(e) => {
                PyValueError::new_err(format!("exposure(): {e}"))
            }
            earlyberts_pipeline::Error::EmptyQuery { text } => {
                PyValueError::new_err(format!("term {text:?} has no tokens to count"))
            }
            e => build_error(e),
        };
        let points = exposure::points(&self.build, &steps, batch_size).map_err(value_error)?;
        let vocab = self.vocabulary()?;
        let table = match terms {
            Some(terms) => {
                if terms.is_empty() {
                    return Err(PyValueError::new_err("terms=[]: give at least one term"));
                }
                let terms = Terms::new(terms, vocab).map_err(value_error)?;
                let counted = py.detach(|| term_exposure(&self.build, &points, terms));
                Table::of_terms(&counted.map_err(value_error)?, vocab)
            }
            None => {
                let counted = py.detach(|| cached_token_exposure(&self.build, &points, vocab));
                Table::of_tokens(&counted.map_err(value_error)?.0, vocab)
            }
        };
        arrays::table(py, &table, as_frame)
    }

    /// Example `index` as `pipeline inspect` prints it: a header line, then the tokens,
    /// each labelled one followed by its label (`[CLS] the cat [MASK](sat) …`).
    fn decode(&self, index: i64) -> PyResult<String> {
        let index = self.position(index)?;
        let example = self.build.example(index).map_err(build_error)?;
        Ok(example.to_text(index, self.vocabulary()?))
    }
}

impl Build {
    /// A Python index (negative from the end) as a position in the build.
    fn position(&self, index: i64) -> PyResult<u64> {
        let len = self.build.len() as i64;
        let position = if index < 0 { index + len } else { index };
        if !(0..len).contains(&position) {
            return Err(PyIndexError::new_err(format!(
                "example {index} is out of range: the build holds {len} examples"
            )));
        }
        Ok(position as u64)
    }

    /// The vocabulary the build's ids refer to, checked against its manifest (read once).
    fn vocabulary(&self) -> PyResult<&Vocab> {
        if let Some(vocab) = self.vocabulary.get() {
            return Ok(vocab);
        }
        let vocab = Vocab::expecting(self.vocab.as_deref(), &self.build.manifest().vocab.sha256)
            .map_err(build_error)?;
        Ok(self.vocabulary.get_or_init(|| vocab))
    }

    fn index(&self) -> PyResult<&ProvenanceIndex> {
        if let Some(index) = self.index.get() {
            return Ok(index);
        }
        let index = open_index(&self.build).map_err(build_error)?;
        Ok(self.index.get_or_init(|| index))
    }
}
