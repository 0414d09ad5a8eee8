//! `prepare`: the text stages over all inputs — read, clean, split, tokenize — into a
//! sentence store.
//!
//! Inputs are read in order on the calling thread, a window of chunks at a time; the chunks
//! of a window are processed in parallel and appended to the store in chunk order, so the
//! store's bytes are the same for any number of threads.

use std::{path::PathBuf, sync::OnceLock};

use earlyberts_format::{
    AtomicFile, InputFile, Vocab, VocabInfo, remove_if_present, sha256_file, verify::Progress,
    write_atomic,
};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{
    Error, Result,
    clean::{CleanCounts, CleanRules, RULES_VERSION, TextCleaner},
    reference::rows::{CSV_CHUNK_ROWS, NumericChunks, csv_round_trip, numeric_or_na},
    source::{self, Chunk, CorpusKind},
    split::{
        LineBreaks, RuleSplitter,
        spacy::{Sentences, SpacyKey, SpacyPlan, SpacyStage},
    },
    stage::{Cleaner, SentenceSplitter, Tokenizer},
    store::{
        CleanSummary, STORE_FORMAT_VERSION, STORE_MANIFEST, SentenceStore, StoreManifest,
        StoreShard, StoreTotals, StoreWriter,
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
    /// Read each Wikipedia sentence as the reference read it back from its CSV file
    /// ([`csv_round_trip`]): the reference kind's row rule.
    pub csv_round_trip: bool,
    /// Also write Wikipedia's sentences, as split, to this file in the reference's
    /// `wiki-sentences.csv` form (to run the reference script on the same rows).
    pub export_sentences: Option<PathBuf>,
    /// Split Wikipedia with spaCy instead of the rules.
    pub spacy: Option<SpacyPlan>,
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
    pub csv_round_trip: bool,
    pub spacy: Option<SpacyKey>,
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
            csv_round_trip: self.csv_round_trip,
            spacy: self.spacy.as_ref().map(|s| s.key.clone()),
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
            csv_round_trip: false,
            export_sentences: None,
            spacy: None,
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
            csv_round_trip: self.csv_round_trip,
            spacy: self.spacy_key(),
        })
    }

    /// The spaCy setup, if spaCy splits this plan's Wikipedia articles (not when its
    /// sentences come from a CSV file).
    pub fn spacy_key(&self) -> Option<SpacyKey> {
        let articles = self.inputs.iter().any(|(k, _)| *k == CorpusKind::Wikipedia);
        self.spacy.as_ref().filter(|_| articles).map(SpacyPlan::key)
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
    csv_round_trip: bool,
    export: bool,
}

/// What one chunk became.
#[derive(Default)]
struct ChunkOutput {
    tokens: Vec<u16>,
    /// Sentence lengths in tokens.
    lengths: Vec<u32>,
    /// Document index of each sentence, relative to the chunk's first text.
    documents: Vec<u32>,
    /// For the CSV round trip: whether each sentence reads as a number or NA.
    numeric: Vec<bool>,
    /// Wikipedia's sentences as split, when they are exported.
    texts: Vec<String>,
    counts: CleanCounts,
}

/// Runs the text stages and writes the store to `plan.out`; `progress` advances by input
/// text bytes.
pub fn prepare(plan: &TextPlan, progress: &dyn Progress) -> Result<Prepared> {
    let store = run(plan, progress, true)?;
    let resumed = store.resumed;
    let spacy = match &store.spacy {
        Some(stage) => Some(stage.record()?),
        None => None,
    };
    let manifest = StoreManifest {
        format_version: STORE_FORMAT_VERSION,
        inputs: plan.input_files()?.to_vec(),
        vocab: plan.vocab.info(),
        clean: CleanSummary {
            rules_version: RULES_VERSION,
            rules: plan.clean,
            counts: store.counts,
        },
        line_breaks: plan.line_breaks,
        sentences_per_shard: plan.sentences_per_shard,
        csv_round_trip: plan.csv_round_trip,
        spacy,
        totals: store.totals,
        shards: store.writer.expect("a store is being written").finish()?,
    };
    write_atomic(plan.out.join(STORE_MANIFEST), manifest.to_json().as_bytes())?;
    Checkpoint::remove(&plan.out)?;
    Ok(Prepared { manifest, resumed })
}

