//! The reference's own sentence cache, `wiki-sentences.csv`: the header `"text"`, then one
//! spaCy sentence per record, every field quoted (`csv.writer(quoting=QUOTE_ALL,
//! lineterminator='\n')`: a `"` inside a field is doubled; line breaks stay inside quotes).
//!
//! Only that shape is accepted: anything else (another header, an unquoted field, a quote
//! left open at the end, bytes that are not UTF-8) is refused with the record's line number,
//! since a file the reference did not write cannot give its rows.

use std::{
    fs::File,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
};

use super::{CHUNK_TEXTS, Chunk, CorpusReader};
use crate::{Error, Result};

/// Streams the sentences of a `wiki-sentences.csv`.
pub struct SentenceCsvReader {
    path: PathBuf,
    input: BufReader<File>,
    /// Line of the file where the next record starts (1-based).
    line: u64,
    bytes: u64,
}

impl SentenceCsvReader {
    /// Opens `path` and checks its header.
    pub fn open(path: &Path) -> Result<SentenceCsvReader> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let bytes = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let mut reader = SentenceCsvReader {
            path: path.to_path_buf(),
            input: BufReader::with_capacity(1 << 20, file),
            line: 1,
            bytes,
        };
        match reader.record()? {
            Some(header) if header == "text" => Ok(reader),
            Some(header) => Err(reader.bad(1, format!("the header is {header:?}, not \"text\""))),
            None => Err(reader.bad(1, "the file is empty; it has no header \"text\"".into())),
        }
    }

    fn bad(&self, line: u64, reason: String) -> Error {
        Error::Corpus {
            path: self.path.clone(),
            format: "wiki-sentences.csv",
            reason: format!("line {line}: {reason}"),
        }
    }

    /// The next record's one field, unquoted; `None` at the end of the file.
    fn record(&mut self) -> Result<Option<String>> {
        let start = self.line;
        let mut raw = Vec::new();
        let n = self.read_until(b'"', &mut raw)?;
        if n == 0 {
            return Ok(None);
        }
        if raw != b"\"" {
            return Err(self.bad(start, "a field that is not quoted".into()));
        }
        let mut field = Vec::new();
        loop {
            raw.clear();
            if self.read_until(b'"', &mut raw)? == 0 || raw.last() != Some(&b'"') {
                return Err(self.bad(start, "a quote is never closed".into()));
            }
            raw.pop();
            field.extend_from_slice(&raw);
            let next = self
                .input
                .fill_buf()
                .map_err(|e| Error::io(&self.path, e))?;
            match next.first() {
                Some(b'"') => {
                    // A doubled quote stands for one.
                    field.push(b'"');
                    self.input.consume(1);
                }
                Some(b'\n') => {
                    self.input.consume(1);
                    self.line += 1;
                    break;
                }
                None => break,
                Some(other) => {
                    let c = char::from(*other);
                    return Err(self.bad(start, format!("{c:?} after a closing quote")));
                }
            }
        }
        String::from_utf8(field)
            .map(Some)
            .map_err(|_| self.bad(start, "not valid UTF-8".into()))
    }

    fn read_until(&mut self, byte: u8, out: &mut Vec<u8>) -> Result<usize> {
        let n = self
            .input
            .read_until(byte, out)
            .map_err(|e| Error::io(&self.path, e))?;
        self.line += out.iter().filter(|&&b| b == b'\n').count() as u64;
        Ok(n)
    }
}

impl CorpusReader for SentenceCsvReader {
    fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        let mut chunk = Chunk::default();
        while chunk.texts.len() < CHUNK_TEXTS {
            match self.record()? {
                Some(text) => {
                    chunk.bytes += text.len() as u64;
                    chunk.texts.push(text);
                }
                None => break,
            }
        }
        Ok((!chunk.texts.is_empty()).then_some(chunk))
    }

    fn text_bytes_hint(&self) -> u64 {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Result<Vec<String>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wiki-sentences.csv");
        std::fs::write(&path, bytes).unwrap();
        let mut reader = SentenceCsvReader::open(&path)?;
        let mut rows = Vec::new();
        while let Some(chunk) = reader.next_chunk()? {
            rows.extend(chunk.texts);
        }
        Ok(rows)
    }

    #[test]
    fn reads_what_csv_writer_wrote() {
        let text = b"\"text\"\n\"One.\"\n\"He said \"\"hi\"\".\"\n\"Line\nbreak\r\nand\rcr\"\n\"NA\"\n\"a\0b\"\n";
        assert_eq!(
            read(text).unwrap(),
            [
                "One.",
                "He said \"hi\".",
                "Line\nbreak\r\nand\rcr",
                "NA",
                "a\0b"
            ]
        );
        assert_eq!(read(b"\"text\"\n").unwrap(), Vec::<String>::new());
        assert_eq!(read(b"\"text\"\n\"last\"").unwrap(), ["last"]);
    }

    #[test]
    fn refuses_what_it_did_not_write() {
        let cases: [(&[u8], &str); 6] = [
            (b"", "no header"),
            (b"\"sentence\"\n\"a\"\n", "the header is \"sentence\""),
            (b"text\n\"a\"\n", "line 1: a field that is not quoted"),
            (
                b"\"text\"\n\"a\"\n\"open\n",
                "line 3: a quote is never closed",
            ),
            (b"\"text\"\n\"a\"x\n", "line 2: 'x' after a closing quote"),
            (b"\"text\"\n\"\xff\"\n", "line 2: not valid UTF-8"),
        ];
        for (bytes, needle) in cases {
            let err = read(bytes).unwrap_err().to_string();
            assert!(err.contains(needle), "{err:?} lacks {needle:?}");
            assert_eq!(err.lines().count(), 1, "{err}");
        }
    }
}
