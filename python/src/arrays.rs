//! Examples and padded batches as dicts of numpy arrays (int64, what PyTorch's embedding
//! and loss layers take), made from the decoded values without a Python object per token.

use earlyberts_format::{Example, PaddedBatch};
use earlyberts_pipeline::exposure::table::{Column, Table};
use numpy::{IntoPyArray, PyArrayMethods};
use pyo3::{
    exceptions::PyImportError,
    prelude::*,
    types::{PyDict, PyList},
};

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

/// A long table of `pipeline exposure` as a dict of 1-D numpy arrays under its column names
/// (counts uint64, token ids uint32, text as object arrays, a missing first step as -1), or
/// as a `pandas.DataFrame` (a missing first step as `<NA>`) when `as_frame` is true, or is
/// `None` and pandas imports.
pub fn table<'py>(
    py: Python<'py>,
    table: &Table,
    as_frame: Option<bool>,
) -> PyResult<Bound<'py, PyAny>> {
    let pandas = match as_frame {
        Some(false) => None,
        None => py.import("pandas").ok(),
        Some(true) => Some(py.import("pandas").map_err(|e| {
            PyImportError::new_err(format!(
                "as_frame=True needs pandas ({e}); install it with `pip install pandas`, or pass as_frame=False for numpy arrays"
            ))
        })?),
    };
    let numpy = py.import("numpy")?;
    let dict = PyDict::new(py);
    for (name, column) in &table.columns {
        let array = match column {
            Column::U64(v) => v.clone().into_pyarray(py).into_any(),
            Column::U32(v) => v.clone().into_pyarray(py).into_any(),
            Column::Text(v) => {
                let kwargs = PyDict::new(py);
                kwargs.set_item("dtype", "object")?;
                numpy.call_method("array", (PyList::new(py, v)?,), Some(&kwargs))?
            }
            Column::MaybeU64(v) => match &pandas {
                Some(pandas) => pandas.call_method1("array", (PyList::new(py, v)?, "UInt64"))?,
                None => {
                    let signed = v.iter().map(|x| x.map_or(-1, |x| x as i64));
                    signed.collect::<Vec<i64>>().into_pyarray(py).into_any()
                }
            },
        };
        dict.set_item(*name, array)?;
    }
    match pandas {
        Some(pandas) => pandas.call_method1("DataFrame", (dict,)),
        None => Ok(dict.into_any()),
    }
}
