//! `prepare`: the text stages over all inputs — read, clean, split, tokenize — into a
//! sentence store.
//!
//! Inputs are read in order on the calling thread, a window of chunks at a time; the chunks
//! of a window are processed in parallel and appended to the store in chunk order, so the
//! store's bytes are the same for any number of threads.

use std::{path::PathBuf, sync::OnceLock};

use earlyberts_format::{InputFile, Vocab, VocabInfo, sha256_file, verify::Progress, write_atomic};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{
    Error, Result,
    clean::{CleanCounts, CleanRules, RULES_VERSION, TextCleaner},
    source::{self, Chunk, CorpusKind},
    split::{LineBreaks, RuleSplitter},
    stage::{Cleaner, SentenceSplitter, Tokenizer},
    store::{
        CleanSummary, STORE_FORMAT_VERSION, STORE_MANIFEST, SentenceStore, StoreManifest,
        StoreTotals, StoreWriter,
    },
    tokenize::BertWordPiece,
};

/// Everything `prepare` needs, resolved and validated ([`crate::recipe::Recipe::text_plan`]).
pub struct TextPlan {
    pub inputs: Vec<(CorpusKind, PathBuf)>,
    pub vocab: Vocab,
    pub clean: CleanRules,
    pub line_breaks: LineBreaks,
    pub sentences_per_shard: u64,
    pub out: PathBuf,
    /// The inputs' hashes, computed once (reading 20 GB is not free).
    hashed: OnceLock<Vec<InputFile>>,
}

/// Everything a store's bytes depend on: a store whose `store.json` records the same is
/// current.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreFingerprint {
    pub inputs: Vec<InputFile>,
    pub vocab: VocabInfo,
    pub clean: CleanRules,
    pub line_breaks: LineBreaks,
    pub sentences_per_shard: u64,
}

impl StoreManifest {
    /// What this store was made from.
    pub fn fingerprint(&self) -> StoreFingerprint {
        StoreFingerprint {
            inputs: self.inputs.clone(),
            vocab: self.vocab.clone(),
            clean: self.clean.rules,
            line_breaks: self.line_breaks,
            sentences_per_shard: self.sentences_per_shard,
        }
    }
}

impl TextPlan {
    pub fn new(
        inputs: Vec<(CorpusKind, PathBuf)>,
        vocab: Vocab,
        clean: CleanRules,
        line_breaks: LineBreaks,
        sentences_per_shard: u64,
        out: PathBuf,
    ) -> TextPlan {
        TextPlan {
            inputs,
            vocab,
            clean,
            line_breaks,
            sentences_per_shard,
            out,
            hashed: OnceLock::new(),
        }
    }

    /// Name, size and sha256 of every input, in order (hashed on first use, in parallel).
    pub fn input_files(&self) -> Result<&[InputFile]> {
        if let Some(hashed) = self.hashed.get() {
            return Ok(hashed);
        }
        let hashed = hash_inputs(&self.inputs)?;
        Ok(self.hashed.get_or_init(|| hashed))
    }

