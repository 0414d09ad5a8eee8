//! The `--write-sentences` sink: Wikipedia's sentences, as split, in the reference's
//! `wiki-sentences.csv` form (to run the reference script, or `build --sentences`, on the
//! same rows).

use std::path::Path;

use earlyberts_format::AtomicFile;

use crate::Result;

/// Writes sentences as the reference's `csv.writer(quoting=QUOTE_ALL, lineterminator='\n')`
/// wrote them: header `"text"`, every field quoted, quotes doubled. The file appears, whole,
/// when it is committed.
pub struct SentenceCsvWriter {
    file: AtomicFile,
}

impl SentenceCsvWriter {
    pub fn create(path: &Path) -> Result<SentenceCsvWriter> {
        let mut file = AtomicFile::create(path)?;
        file.write_all(b"\"text\"\n")?;
        Ok(SentenceCsvWriter { file })
    }

    pub fn write(&mut self, sentences: &[String]) -> Result<()> {
        let mut out = String::new();
        for s in sentences {
            out.push('"');
            out.push_str(&s.replace('"', "\"\""));
            out.push_str("\"\n");
        }
        Ok(self.file.write_all(out.as_bytes())?)
    }

    pub fn commit(self) -> Result<()> {
        Ok(self.file.commit()?)
    }
}