/// What [`prepare`] made, and where it started.
pub struct Prepared {
    pub manifest: StoreManifest,
    /// The store shards an interrupted run had committed, kept (`None`: from the start).
    pub resumed: Option<Resumed>,
}

/// The part of a store an interrupted `prepare` had made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resumed {
    pub shards: usize,
    pub sentences: u64,
}

/// The checkpoint of a `prepare` that is writing a store (removed once `store.json` is).
pub const STORE_CHECKPOINT: &str = "partial.json";

/// Where an interrupted `prepare` can go on from: written after each store shard is
/// committed. The text stages are a function of the input position, so the run that
/// resumes reads (without processing) the chunks before `at`, processes chunk `at.chunk`
/// again, writes its sentences from `at.sentence` on, and continues: the same bytes as a
/// run that was never stopped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Checkpoint {
    fingerprint: StoreFingerprint,
    shards: Vec<StoreShard>,
    at: Position,
    /// The counts before chunk `at.chunk`.
    totals: StoreTotals,
    counts: CleanCounts,
    numeric: NumericChunks,
}

/// A sentence of the text stages' output: sentence `sentence` of chunk `chunk` of input
/// `input`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Position {
    input: usize,
    chunk: usize,
    sentence: usize,
}

impl Checkpoint {
    /// The checkpoint in `plan.out` that this plan can resume from: same fingerprint,
    /// every shard it lists intact. Stores split by spaCy (whose own results are kept
    /// in `rows/`) and runs that export the sentences start from the beginning.
    fn load(plan: &TextPlan) -> Result<Option<Checkpoint>> {
        if !resumable(plan) {
            return Ok(None);
        }
        let Ok(bytes) = std::fs::read(plan.out.join(STORE_CHECKPOINT)) else {
            return Ok(None);
        };
        let Ok(checkpoint) = serde_json::from_slice::<Checkpoint>(&bytes) else {
            return Ok(None);
        };
        let usable = checkpoint.fingerprint == plan.fingerprint()?
            && checkpoint.shards.iter().all(|s| s.is_intact(&plan.out));
        Ok(usable.then_some(checkpoint))
    }

    fn save(&self, dir: &std::path::Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self).expect("a checkpoint serialises");
        Ok(write_atomic(dir.join(STORE_CHECKPOINT), json.as_bytes())?)
    }

    fn remove(dir: &std::path::Path) -> Result<()> {
        Ok(remove_if_present(&dir.join(STORE_CHECKPOINT))?)
    }
}

/// Whether an interrupted `prepare` of this plan can resume.
fn resumable(plan: &TextPlan) -> bool {
    plan.spacy_key().is_none() && plan.export_sentences.is_none()
}

/// What a part of the spaCy work did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartReport {
    /// Chunks of documents this run split.
    pub computed: u64,
    /// Chunks found split already (by this part earlier, or by another).
    pub cached: u64,
    pub documents: u64,
}

/// Runs part `plan.spacy.part` of the spaCy work: splits that part's chunks of the
/// Wikipedia articles into the store's `rows/` directory, and writes no store.
pub fn prepare_part(plan: &TextPlan, progress: &dyn Progress) -> Result<PartReport> {
    let store = run(plan, progress, false)?;
    let spacy = store.spacy.expect("a part plan splits with spaCy");
    Ok(PartReport {
        computed: spacy.computed,
        cached: spacy.cached,
        documents: store.totals.documents,
    })
}

