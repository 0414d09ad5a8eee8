//! The exposure tables in long form (one row per step and token, or step and term), as
//! parquet, CSV or JSON lines; and a token table read back from parquet.

use std::{
    fs::File,
    io::{self, Write},
    path::Path,
    sync::Arc,
};

use arrow_array::{
    Array, ArrayRef, RecordBatch, StringArray, UInt32Array, UInt64Array, cast::AsArray,
    types::UInt64Type,
};
use arrow_schema::{DataType, Field, Schema};
use earlyberts_format::Vocab;
use parquet::{
    arrow::{ArrowWriter, arrow_reader::ParquetRecordBatchReaderBuilder},
    basic::{Compression, ZstdLevel},
    file::{metadata::KeyValue, properties::WriterProperties},
};

use super::{TERM_COUNTS, TOKEN_COUNTS, TermExposure, TokenExposure};
use crate::{Error, Result};

/// Rows of a parquet row group.
const ROWS: usize = 1 << 16;

/// A table's output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableFormat {
    Parquet,
    Csv,
    Jsonl,
}

/// One column of a long table.
pub enum Column {
    U64(Vec<u64>),
    U32(Vec<u32>),
    Text(Vec<String>),
    /// Empty in CSV, `null` in JSON and parquet where `None`.
    MaybeU64(Vec<Option<u64>>),
}

/// Named columns of equal length.
pub struct Table {
    pub columns: Vec<(&'static str, Column)>,
}

impl Table {
    /// Rows: step, token_id, token, then the counts of [`TOKEN_COUNTS`].
    pub fn of_tokens(exposure: &TokenExposure, vocab: &Vocab) -> Table {
        let v = exposure.vocab_size;
        let rows = exposure.steps.len() * v;
        let step = exposure
            .steps
            .iter()
            .flat_map(|&s| std::iter::repeat_n(s, v));
        let ids = (0..rows).map(|i| (i % v) as u32);
        let names: Vec<String> = (0..v)
            .map(|id| vocab.token(id as u16).unwrap_or("").to_string())
            .collect();
        let mut columns = vec![
            ("step", Column::U64(step.collect())),
            ("token_id", Column::U32(ids.collect())),
            (
                "token",
                Column::Text(names.iter().cycle().take(rows).cloned().collect()),
            ),
        ];
        for (name, counts) in TOKEN_COUNTS.into_iter().zip(&exposure.counts) {
            columns.push((name, Column::U64(counts.clone())));
        }
        Table { columns }
    }

    /// Rows: step, term, its WordPiece tokens, then the counts of [`TERM_COUNTS`] and the
    /// term's first step.
    pub fn of_terms(exposure: &TermExposure, vocab: &Vocab) -> Table {
        let terms = &exposure.terms;
        let n = terms.texts().len();
        let rows = exposure.steps.len() * n;
        let step = exposure
            .steps
            .iter()
            .flat_map(|&s| std::iter::repeat_n(s, n));
        let pieces: Vec<String> = terms
            .tokens()
            .iter()
            .map(|ids| {
                let names = ids.iter().map(|&id| vocab.token(id).unwrap_or("[?]"));
                names.collect::<Vec<_>>().join(" ")
            })
            .collect();
        let cycle = |v: &[String]| v.iter().cycle().take(rows).cloned().collect();
        let mut columns = vec![
            ("step", Column::U64(step.collect())),
            ("term", Column::Text(cycle(terms.texts()))),
            ("tokens", Column::Text(cycle(&pieces))),
        ];
        for (name, counts) in TERM_COUNTS.into_iter().zip(&exposure.counts) {
            columns.push((name, Column::U64(counts.clone())));
        }
        let firsts = exposure.first_step.iter().cycle().take(rows).copied();
        columns.push(("first_step", Column::MaybeU64(firsts.collect())));
        Table { columns }
    }

    fn rows(&self) -> usize {
        self.columns.first().map_or(0, |(_, c)| c.len())
    }

