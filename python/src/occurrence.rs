//! `Occurrence`: one line of `pipeline where`, as a Python record.

use earlyberts_pipeline::provenance::Sighting;
use pyo3::{prelude::*, types::PyDict};

/// Where the model saw what `Build.where` looked for: at optimizer step `step`, in example
/// `example` (training order), segment `"A"` or `"B"`, made from store sentence `sentence`
/// of document `document`, at token positions `positions` (`(start, end)`, end excluded;
/// empty when the length cut removed the sentence), `masked` of them labelled for MLM.
#[pyclass(module = "earlyberts", frozen, eq, get_all)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Occurrence {
    pub step: u64,
    pub example: u64,
    pub segment: &'static str,
    pub sentence: u32,
    pub document: u32,
    pub positions: (u16, u16),
    pub masked: u16,
}

impl From<&Sighting> for Occurrence {
    fn from(s: &Sighting) -> Occurrence {
        Occurrence {
            step: s.step,
            example: s.example,
            segment: match s.segment {
                earlyberts_format::provenance::Segment::A => "A",
                earlyberts_format::provenance::Segment::B => "B",
            },
            sentence: s.sentence,
            document: s.document,
            positions: (s.positions[0], s.positions[1]),
            masked: s.masked,
        }
    }
}

#[pymethods]
impl Occurrence {
    fn __repr__(&self) -> String {
        format!(
            "Occurrence(step={}, example={}, segment='{}', sentence={}, document={}, positions=({}, {}), masked={})",
            self.step,
            self.example,
            self.segment,
            self.sentence,
            self.document,
            self.positions.0,
            self.positions.1,
            self.masked
        )
    }

    /// The fields as a dict, the keys of `pipeline where --format jsonl`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        dict.set_item("step", self.step)?;
        dict.set_item("example", self.example)?;
        dict.set_item("segment", self.segment)?;
        dict.set_item("sentence", self.sentence)?;
        dict.set_item("document", self.document)?;
        dict.set_item("positions", [self.positions.0, self.positions.1])?;
        dict.set_item("masked", self.masked)?;
        Ok(dict)
    }
}
