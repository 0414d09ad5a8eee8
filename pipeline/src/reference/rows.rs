//! The row rules of the reference (reference-exact.md §8).
//!
//! - Wikipedia sentences went through a CSV file (`csv.writer(quoting=QUOTE_ALL)`) and back
//!   through `datasets`/pandas, which cuts a field at its first NUL and reads a field equal
//!   to one of pandas' default NA strings as a missing value, which `str()` makes `"None"`:
//!   [`csv_round_trip`].
//! - A 10,000-row chunk of that CSV whose every value is numeric or NA would have been parsed
//!   as numbers (or crashed the run): [`NumericChunks`] refuses such a corpus.
//! - BookCorpus rows are the Hugging Face builder's: lines in universal-newline mode,
//!   stripped by Python's `str.strip()` (`crate::source`'s BookCorpus reader applies it).

use std::borrow::Cow;

/// pandas' default NA strings (pandas 2.x: 1.5 lacks `"None"`, which reads the same).
pub const NA_STRINGS: [&str; 19] = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
];

/// Rows per chunk of pandas' CSV reading in `datasets` 2.14.
pub const CSV_CHUNK_ROWS: u64 = 10_000;

/// A Wikipedia sentence as the reference read it back from its CSV file.
pub fn csv_round_trip(sentence: &str) -> Cow<'_, str> {
    let cut = sentence.split('\0').next().unwrap_or("");
    if NA_STRINGS.contains(&cut) {
        Cow::Borrowed("None")
    } else {
        Cow::Borrowed(cut)
    }
}

/// Whether pandas could read `field` as a number or a missing value (a superset of what
/// it does: anything Rust reads as a float, after ASCII spaces, counts).
pub fn numeric_or_na(field: &str) -> bool {
    let cut = field.split('\0').next().unwrap_or("");
    NA_STRINGS.contains(&cut) || cut.trim_ascii().parse::<f64>().is_ok()
}

/// Watches the Wikipedia rows, in order, for a CSV chunk that pandas would read as numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NumericChunks {
    rows: u64,
    numeric_in_chunk: u64,
}

impl NumericChunks {
    /// Notes the next row; returns the chunk's first row if this row completes a chunk of
    /// numeric or NA values only.
    pub fn push(&mut self, numeric: bool) -> Option<u64> {
        self.numeric_in_chunk += u64::from(numeric);
        self.rows += 1;
        if !self.rows.is_multiple_of(CSV_CHUNK_ROWS) {
            return None;
        }
        let all = self.numeric_in_chunk == CSV_CHUNK_ROWS;
        self.numeric_in_chunk = 0;
        all.then(|| self.rows - CSV_CHUNK_ROWS)
    }

    /// At the end: the last, shorter chunk, if all its values are numeric or NA.
    pub fn finish(&self) -> Option<u64> {
        let tail = self.rows % CSV_CHUNK_ROWS;
        (tail > 0 && self.numeric_in_chunk == tail).then(|| self.rows - tail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_read_back_as_the_reference_read_them() {
        let cases = [
            ("a sentence .", "a sentence ."),
            ("NA", "None"),
            ("null", "None"),
            ("n/a", "None"),
            (" NA", " NA"),
            ("na", "na"),
            ("Nan", "Nan"),
            ("none", "none"),
            ("inf", "inf"),
            ("ab\0cd", "ab"),
            ("\0x", "None"),
            ("NA\0x", "None"),
            ("line\nbreak\r\nand\rcr", "line\nbreak\r\nand\rcr"),
            ("2007.", "2007."),
        ];
        for (row, read) in cases {
            assert_eq!(csv_round_trip(row), read, "{row:?}");
        }
        assert!(numeric_or_na("2007.") && numeric_or_na("NA") && numeric_or_na(" 1e5 "));
        assert!(!numeric_or_na("In 2007.") && !numeric_or_na("none"));
    }

    #[test]
    fn an_all_numeric_chunk_is_found() {
        let mut chunks = NumericChunks::default();
        let found: Vec<u64> = (0..3 * CSV_CHUNK_ROWS)
            .filter_map(|i| chunks.push((CSV_CHUNK_ROWS..2 * CSV_CHUNK_ROWS).contains(&i)))
            .collect();
        assert_eq!(found, [CSV_CHUNK_ROWS]);
        let mut short = NumericChunks::default();
        short.push(false);
        assert_eq!(short.finish(), None);
        let mut short = NumericChunks::default();
        short.push(true);
        assert_eq!(short.finish(), Some(0));
    }
}