    /// Writes the table to `out` in `format`; parquet files carry `metadata`.
    pub fn write(
        &self,
        out: impl Write + Send,
        format: TableFormat,
        metadata: &[(String, String)],
    ) -> io::Result<()> {
        match format {
            TableFormat::Parquet => self.write_parquet(out, metadata).map_err(io::Error::other),
            TableFormat::Csv => self.write_text(out, Column::csv, true),
            TableFormat::Jsonl => self.write_text(out, Column::json, false),
        }
    }

    fn write_parquet(
        &self,
        out: impl Write + Send,
        metadata: &[(String, String)],
    ) -> parquet::errors::Result<()> {
        let fields: Vec<Field> = self
            .columns
            .iter()
            .map(|(name, c)| Field::new(*name, c.data_type(), matches!(c, Column::MaybeU64(_))))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let props = WriterProperties::builder()
            .set_created_by("earlyberts exposure".into())
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
            .set_max_row_group_row_count(Some(ROWS))
            .set_key_value_metadata(Some(
                metadata
                    .iter()
                    .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
                    .collect(),
            ))
            .build();
        let mut writer = ArrowWriter::try_new(out, schema.clone(), Some(props))?;
        for start in (0..self.rows().max(1)).step_by(ROWS) {
            let end = (start + ROWS).min(self.rows());
            let arrays = self.columns.iter().map(|(_, c)| c.slice(start..end));
            writer.write(&RecordBatch::try_new(schema.clone(), arrays.collect())?)?;
        }
        writer.close()?;
        Ok(())
    }

    /// CSV (with a header) or JSON lines, one row a line.
    fn write_text(
        &self,
        out: impl Write,
        cell: fn(&Column, usize, &mut String),
        header: bool,
    ) -> io::Result<()> {
        let mut out = io::BufWriter::new(out);
        let names: Vec<&str> = self.columns.iter().map(|(n, _)| *n).collect();
        if header {
            writeln!(out, "{}", names.join(","))?;
        }
        let mut line = String::new();
        for row in 0..self.rows() {
            line.clear();
            line.push_str(if header { "" } else { "{" });
            for (i, (name, column)) in self.columns.iter().enumerate() {
                if i > 0 {
                    line.push(',');
                }
                if !header {
                    line.push_str(&format!("\"{name}\":"));
                }
                cell(column, row, &mut line);
            }
            line.push_str(if header { "\n" } else { "}\n" });
            out.write_all(line.as_bytes())?;
        }
        out.flush()
    }
}

impl Column {
    fn len(&self) -> usize {
        match self {
            Column::U64(v) => v.len(),
            Column::U32(v) => v.len(),
            Column::Text(v) => v.len(),
            Column::MaybeU64(v) => v.len(),
        }
    }

    fn data_type(&self) -> DataType {
        match self {
            Column::U64(_) | Column::MaybeU64(_) => DataType::UInt64,
            Column::U32(_) => DataType::UInt32,
            Column::Text(_) => DataType::Utf8,
        }
    }

    fn slice(&self, rows: std::ops::Range<usize>) -> ArrayRef {
        match self {
            Column::U64(v) => Arc::new(UInt64Array::from(v[rows].to_vec())),
            Column::U32(v) => Arc::new(UInt32Array::from(v[rows].to_vec())),
            Column::Text(v) => Arc::new(StringArray::from(v[rows].to_vec())),
            Column::MaybeU64(v) => Arc::new(UInt64Array::from(v[rows].to_vec())),
        }
    }

    /// The cell of `row` as CSV: text quoted where it holds a comma, quote or line break.
    fn csv(&self, row: usize, out: &mut String) {
        match self {
            Column::Text(v) if v[row].contains([',', '"', '\n', '\r']) => {
                out.push('"');
                out.push_str(&v[row].replace('"', "\"\""));
                out.push('"');
            }
            Column::Text(v) => out.push_str(&v[row]),
            Column::MaybeU64(v) => {
                if let Some(x) = v[row] {
                    out.push_str(&x.to_string());
                }
            }
            other => other.number(row, out),
        }
    }

