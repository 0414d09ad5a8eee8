//! Stage 6, the sink: the chunks' sentences appended to the store in input order, with the
//! totals and counts `store.json` records, a checkpoint after each committed store shard
//! ([`super::resume`]), and the `--write-sentences` CSV beside it.

use std::path::PathBuf;

use super::{
    deal::Dealt,
    export::SentenceCsvWriter,
    resume::{Checkpoint, Position},
    stages::ChunkOutput,
};
use crate::{
    Error, Result,
    reference::rows::{CSV_CHUNK_ROWS, NumericChunks},
    stage::CleanCounts,
    store::{StoreFingerprint, StoreShard, StoreTotals, StoreWriter},
};

/// The store being written, with what it has counted so far.
pub(super) struct StoreSink {
    writer: StoreWriter,
    export: Option<SentenceCsvWriter>,
    totals: StoreTotals,
    counts: CleanCounts,
    numeric: NumericChunks,
    /// Where checkpoints go (a resumable store), and the fingerprint they record.
    checkpoints: Option<(StoreFingerprint, PathBuf)>,
    /// Where the run resumes, until its chunk is appended.
    resume: Option<Position>,
    /// The input files, by index: named when CSV rows are all numbers.
    files: Vec<PathBuf>,
}

/// What the sink wrote.
pub(super) struct Sunk {
    pub totals: StoreTotals,
    pub counts: CleanCounts,
    pub shards: Vec<StoreShard>,
}

impl StoreSink {
    /// A sink into `writer`, from what `checkpoint` says an interrupted run had written.
    pub fn new(
        writer: StoreWriter,
        export: Option<SentenceCsvWriter>,
        checkpoints: Option<(StoreFingerprint, PathBuf)>,
        checkpoint: Option<&Checkpoint>,
        files: Vec<PathBuf>,
    ) -> StoreSink {
        StoreSink {
            writer,
            export,
            totals: checkpoint.map_or_else(StoreTotals::default, |c| c.totals),
            counts: checkpoint.map_or_else(CleanCounts::default, |c| c.counts),
            numeric: checkpoint.map_or_else(NumericChunks::default, |c| c.numeric),
            checkpoints,
            resume: checkpoint.map(|c| c.at),
            files,
        }
    }

    /// Appends one processed chunk: its sentences (those a resumed run has not written
    /// yet), its exported sentences, its counts.
    pub fn append(&mut self, dealt: &Dealt, output: &ChunkOutput) -> Result<()> {
        // A file that is one document is counted when it opens.
        let one_document = dealt.kind.is_one_document_a_file();
        if one_document && dealt.opens_file {
            self.totals.documents += 1;
        }
        let first_document = match one_document {
            false => self.totals.documents,
            true => self.totals.documents - 1,
        };
        let skip = self.sentences_to_skip(dealt);
        if let Some(boundary) = self.write(output, first_document, skip)? {
            self.checkpoint(dealt, boundary)?;
        }
        if let Some(export) = &mut self.export {
            export.write(&output.texts)?;
        }
        for &n in &output.numeric {
            if let Some(row) = self.numeric.push(n) {
                return Err(all_numeric(&self.files[dealt.at.input], row));
            }
        }
        if !one_document {
            self.totals.documents += dealt.chunk.texts.len() as u64;
        }
        self.totals.sentences += output.lengths.len() as u64;
        self.totals.tokens += output.tokens.len() as u64;
        self.totals.text_bytes += dealt.chunk.bytes;
        self.counts.add(&output.counts);
        Ok(())
    }

    /// The store's last shard committed, the CSV committed.
    pub fn finish(self) -> Result<Sunk> {
        if let Some(row) = self.numeric.finish() {
            // Rows were read, so there is a first input to name.
            return Err(all_numeric(&self.files[0], row));
        }
        if let Some(export) = self.export {
            export.commit()?;
        }
        Ok(Sunk {
            totals: self.totals,
            counts: self.counts,
            shards: self.writer.finish()?,
        })
    }

    /// The sentences of this chunk that a resumed run has already written.
    fn sentences_to_skip(&mut self, dealt: &Dealt) -> usize {
        match self.resume {
            Some(r) if r.input == dealt.at.input && r.chunk == dealt.at.chunk => {
                self.resume = None;
                r.sentence
            }
            _ => 0,
        }
    }

    /// Writes the chunk's sentences from `skip` on; returns the index of the sentence after
    /// the last shard this completed, if any (where a resumed run would start).
    fn write(
        &mut self,
        output: &ChunkOutput,
        first_document: u64,
        skip: usize,
    ) -> Result<Option<usize>> {
        let mut start = 0usize;
        let mut boundary = None;
        for (i, (&len, &document)) in output.lengths.iter().zip(&output.documents).enumerate() {
            let end = start + len as usize;
            if i >= skip {
                let document =
                    u32::try_from(first_document + u64::from(document)).map_err(|_| {
                        Error::Store {
                            path: PathBuf::from("<store>"),
                            reason: "more than 4,294,967,295 documents".into(),
                        }
                    })?;
                if self.writer.push(&output.tokens[start..end], document)? {
                    boundary = Some(i + 1);
                }
            }
            start = end;
        }
        Ok(boundary)
    }

    /// Records that the committed shards end before sentence `sentence` of the chunk being
    /// appended (the counts are still those before it).
    fn checkpoint(&self, dealt: &Dealt, sentence: usize) -> Result<()> {
        let Some((fingerprint, dir)) = &self.checkpoints else {
            return Ok(());
        };
        Checkpoint {
            fingerprint: fingerprint.clone(),
            shards: self.writer.shards().to_vec(),
            at: Position {
                input: dealt.at.input,
                chunk: dealt.at.chunk,
                sentence,
            },
            totals: self.totals,
            counts: self.counts,
            numeric: self.numeric,
        }
        .save(dir)
    }
}

/// A CSV chunk the reference's reading would have parsed as numbers.
fn all_numeric(path: &std::path::Path, first_row: u64) -> Error {
    Error::Corpus {
        path: path.to_path_buf(),
        format: "Wikipedia sentence",
        reason: format!(
            "sentences {first_row}..{} are all numbers or NA strings: the reference's CSV reading (pandas, 10,000 rows at a time) would have read them as numbers, so no exact build exists",
            first_row + CSV_CHUNK_ROWS
        ),
    }
}