/// The text stages over every input, in order, into a store (or, for a part, only the
/// spaCy results).
fn run(plan: &TextPlan, progress: &dyn Progress, store: bool) -> Result<Appender> {
    // Each input is opened (and its buffers held) only while it is read: memory does not
    // grow with the number of inputs. The first pass opens them only for their size hint,
    // which also checks every input before any work.
    let mut hint = 0;
    for (_, path) in &plan.inputs {
        hint += source::open(path)?.text_bytes_hint();
    }
    progress.set_total(hint);
    let inputs = plan.input_files()?.to_vec();
    let stages = Stages {
        cleaner: TextCleaner::new(plan.clean),
        splitter: RuleSplitter::new(plan.line_breaks),
        tokenizer: BertWordPiece::new(&plan.vocab)?,
        csv_round_trip: plan.csv_round_trip,
        export: plan.export_sentences.is_some(),
    };
    let checkpoint = match store {
        true => Checkpoint::load(plan)?,
        false => None,
    };
    let mut appender = Appender {
        writer: match (store, &checkpoint) {
            (true, Some(c)) => Some(StoreWriter::resume(
                &plan.out,
                plan.sentences_per_shard,
                c.shards.clone(),
            )?),
            (true, None) => Some(StoreWriter::new(&plan.out, plan.sentences_per_shard)?),
            (false, _) => None,
        },
        spacy: plan
            .spacy_key()
            .and(plan.spacy.as_ref())
            .map(|s| SpacyStage::new(s, &plan.out)),
        export: match (&plan.export_sentences, store) {
            (Some(path), true) => Some(SentenceCsvWriter::create(path)?),
            _ => None,
        },
        totals: StoreTotals::default(),
        counts: CleanCounts::default(),
        numeric: NumericChunks::default(),
        checkpoints: match store && resumable(plan) {
            true => Some((plan.fingerprint()?, plan.out.clone())),
            false => None,
        },
        at: Position::default(),
        resume: None,
        resumed: None,
    };
    if let Some(checkpoint) = checkpoint {
        appender.resume_from(checkpoint);
    }
    for (i, ((kind, path), input)) in plan.inputs.iter().zip(&inputs).enumerate() {
        if appender.resume.is_some_and(|r| r.input > i) {
            continue;
        }
        appender.at = Position {
            input: i,
            ..Position::default()
        };
        let file = (*kind, path.as_path(), input.sha256.as_str());
        let mut reader = source::open(path)?;
        appender.add_file(file, reader.as_mut(), &stages, progress)?;
    }
    if let Some(row) = appender.numeric.finish() {
        return Err(all_numeric(&plan.inputs[0].1, row));
    }
    if let Some(export) = appender.export.take() {
        export.commit()?;
    }
    Ok(appender)
}

/// The store being written, in input order, with what it has counted so far.
struct Appender {
    /// `None` for a part of the spaCy work, which writes no store.
    writer: Option<StoreWriter>,
    spacy: Option<SpacyStage>,
    export: Option<SentenceCsvWriter>,
    totals: StoreTotals,
    counts: CleanCounts,
    numeric: NumericChunks,
    /// Where checkpoints go (a resumable store), and the fingerprint they record.
    checkpoints: Option<(StoreFingerprint, PathBuf)>,
    /// The input chunk being appended.
    at: Position,
    /// Where the run resumes, until it gets there.
    resume: Option<Position>,
    resumed: Option<Resumed>,
}

impl Appender {
    /// Starts from what an interrupted run had committed.
    fn resume_from(&mut self, checkpoint: Checkpoint) {
        self.totals = checkpoint.totals;
        self.counts = checkpoint.counts;
        self.numeric = checkpoint.numeric;
        self.resume = Some(checkpoint.at);
        self.resumed = Some(Resumed {
            shards: checkpoint.shards.len(),
            sentences: checkpoint.shards.iter().map(|s| s.sentences).sum(),
        });
    }

    /// The chunks of the current input before the resume point: read, not processed.
    fn skip_to_resume_point(
        &mut self,
        reader: &mut dyn source::CorpusReader,
        progress: &dyn Progress,
    ) -> Result<usize> {
        let Some(resume) = self.resume.filter(|r| r.input == self.at.input) else {
            return Ok(0);
        };
        for _ in 0..resume.chunk {
            let chunk = reader.next_chunk()?.ok_or_else(|| Error::Store {
                path: PathBuf::from(STORE_CHECKPOINT),
                reason: "the checkpoint points past the end of its input".into(),
            })?;
            progress.advance(chunk.bytes);
        }
        Ok(resume.chunk)
    }

