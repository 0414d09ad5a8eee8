//! Stage 1, deal: chunks of documents from every input in order, a window at a time.
//!
//! A window fills across file boundaries, so a corpus cut into many small files keeps the
//! threads as busy as one large file does. Only one input is open at a time: memory does
//! not grow with the number of inputs.

use std::path::{Path, PathBuf};

use earlyberts_format::verify::Progress;

use super::resume::{Position, STORE_CHECKPOINT};
use crate::{
    Error, Result,
    source::{self, Chunk, ChunkAt, CorpusKind, CorpusReader},
};

/// A chunk, where it lies, and what it is.
pub(super) struct Dealt {
    pub at: ChunkAt,
    pub kind: CorpusKind,
    pub chunk: Chunk,
    /// The first chunk of its file in this run (not when the run resumes inside the file).
    /// A BookCorpus file or a sentence CSV with no chunk at all is dealt as one empty
    /// chunk, so that it counts as a document as it always has.
    pub opens_file: bool,
}

/// Deals the chunks of `inputs` (those whose kind `wanted` says), in order.
pub(super) struct Dealer<'a> {
    inputs: &'a [(CorpusKind, PathBuf)],
    wanted: fn(CorpusKind) -> bool,
    next_input: usize,
    open: Option<Open>,
    /// Where an interrupted run stopped: nothing before it is dealt.
    resume: Option<Position>,
    progress: &'a dyn Progress,
}

/// The input being read.
struct Open {
    reader: Box<dyn CorpusReader>,
    input: usize,
    kind: CorpusKind,
    chunk: usize,
    texts: u64,
    dealt_any: bool,
}

impl<'a> Dealer<'a> {
    pub fn new(
        inputs: &'a [(CorpusKind, PathBuf)],
        wanted: fn(CorpusKind) -> bool,
        resume: Option<Position>,
        progress: &'a dyn Progress,
    ) -> Dealer<'a> {
        Dealer {
            inputs,
            wanted,
            next_input: resume.map_or(0, |r| r.input),
            open: None,
            resume,
            progress,
        }
    }

    /// The next `n` chunks (fewer at the end; none once every input is read).
    pub fn window(&mut self, n: usize) -> Result<Vec<Dealt>> {
        let mut window = Vec::with_capacity(n);
        while window.len() < n {
            match self.next()? {
                Some(dealt) => window.push(dealt),
                None => break,
            }
        }
        Ok(window)
    }

    fn next(&mut self) -> Result<Option<Dealt>> {
        loop {
            let Some(open) = &mut self.open else {
                if !self.open_next()? {
                    return Ok(None);
                }
                continue;
            };
            let opens_file = !open.dealt_any;
            let chunk = match open.reader.next_chunk()? {
                Some(chunk) => chunk,
                // An empty file of single sentences is still a document.
                None if opens_file && open.kind.is_one_document_a_file() => Chunk::default(),
                None => {
                    self.open = None;
                    continue;
                }
            };
            let at = ChunkAt {
                input: open.input,
                chunk: open.chunk,
                first_text: open.texts,
            };
            open.chunk += 1;
            open.texts += chunk.texts.len() as u64;
            open.dealt_any = true;
            return Ok(Some(Dealt {
                at,
                kind: open.kind,
                chunk,
                opens_file,
            }));
        }
    }

    /// Opens the next wanted input; `false` when there is none. In the input a resumed run
    /// stopped in, the chunks before its position are read (not processed).
    fn open_next(&mut self) -> Result<bool> {
        while self.next_input < self.inputs.len() {
            let input = self.next_input;
            self.next_input += 1;
            let (kind, path) = &self.inputs[input];
            if !(self.wanted)(*kind) {
                continue;
            }
            let mut open = Open {
                reader: source::open(path)?,
                input,
                kind: *kind,
                chunk: 0,
                texts: 0,
                dealt_any: false,
            };
            if let Some(resume) = self.resume.take().filter(|r| r.input == input) {
                self.skip(&mut open, resume.chunk, path)?;
            }
            self.open = Some(open);
            return Ok(true);
        }
        Ok(false)
    }

    fn skip(&self, open: &mut Open, chunks: usize, path: &Path) -> Result<()> {
        for _ in 0..chunks {
            let chunk = open.reader.next_chunk()?.ok_or_else(|| Error::Store {
                path: PathBuf::from(STORE_CHECKPOINT),
                reason: format!("the checkpoint points past the end of '{}'", path.display()),
            })?;
            self.progress.advance(chunk.bytes);
            open.texts += chunk.texts.len() as u64;
        }
        open.chunk = chunks;
        // The run being resumed counted the file when it opened it.
        open.dealt_any = true;
        Ok(())
    }
}