    /// The cell of `row` as a JSON value.
    fn json(&self, row: usize, out: &mut String) {
        match self {
            Column::Text(v) => {
                out.push_str(&serde_json::to_string(&v[row]).expect("a string serialises"))
            }
            Column::MaybeU64(v) => match v[row] {
                Some(x) => out.push_str(&x.to_string()),
                None => out.push_str("null"),
            },
            other => other.number(row, out),
        }
    }

    fn number(&self, row: usize, out: &mut String) {
        match self {
            Column::U64(v) => out.push_str(&v[row].to_string()),
            Column::U32(v) => out.push_str(&v[row].to_string()),
            _ => unreachable!("numbers only"),
        }
    }
}

/// A token table written by [`Table::of_tokens`] as parquet, read back with its metadata;
/// refused unless it holds `steps × vocab_size` rows in the order written. The table does
/// not hold its batch size: `batch_size` is the one it was counted at.
pub fn read_tokens(
    path: &Path,
    vocab_size: usize,
    batch_size: u64,
) -> Result<(TokenExposure, Vec<(String, String)>)> {
    let bad = |reason: String| Error::Exposure {
        path: path.to_path_buf(),
        reason,
    };
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| bad(e.to_string()))?;
    let metadata = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|kv| {
            let pairs = kv
                .iter()
                .map(|e| (e.key.clone(), e.value.clone().unwrap_or_default()));
            pairs.collect()
        })
        .unwrap_or_default();
    let mut columns: Vec<Vec<u64>> = vec![Vec::new(); 2 + TOKEN_COUNTS.len()];
    let names = ["step", "token_id"].into_iter().chain(TOKEN_COUNTS);
    let names: Vec<&str> = names.collect();
    for batch in builder.build().map_err(|e| bad(e.to_string()))? {
        let batch = batch.map_err(|e| bad(e.to_string()))?;
        for (column, name) in columns.iter_mut().zip(&names) {
            let array = batch
                .column_by_name(name)
                .ok_or_else(|| bad(format!("has no column '{name}'")))?;
            let array = arrow_cast(array.as_ref(), name).map_err(bad)?;
            column.extend(array);
        }
    }
    let exposure = tokens_from_columns(columns, vocab_size, batch_size).map_err(bad)?;
    Ok((exposure, metadata))
}

/// A column's values as u64 (the writer's UInt64 or UInt32).
fn arrow_cast(array: &dyn Array, name: &str) -> std::result::Result<Vec<u64>, String> {
    if array.null_count() > 0 {
        return Err(format!("column '{name}' has nulls"));
    }
    match array.data_type() {
        DataType::UInt64 => Ok(array.as_primitive::<UInt64Type>().values().to_vec()),
        DataType::UInt32 => Ok(array
            .as_primitive::<arrow_array::types::UInt32Type>()
            .values()
            .iter()
            .map(|&x| u64::from(x))
            .collect()),
        other => Err(format!(
            "column '{name}' is {other}, not an unsigned integer"
        )),
    }
}

fn tokens_from_columns(
    mut columns: Vec<Vec<u64>>,
    vocab_size: usize,
    batch_size: u64,
) -> std::result::Result<TokenExposure, String> {
    let rows = columns[0].len();
    if vocab_size == 0 || rows == 0 || !rows.is_multiple_of(vocab_size) {
        return Err(format!(
            "{rows} rows are not whole steps of {vocab_size} tokens"
        ));
    }
    let (step, id) = (&columns[0], &columns[1]);
    let in_order =
        (0..rows).all(|i| id[i] == (i % vocab_size) as u64 && step[i] == step[i - i % vocab_size]);
    let steps: Vec<u64> = step.iter().step_by(vocab_size).copied().collect();
    if !in_order || !steps.is_sorted() {
        return Err("its rows are not by step, then token id".into());
    }
    let counts = std::array::from_fn(|kind| std::mem::take(&mut columns[2 + kind]));
    Ok(TokenExposure {
        steps,
        batch_size,
        vocab_size,
        counts,
    })
}