    /// Records that the committed shards end before sentence `sentence` of the chunk
    /// being appended (the counts are still those before it).
    fn checkpoint(&self, sentence: usize) -> Result<()> {
        let (Some((fingerprint, dir)), Some(writer)) = (&self.checkpoints, &self.writer) else {
            return Ok(());
        };
        Checkpoint {
            fingerprint: fingerprint.clone(),
            shards: writer.shards().to_vec(),
            at: Position {
                sentence,
                ..self.at
            },
            totals: self.totals,
            counts: self.counts,
            numeric: self.numeric,
        }
        .save(dir)
    }

    /// Reads one input a window of chunks at a time, processes each window in parallel
    /// and appends it in order (spaCy, if it splits, first: from its cache or its pool).
    fn add_file(
        &mut self,
        (kind, path, sha256): (CorpusKind, &std::path::Path, &str),
        reader: &mut dyn source::CorpusReader,
        stages: &Stages,
        progress: &dyn Progress,
    ) -> Result<()> {
        // BookCorpus has no book boundaries, the sentence CSV no article boundaries: each
        // such file is one document (counted when the file starts: a run resuming inside
        // the file has counted it already).
        let skipped = self.skip_to_resume_point(reader, progress)?;
        let inside = self.resume.is_some_and(|r| r.input == self.at.input);
        if kind != CorpusKind::Wikipedia && !inside {
            self.totals.documents += 1;
        }
        let file_document = match kind != CorpusKind::Wikipedia {
            true => self.totals.documents - 1,
            false => self.totals.documents,
        };
        // Taken for the file (and put back at its end): spaCy splits Wikipedia's articles.
        let mut spacy = match kind {
            CorpusKind::Wikipedia => self.spacy.take(),
            _ => None,
        };
        let window = match &spacy {
            Some(spacy) => spacy.workers(),
            None => 2 * rayon::current_num_threads().max(1),
        };
        let mut chunk_index = skipped;
        loop {
            let mut chunks: Vec<Chunk> = Vec::with_capacity(window);
            while chunks.len() < window {
                match reader.next_chunk()? {
                    Some(chunk) => chunks.push(chunk),
                    None => break,
                }
            }
            if chunks.is_empty() {
                if spacy.is_some() {
                    self.spacy = spacy;
                }
                return Ok(());
            }
            let split = match spacy.as_mut() {
                Some(spacy) => {
                    let at = (chunk_index, self.totals.documents);
                    spacy.sentences(sha256, path, at, &chunks)?
                }
                None => vec![None; chunks.len()],
            };
            chunk_index += chunks.len();
            if self.writer.is_none() {
                // A part of the spaCy work: its results are on disk, there is no store.
                self.totals.documents += chunks.iter().map(|c| c.texts.len() as u64).sum::<u64>();
                chunks.iter().for_each(|c| progress.advance(c.bytes));
                continue;
            }
            let outputs: Vec<ChunkOutput> = chunks
                .par_iter()
                .zip(&split)
                .map(|(chunk, split)| process(stages, kind, chunk, split.as_ref()))
                .collect::<Result<_>>()?;
            self.at.chunk = chunk_index - chunks.len();
            for (chunk, output) in chunks.iter().zip(outputs) {
                let first_document = match kind {
                    CorpusKind::Wikipedia => self.totals.documents,
                    _ => file_document,
                };
                let skip = self.sentences_to_skip();
                self.append(kind, path, chunk, &output, (first_document, skip))?;
                progress.advance(chunk.bytes);
                self.at.chunk += 1;
            }
        }
    }

    /// The sentences of the chunk at `self.at` that a resumed run has already written.
    fn sentences_to_skip(&mut self) -> usize {
        match self.resume {
            Some(r) if r.input == self.at.input && r.chunk == self.at.chunk => {
                self.resume = None;
                r.sentence
            }
            _ => 0,
        }
    }