    /// Bytes of all input files as they lie on disk (compressed).
    pub fn input_bytes(&self) -> u64 {
        self.inputs
            .iter()
            .filter_map(|(_, p)| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    /// What the store this plan writes depends on.
    pub fn fingerprint(&self) -> Result<StoreFingerprint> {
        Ok(StoreFingerprint {
            inputs: self.input_files()?.to_vec(),
            vocab: self.vocab.info(),
            clean: self.clean,
            line_breaks: self.line_breaks,
            sentences_per_shard: self.sentences_per_shard,
        })
    }

    /// Whether `out` holds a whole store made with this plan's fingerprint.
    pub fn is_current(&self) -> Result<bool> {
        let Ok(text) = std::fs::read(self.out.join(STORE_MANIFEST)) else {
            return Ok(false);
        };
        let Ok(existing) = serde_json::from_slice::<StoreManifest>(&text) else {
            return Ok(false);
        };
        Ok(existing.fingerprint() == self.fingerprint()? && SentenceStore::open(&self.out).is_ok())
    }
}

/// The stages, built once and shared by the workers.
struct Stages {
    cleaner: TextCleaner,
    splitter: RuleSplitter,
    tokenizer: BertWordPiece,
}

/// What one chunk became.
#[derive(Default)]
struct ChunkOutput {
    tokens: Vec<u16>,
    /// Sentence lengths in tokens.
    lengths: Vec<u32>,
    /// Document index of each sentence, relative to the chunk's first text.
    documents: Vec<u32>,
    counts: CleanCounts,
}

/// Runs the text stages and writes the store to `plan.out`; `progress` advances by input
/// text bytes.
pub fn prepare(plan: &TextPlan, progress: &dyn Progress) -> Result<StoreManifest> {
    let mut readers = plan
        .inputs
        .iter()
        .map(|(_, path)| source::open(path))
        .collect::<Result<Vec<_>>>()?;
    progress.set_total(readers.iter().map(|r| r.text_bytes_hint()).sum());
    let inputs = plan.input_files()?.to_vec();
    let stages = Stages {
        cleaner: TextCleaner::new(plan.clean),
        splitter: RuleSplitter::new(plan.line_breaks),
        tokenizer: BertWordPiece::new(&plan.vocab)?,
    };
    let mut writer = StoreWriter::new(&plan.out, plan.sentences_per_shard)?;
    let mut totals = StoreTotals::default();
    let mut counts = CleanCounts::default();
    let window = 2 * rayon::current_num_threads().max(1);
    for ((kind, _), reader) in plan.inputs.iter().zip(&mut readers) {
        // BookCorpus has no book boundaries: each file is one document.
        let file_document = totals.documents;
        if *kind == CorpusKind::Bookcorpus {
            totals.documents += 1;
        }
        loop {
            let mut chunks: Vec<Chunk> = Vec::with_capacity(window);
            while chunks.len() < window {
                match reader.next_chunk()? {
                    Some(chunk) => chunks.push(chunk),
                    None => break,
                }
            }
            if chunks.is_empty() {
                break;
            }
            let outputs: Vec<ChunkOutput> = chunks
                .par_iter()
                .map(|chunk| process(&stages, *kind, chunk))
                .collect::<Result<_>>()?;
            for (chunk, output) in chunks.iter().zip(outputs) {
                let first_document = match kind {
                    CorpusKind::Wikipedia => totals.documents,
                    CorpusKind::Bookcorpus => file_document,
                };
                append(&mut writer, &output, first_document)?;
                if *kind == CorpusKind::Wikipedia {
                    totals.documents += chunk.texts.len() as u64;
                }
                totals.sentences += output.lengths.len() as u64;
                totals.tokens += output.tokens.len() as u64;
                totals.text_bytes += chunk.bytes;
                counts.add(&output.counts);
                progress.advance(chunk.bytes);
            }
        }
    }
    let manifest = StoreManifest {
        format_version: STORE_FORMAT_VERSION,
        inputs,
        vocab: plan.vocab.info(),
        clean: CleanSummary {
            rules_version: RULES_VERSION,
            rules: plan.clean,
            counts,
        },
        line_breaks: plan.line_breaks,
        sentences_per_shard: plan.sentences_per_shard,
        totals,
        shards: writer.finish()?,
    };
    write_atomic(plan.out.join(STORE_MANIFEST), manifest.to_json().as_bytes())?;
    Ok(manifest)
}

/// Name, size and sha256 of every input, in parallel.
fn hash_inputs(inputs: &[(CorpusKind, PathBuf)]) -> Result<Vec<InputFile>> {
    inputs
        .par_iter()
        .map(|(_, path)| {
            let bytes = std::fs::metadata(path)
                .map_err(|e| Error::io(path, e))?
                .len();
            // The file name only: the sha256 identifies the file, and the manifest stays the
            // same wherever the inputs live.
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            Ok(InputFile {
                path: name,
                bytes,
                sha256: sha256_file(path)?,
            })
        })
        .collect()
}

/// Cleans, splits (Wikipedia) and tokenizes the texts of one chunk.
fn process(stages: &Stages, kind: CorpusKind, chunk: &Chunk) -> Result<ChunkOutput> {
    let mut out = ChunkOutput::default();
    let mut cleaned = String::new();
    let mut ranges = Vec::new();
    for (document, text) in chunk.texts.iter().enumerate() {
        let counts = stages.cleaner.clean(text, &mut cleaned);
        out.counts.add(&counts);
        ranges.clear();
        match kind {
            CorpusKind::Wikipedia => stages.splitter.split(&cleaned, &mut ranges),
            // The reference takes every BookCorpus row as one sentence, as it is.
            CorpusKind::Bookcorpus => ranges.push(0..cleaned.len()),
        }
        let document = match kind {
            CorpusKind::Wikipedia => document as u32,
            CorpusKind::Bookcorpus => 0,
        };
        for range in &ranges {
            let before = out.tokens.len();
            stages
                .tokenizer
                .encode_into(&cleaned[range.clone()], &mut out.tokens)?;
            out.lengths.push((out.tokens.len() - before) as u32);
            out.documents.push(document);
        }
    }
    Ok(out)
}

fn append(writer: &mut StoreWriter, output: &ChunkOutput, first_document: u64) -> Result<()> {
    let mut start = 0usize;
    for (&len, &document) in output.lengths.iter().zip(&output.documents) {
        let end = start + len as usize;
        let document =
            u32::try_from(first_document + u64::from(document)).map_err(|_| Error::Store {
                path: PathBuf::from("<store>"),
                reason: "more than 4,294,967,295 documents".into(),
            })?;
        writer.push(&output.tokens[start..end], document)?;
        start = end;
    }
    Ok(())
}
