//! Parquet files with a string column `text` (Wikipedia, BookCorpus conversions), read
//! record batch by record batch with arrow-rs.

use std::{
    fs::File,
    path::{Path, PathBuf},
};

use arrow_array::{Array, LargeStringArray, StringArray, StringViewArray};
use arrow_schema::DataType;
use parquet::arrow::{
    ProjectionMask,
    arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder},
};

use super::{CHUNK_TEXTS, Chunk, CorpusReader};
use crate::{Error, Result};

/// The column holding the text, in every corpus this project reads.
const TEXT_COLUMN: &str = "text";

/// Streams the `text` column of a parquet file.
pub struct ParquetTextReader {
    path: PathBuf,
    batches: ParquetRecordBatchReader,
    text_bytes: u64,
    /// Rows in the file, from its footer.
    rows: u64,
    row: u64,
}

impl ParquetTextReader {
    /// Opens `path` and checks it has a string column `text`.
    pub fn open(path: &Path) -> Result<ParquetTextReader> {
        let corrupt = |reason: String| Error::Corpus {
            path: path.to_path_buf(),
            format: "parquet",
            reason,
        };
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| corrupt(e.to_string()))?;
        let schema = builder.schema().clone();
        let Some((index, field)) = schema.column_with_name(TEXT_COLUMN) else {
            let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            return Err(corrupt(format!(
                "it has no column 'text' (columns: {})",
                names.join(", ")
            )));
        };
        if !matches!(
            field.data_type(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ) {
            return Err(corrupt(format!(
                "its column 'text' holds {}, not strings",
                field.data_type()
            )));
        }
        let text_bytes = builder
            .metadata()
            .row_groups()
            .iter()
            .filter_map(|group| group.columns().get(index))
            .map(|column| column.uncompressed_size().max(0) as u64)
            .sum();
        let rows = builder.metadata().file_metadata().num_rows().max(0) as u64;
        let mask = ProjectionMask::roots(builder.parquet_schema(), [index]);
        let batches = builder
            .with_projection(mask)
            .with_batch_size(CHUNK_TEXTS)
            .build()
            .map_err(|e| corrupt(e.to_string()))?;
        Ok(ParquetTextReader {
            path: path.to_path_buf(),
            batches,
            text_bytes,
            rows,
            row: 0,
        })
    }
}

impl CorpusReader for ParquetTextReader {
    fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        let Some(batch) = self.batches.next() else {
            return Ok(None);
        };
        let batch = batch.map_err(|e| Error::Corpus {
            path: self.path.clone(),
            format: "parquet",
            reason: format!("row {}: {e}", self.row),
        })?;
        let column = batch.column(0);
        let mut chunk = Chunk::default();
        let texts: Box<dyn Iterator<Item = Option<&str>>> = match column.data_type() {
            DataType::Utf8 => Box::new(
                column
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .expect("Utf8 is StringArray")
                    .iter(),
            ),
            DataType::LargeUtf8 => Box::new(
                column
                    .as_any()
                    .downcast_ref::<LargeStringArray>()
                    .expect("LargeUtf8 is LargeStringArray")
                    .iter(),
            ),
            _ => Box::new(
                column
                    .as_any()
                    .downcast_ref::<StringViewArray>()
                    .expect("Utf8View is StringViewArray")
                    .iter(),
            ),
        };
        for (i, text) in texts.enumerate() {
            let text = text.ok_or_else(|| Error::Corpus {
                path: self.path.clone(),
                format: "parquet",
                reason: format!("row {} has a null text", self.row + i as u64),
            })?;
            chunk.bytes += text.len() as u64;
            chunk.texts.push(text.to_owned());
        }
        self.row += chunk.texts.len() as u64;
        Ok(Some(chunk))
    }

    fn text_bytes_hint(&self) -> u64 {
        self.text_bytes
    }

    /// Batches fill across row groups: every chunk but the last holds [`CHUNK_TEXTS`] rows.
    fn chunk_count(&self) -> Option<usize> {
        Some(self.rows.div_ceil(CHUNK_TEXTS as u64) as usize)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, RecordBatch, StringArray};
    use parquet::{arrow::ArrowWriter, file::properties::WriterProperties};

    use super::*;

    /// The spaCy parts count a file's chunks from its footer: the reader must fill every
    /// chunk but the last, across row groups.
    #[test]
    fn chunks_fill_across_row_groups_as_the_footer_counts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("groups.parquet");
        let texts: Vec<String> = (0..2_500).map(|i| format!("article {i}")).collect();
        let column = Arc::new(StringArray::from(texts.clone())) as ArrayRef;
        let batch = RecordBatch::try_from_iter([("text", column)]).unwrap();
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(700))
            .build();
        let mut writer =
            ArrowWriter::try_new(File::create(&path).unwrap(), batch.schema(), Some(props))
                .unwrap();
        writer.write(&batch).unwrap();
        assert_eq!(writer.close().unwrap().num_row_groups(), 4);

        let mut reader = ParquetTextReader::open(&path).unwrap();
        let counted = reader.chunk_count();
        let mut sizes = Vec::new();
        let mut read = Vec::new();
        while let Some(chunk) = reader.next_chunk().unwrap() {
            sizes.push(chunk.texts.len());
            read.extend(chunk.texts);
        }
        assert_eq!(sizes, [1024, 1024, 452]);
        assert_eq!(counted, Some(sizes.len()));
        assert_eq!(read, texts);
    }
}