    fn append(
        &mut self,
        kind: CorpusKind,
        path: &std::path::Path,
        chunk: &Chunk,
        output: &ChunkOutput,
        (first_document, skip): (u64, usize),
    ) -> Result<()> {
        let writer = self.writer.as_mut().expect("a store is being written");
        if let Some(boundary) = append(writer, output, first_document, skip)? {
            self.checkpoint(boundary)?;
        }
        if let Some(export) = &mut self.export {
            export.write(&output.texts)?;
        }
        for &n in &output.numeric {
            if let Some(row) = self.numeric.push(n) {
                return Err(all_numeric(path, row));
            }
        }
        if kind == CorpusKind::Wikipedia {
            self.totals.documents += chunk.texts.len() as u64;
        }
        self.totals.sentences += output.lengths.len() as u64;
        self.totals.tokens += output.tokens.len() as u64;
        self.totals.text_bytes += chunk.bytes;
        self.counts.add(&output.counts);
        Ok(())
    }
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

/// Cleans, splits (Wikipedia articles) and tokenizes the texts of one chunk; `split`, when
/// given, holds each document's sentences already (spaCy's).
fn process(
    stages: &Stages,
    kind: CorpusKind,
    chunk: &Chunk,
    split: Option<&Sentences>,
) -> Result<ChunkOutput> {
    let mut out = ChunkOutput::default();
    let mut cleaned = String::new();
    let mut ranges = Vec::new();
    for (document, text) in chunk.texts.iter().enumerate() {
        let document_id = match kind {
            CorpusKind::Wikipedia => document as u32,
            _ => 0,
        };
        if let Some(split) = split {
            for sentence in &split[document] {
                stages.add_sentence(kind, sentence, document_id, &mut out)?;
            }
            continue;
        }
        let counts = stages.cleaner.clean(text, &mut cleaned);
        out.counts.add(&counts);
        ranges.clear();
        match kind {
            CorpusKind::Wikipedia => stages.splitter.split(&cleaned, &mut ranges),
            // A BookCorpus row, a sentence of the CSV: one sentence each, as it is.
            _ => ranges.push(0..cleaned.len()),
        }
        for range in &ranges {
            stages.add_sentence(kind, &cleaned[range.clone()], document_id, &mut out)?;
        }
    }
    Ok(out)
}

impl Stages {
    /// One sentence of a document: exported, read through the CSV round trip if the plan
    /// says so, tokenized.
    fn add_sentence(
        &self,
        kind: CorpusKind,
        sentence: &str,
        document: u32,
        out: &mut ChunkOutput,
    ) -> Result<()> {
        let wikipedia = kind != CorpusKind::Bookcorpus;
        if self.export && wikipedia {
            out.texts.push(sentence.to_string());
        }
        let sentence = match self.csv_round_trip && wikipedia {
            true => {
                out.numeric.push(numeric_or_na(sentence));
                csv_round_trip(sentence)
            }
            false => sentence.into(),
        };
        let before = out.tokens.len();
        self.tokenizer.encode_into(&sentence, &mut out.tokens)?;
        out.lengths.push((out.tokens.len() - before) as u32);
        out.documents.push(document);
        Ok(())
    }
}

/// Writes sentences as the reference's `csv.writer(quoting=QUOTE_ALL, lineterminator='\n')`
/// wrote them: header `"text"`, every field quoted, quotes doubled.
struct SentenceCsvWriter {
    file: AtomicFile,
}

impl SentenceCsvWriter {
    fn create(path: &std::path::Path) -> Result<SentenceCsvWriter> {
        let mut file = AtomicFile::create(path)?;
        file.write_all(b"\"text\"\n")?;
        Ok(SentenceCsvWriter { file })
    }

    fn write(&mut self, sentences: &[String]) -> Result<()> {
        let mut out = String::new();
        for s in sentences {
            out.push('"');
            out.push_str(&s.replace('"', "\"\""));
            out.push_str("\"\n");
        }
        Ok(self.file.write_all(out.as_bytes())?)
    }

    fn commit(self) -> Result<()> {
        Ok(self.file.commit()?)
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

/// Writes the chunk's sentences from `skip` on; returns the index of the sentence after
/// the last shard this completed, if any (where a resumed run would start).
fn append(
    writer: &mut StoreWriter,
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
                u32::try_from(first_document + u64::from(document)).map_err(|_| Error::Store {
                    path: PathBuf::from("<store>"),
                    reason: "more than 4,294,967,295 documents".into(),
                })?;
            if writer.push(&output.tokens[start..end], document)? {
                boundary = Some(i + 1);
            }
        }
        start = end;
    }
    Ok(boundary)
}
