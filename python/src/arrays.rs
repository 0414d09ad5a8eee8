//! Examples and padded batches as dicts of numpy arrays (int64, what PyTorch's embedding
//! and loss layers take), made from the decoded values without a Python object per token.

use earlyberts_format::{Example, PaddedBatch};
use numpy::{IntoPyArray, PyArrayMethods};
use pyo3::{exceptions::PyImportError, prelude::*, types::PyDict};

fn widened<T: Copy + Into<i64>>(values: &[T]) -> Vec<i64> {
    values.iter().map(|&v| v.into()).collect()
}

/// `input_ids`, `token_type_ids`, `mlm_positions`, `mlm_labels` (1-D arrays) and
/// `next_sentence_label` (an int) of one example.
pub fn example<'py>(py: Python<'py>, e: &Example) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("input_ids", widened(&e.token_ids).into_pyarray(py))?;
    let types = widened(&e.segment_ids());
    dict.set_item("token_type_ids", types.into_pyarray(py))?;
    dict.set_item("mlm_positions", widened(&e.mlm_positions).into_pyarray(py))?;
    dict.set_item("mlm_labels", widened(&e.mlm_labels).into_pyarray(py))?;
    dict.set_item("next_sentence_label", e.nsp_label.id())?;
    Ok(dict)
}

/// A padded batch under `BertForPreTraining`'s argument names: `input_ids`,
/// `token_type_ids`, `attention_mask`, `labels` (`[batch, seq]`) and
/// `next_sentence_label` (`[batch]`); torch tensors (sharing the arrays' memory) when
/// `as_torch`.
pub fn batch<'py>(
    py: Python<'py>,
    padded: PaddedBatch,
    as_torch: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let shape = [padded.batch, padded.seq];
    let matrices = [
        ("input_ids", padded.input_ids),
        ("token_type_ids", padded.token_type_ids),
        ("attention_mask", padded.attention_mask),
        ("labels", padded.labels),
    ];
    let from_numpy = match as_torch {
        true => Some(torch_from_numpy(py)?),
        false => None,
    };
    let convert = |array: Bound<'py, PyAny>| match &from_numpy {
        Some(from_numpy) => from_numpy.call1((array,)),
        None => Ok(array),
    };
    let dict = PyDict::new(py);
    for (name, values) in matrices {
        let matrix = values.into_pyarray(py).reshape(shape)?;
        dict.set_item(name, convert(matrix.into_any())?)?;
    }
    let nsp = padded.next_sentence_label.into_pyarray(py).into_any();
    dict.set_item("next_sentence_label", convert(nsp)?)?;
    Ok(dict)
}

fn torch_from_numpy(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    let torch = py.import("torch").map_err(|e| {
        PyImportError::new_err(format!(
            "as_torch=True needs PyTorch ({e}); install it with `pip install torch`, or leave as_torch out for numpy arrays"
        ))
    })?;
    torch.getattr("from_numpy")
}
