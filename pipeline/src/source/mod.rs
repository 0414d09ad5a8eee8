//! `source`: reading the corpora as they are published, in bounded memory.
//!
//! A [`CorpusReader`] yields [`Chunk`]s of texts in file order: a record batch of a parquet
//! file, or a block of lines of the BookCorpus archive. What a text is depends on the
//! corpus ([`CorpusKind`]): a Wikipedia article (split into sentences later) or a BookCorpus
//! row (taken as one sentence, as the reference does).

mod bookcorpus;
pub mod fixture;
mod parquet;
mod sentences;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use self::{
    bookcorpus::BookArchiveReader, parquet::ParquetTextReader, sentences::SentenceCsvReader,
};
use crate::Result;

/// Which corpus a file belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CorpusKind {
    /// One article per row, column `text`; split into sentences.
    Wikipedia,
    /// One line of a book per row (column `text`, or a line of the archive's text files);
    /// each row is one sentence.
    Bookcorpus,
    /// Wikipedia already split: one sentence per record of the reference's
    /// `wiki-sentences.csv`; each record is one sentence.
    WikipediaSentences,
}

impl CorpusKind {
    /// Whether its rows are articles, each a document the splitter cuts into sentences
    /// (Wikipedia); the other kinds' rows are one sentence each, as they are.
    pub fn has_articles(self) -> bool {
        self == CorpusKind::Wikipedia
    }

    /// Whether each file is one document: BookCorpus has no book boundaries, the sentence
    /// CSV no article boundaries (an empty file is still one).
    pub fn is_one_document_a_file(self) -> bool {
        !self.has_articles()
    }

    /// Whether its text is Wikipedia's, split here or by the reference: the row rule and
    /// the `--write-sentences` export apply to it.
    pub fn is_wikipedia(self) -> bool {
        self != CorpusKind::Bookcorpus
    }
}

/// Texts read from a corpus file, in order.
#[derive(Debug, Default)]
pub struct Chunk {
    /// The texts.
    pub texts: Vec<String>,
    /// Bytes of text in `texts`.
    pub bytes: u64,
}

/// Where a chunk lies: chunk `chunk` (counted from 0) of input `input` (an index into a
/// build's inputs), whose first text is text `first_text` of its file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChunkAt {
    pub input: usize,
    pub chunk: usize,
    pub first_text: u64,
}

/// Reads a corpus file chunk by chunk.
pub trait CorpusReader: Send {
    /// The next chunk, or `None` at the end.
    fn next_chunk(&mut self) -> Result<Option<Chunk>>;
    /// About how many bytes of text the file holds, for progress and ETA: parquet records
    /// the column's uncompressed size; a bzip2 archive is estimated from its size.
    fn text_bytes_hint(&self) -> u64;
    /// How many chunks the file holds, where its index says so without reading it (parquet).
    fn chunk_count(&self) -> Option<usize> {
        None
    }
}

/// Texts per chunk: small enough for bounded memory, large enough to amortise the
/// parallel hand-off.
pub const CHUNK_TEXTS: usize = 1024;

/// About how many bytes of text `path` holds, from its footer or its size, without reading
/// it (as [`CorpusReader::text_bytes_hint`]).
pub fn text_bytes_estimate(path: &Path) -> Result<u64> {
    if path.to_string_lossy().ends_with(".parquet") {
        return Ok(ParquetTextReader::open(path)?.text_bytes_hint());
    }
    let len = std::fs::metadata(path)
        .map_err(|e| crate::Error::io(path, e))?
        .len();
    Ok(match path.to_string_lossy().ends_with(".tar.bz2") {
        true => len * bookcorpus::BZIP2_TEXT_RATIO,
        false => len,
    })
}

/// Opens `path` with the reader its extension calls for (`.parquet`, `.tar.bz2`, `.csv`).
pub fn open(path: &Path) -> Result<Box<dyn CorpusReader>> {
    let name = path.to_string_lossy();
    if name.ends_with(".csv") {
        Ok(Box::new(SentenceCsvReader::open(path)?))
    } else if name.ends_with(".parquet") {
        Ok(Box::new(ParquetTextReader::open(path)?))
    } else if name.ends_with(".tar.bz2") {
        Ok(Box::new(BookArchiveReader::open(path)?))
    } else {
        Err(crate::Error::Corpus {
            path: PathBuf::from(path),
            format: "corpus",
            reason: "unknown extension (expected .parquet, .tar.bz2 or .csv)".into(),
        })
    }
}
