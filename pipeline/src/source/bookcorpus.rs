//! The original BookCorpus archive (`bookcorpus.tar.bz2`): text files, one row per line,
//! read streaming through bzip2 and tar without unpacking to disk.
//!
//! Files are read in archive order (`books_large_p1.txt`, then `books_large_p2.txt`). Rows
//! are what the Hugging Face `bookcorpus` builder made of them, which the reference used:
//! the file read as UTF-8 in universal-newline mode (a line ends at `\n`, `\r\n` or a lone
//! `\r`), each line stripped by Python's `str.strip()`, empty lines kept. Decompression runs
//! on a thread of its own, a few chunks ahead of the consumer (bzip2 is the slow part).

use std::{
    fs::File,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    sync::mpsc::{Receiver, SyncSender, sync_channel},
    thread,
};

use super::{CHUNK_TEXTS, Chunk, CorpusReader};
use crate::{Error, Result};

/// Chunks decoded ahead of the consumer.
const READ_AHEAD: usize = 4;

/// Streams the lines of the text files in a `.tar.bz2` archive.
pub struct BookArchiveReader {
    chunks: Receiver<Result<Chunk>>,
    compressed_bytes: u64,
}

/// bzip2 shrinks English text about fourfold (BookCorpus: 1.18 GB → 4.85 GB).
pub(crate) const BZIP2_TEXT_RATIO: u64 = 4;

impl BookArchiveReader {
    /// Opens the archive and starts decoding it.
    pub fn open(path: &Path) -> Result<BookArchiveReader> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let compressed_bytes = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let (sender, chunks) = sync_channel(READ_AHEAD);
        let path = path.to_path_buf();
        thread::Builder::new()
            .name("bookcorpus-reader".into())
            .spawn(move || {
                if let Err(e) = read_archive(&path, file, &sender) {
                    let _ = sender.send(Err(e));
                }
            })
            .map_err(|e| Error::io("<thread>", e))?;
        Ok(BookArchiveReader {
            chunks,
            compressed_bytes,
        })
    }
}

impl CorpusReader for BookArchiveReader {
    fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        // A closed channel means the reader thread finished every file.
        self.chunks.recv().ok().transpose()
    }

    fn text_bytes_hint(&self) -> u64 {
        self.compressed_bytes * BZIP2_TEXT_RATIO
    }
}

fn corrupt(path: &Path, reason: String) -> Error {
    Error::Corpus {
        path: PathBuf::from(path),
        format: "tar.bz2",
        reason,
    }
}

/// Sends every line of every regular file as chunks; stops early if the consumer is gone.
fn read_archive(path: &Path, file: File, sender: &SyncSender<Result<Chunk>>) -> Result<()> {
    let decoder = bzip2::read::MultiBzDecoder::new(BufReader::with_capacity(1 << 20, file));
    let mut archive = tar::Archive::new(decoder);
    let entries = archive
        .entries()
        .map_err(|e| corrupt(path, e.to_string()))?;
    let mut chunk = Chunk::default();
    let mut bytes = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| corrupt(path, e.to_string()))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut reader = BufReader::with_capacity(1 << 20, entry);
        for line in 1u64.. {
            bytes.clear();
            let n = reader
                .read_until(b'\n', &mut bytes)
                .map_err(|e| corrupt(path, format!("{name}: {e}")))?;
            if n == 0 {
                break;
            }
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| corrupt(path, format!("{name}: line {line} is not valid UTF-8")))?;
            for row in universal_lines(text) {
                let row = python_strip(row);
                chunk.bytes += row.len() as u64;
                chunk.texts.push(row.to_owned());
            }
            if chunk.texts.len() >= CHUNK_TEXTS
                && sender.send(Ok(std::mem::take(&mut chunk))).is_err()
            {
                return Ok(());
            }
        }
    }
    if !chunk.texts.is_empty() {
        let _ = sender.send(Ok(chunk));
    }
    Ok(())
}

/// Python's `str.isspace()`: Unicode whitespace plus the separators U+001C–U+001F.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()` without arguments.
fn python_strip(text: &str) -> &str {
    text.trim_matches(is_python_space)
}

/// The lines of `text` (which holds at most one `\n`, at its end) in universal-newline
/// mode: a lone `\r` ends a line too, and `\r\n` is one line end.
fn universal_lines(text: &str) -> impl Iterator<Item = &str> {
    let body = match text.strip_suffix('\n') {
        Some(body) => body.strip_suffix('\r').unwrap_or(body),
        // The end of the file: a `\r` there ends the last line.
        None => text.strip_suffix('\r').unwrap_or(text),
    };
    body.split('\r')
}

#[cfg(test)]
mod tests {
    use super::{python_strip, universal_lines};

    #[test]
    fn strip_is_pythons() {
        assert_eq!(python_strip("\u{1c}\t a b \u{a0}\u{3000}\u{2028}"), "a b");
        assert_eq!(
            python_strip("\u{feff}x"),
            "\u{feff}x",
            "a BOM is not whitespace"
        );
        assert_eq!(
            python_strip("\u{200b}x"),
            "\u{200b}x",
            "nor a zero-width space"
        );
    }

    #[test]
    fn lines_end_as_in_python_text_mode() {
        fn lines(t: &str) -> Vec<&str> {
            universal_lines(t).collect()
        }
        assert_eq!(lines("a\n"), ["a"]);
        assert_eq!(lines("a\r\n"), ["a"]);
        assert_eq!(lines("a\rb\n"), ["a", "b"]);
        assert_eq!(lines("a\r\rb\r\n"), ["a", "", "b"]);
        assert_eq!(lines("last"), ["last"]);
        assert_eq!(lines("last\r"), ["last"]);
        assert_eq!(lines("\n"), [""]);
        assert_eq!(lines("\r\n"), [""]);
        assert_eq!(lines("a\r\r\n"), ["a", ""]);
    }
}
