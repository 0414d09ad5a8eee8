//! The spaCy splitter: a pool of Python processes running the worker shipped in this
//! crate (`spacy_worker.py`, passed to `python -c`), fed batches of documents over a framed
//! stdin/stdout protocol (the worker's module doc), answering with each document's
//! sentences exactly as the reference kept them.
//!
//! A worker that fails on a batch (an error frame, a crash, garbage on its stream, no answer
//! within the timeout) is replaced by a new process and the batch retried once; a second
//! failure is an error naming the document when the worker named one.

use std::{
    io::{BufReader, Read, Write},
    process::{Child, ChildStdin, Command, Stdio},
    sync::mpsc::{Receiver, RecvTimeoutError, channel},
    thread,
    time::Duration,
};

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::cache::RowCache;
use crate::{Error, Result, source::Chunk};

/// The worker's source: run with `python -c`.
const WORKER_SOURCE: &str = include_str!("spacy_worker.py");

/// Which of the model's components run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpacyComponents {
    /// Every component, as the reference ran the model.
    Full,
    /// `tok2vec` and `parser` only: the boundaries are the parser's alone, and the same
    /// (proven on the test corpus), at about 2.7× the speed.
    #[default]
    Fast,
}

/// How to run spaCy.
#[derive(Clone, Debug)]
pub struct SpacyOptions {
    /// The Python interpreter.
    pub python: String,
    /// The model package to load (`en_core_web_sm`, or a mirror's name).
    pub model: String,
    pub components: SpacyComponents,
    /// `nlp.max_length`: the longest document in characters.
    pub max_length: u64,
    /// Worker processes.
    pub workers: usize,
    /// The longest a batch may take.
    pub timeout: Duration,
}

impl Default for SpacyOptions {
    fn default() -> Self {
        SpacyOptions {
            python: "python3".into(),
            model: "en_core_web_sm".into(),
            components: SpacyComponents::Fast,
            // spaCy's default is 1,000,000; no article of 20220301.en reaches it, and a
            // longer one would have stopped the reference. Raised so that one never stops a
            // build; recorded in the store.
            max_length: 10_000_000,
            workers: 1,
            timeout: Duration::from_secs(3600),
        }
    }
}

/// What a worker reports of itself: facts of the build.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpacyInfo {
    /// spaCy's version.
    pub spacy: String,
    /// The model, `lang_name` (`en_core_web_sm`).
    pub model: String,
    pub model_version: String,
    /// The components that ran, in order.
    pub components: Vec<String>,
    pub max_length: u64,
}

/// How spaCy splits, for a recipe that asks for it.
#[derive(Clone, Debug)]
pub struct SpacyPlan {
    /// The model the recipe pins and its version (`en_core_web_sm`, `3.5.0`).
    pub model: String,
    pub version: String,
    /// Run a model whose name or version is not the pinned one (recorded in the store).
    pub allow_other_version: bool,
    pub options: SpacyOptions,
    /// Only part `k` of `n` of the spaCy work (chunks `c` with `c mod n = k`): write its
    /// results and no store.
    pub part: Option<(usize, usize)>,
}

impl SpacyPlan {
    /// The recipe's pinned model, loaded under its own name.
    pub fn pinned(model: &str, version: &str) -> SpacyPlan {
        SpacyPlan {
            model: model.into(),
            version: version.into(),
            allow_other_version: false,
            options: SpacyOptions {
                model: model.into(),
                ..SpacyOptions::default()
            },
            part: None,
        }
    }

    /// What the sentences depend on, as far as it is known before spaCy starts.
    pub fn key(&self) -> SpacyKey {
        SpacyKey {
            pinned_model: self.model.clone(),
            pinned_version: self.version.clone(),
            loaded: self.options.model.clone(),
            components: self.options.components,
            max_length: self.options.max_length,
        }
    }
}

/// What the command line changes of a recipe's spaCy setup.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpacyOverrides {
    pub python: Option<String>,
    /// The model package to load in place of the pinned name (a mirror).
    pub model: Option<String>,
    pub allow_other_version: bool,
    pub workers: Option<usize>,
    pub max_length: Option<u64>,
    /// Part `k` of `n` of the work (`prepare --part`).
    pub part: Option<(usize, usize)>,
}

impl SpacyOverrides {
    /// `plan` with these changes.
    pub fn apply(&self, plan: &mut SpacyPlan) {
        if let Some(python) = &self.python {
            plan.options.python = python.clone();
        }
        if let Some(model) = &self.model {
            plan.options.model = model.clone();
        }
        plan.allow_other_version |= self.allow_other_version;
        if let Some(n) = self.max_length {
            plan.options.max_length = n;
        }
        plan.options.workers = self.workers.unwrap_or_else(rayon::current_num_threads);
        plan.part = self.part;
    }
}

/// The spaCy setup a store's sentences come from, as requested.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpacyKey {
    pub pinned_model: String,
    pub pinned_version: String,
    /// The model package loaded (the pinned one, or a mirror).
    pub loaded: String,
    pub components: SpacyComponents,
    pub max_length: u64,
}

impl SpacyKey {
    /// 12 hex digits naming the setup's results on disk ([`super::cache`]).
    pub fn fingerprint(&self) -> String {
        let json = serde_json::to_string(self).expect("a spaCy key serialises");
        format!("{:012x}", xxhash_rust::xxh3::xxh3_64(json.as_bytes()) >> 16)
    }
}

/// What a store records of the spaCy that split it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpacyRecord {
    pub key: SpacyKey,
    /// What the workers reported: spaCy's and the model's versions, the components run.
    pub ran: SpacyInfo,
    /// Whether a model other than the pinned one was allowed (and ran).
    pub other_version_allowed: bool,
}

/// Sentences of each document of a batch.
pub type Sentences = Vec<Vec<String>>;

/// Why a batch failed.
enum Failure {
    /// The worker named the document it failed on.
    Document { index: u32, reason: String },
    /// It failed another way (crashed, timed out, answered garbage).
    Worker(String),
}

/// One worker process and the thread that reads its frames.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    frames: Receiver<std::io::Result<Vec<u8>>>,
}

impl Worker {
    fn start(options: &SpacyOptions) -> std::result::Result<(Worker, SpacyInfo), Failure> {
        let mut child = Command::new(&options.python)
            .arg("-c")
            .arg(WORKER_SOURCE)
            .arg(&options.model)
            .arg(options.max_length.to_string())
            .arg(match options.components {
                SpacyComponents::Full => "full",
                SpacyComponents::Fast => "fast",
            })
            .env("OMP_NUM_THREADS", "1")
            .env("OPENBLAS_NUM_THREADS", "1")
            .env("MKL_NUM_THREADS", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                Failure::Worker(format!(
                    "cannot run '{}' ({e}): install Python 3",
                    options.python
                ))
            })?;
        let stdin = child.stdin.take().expect("stdin is piped");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let (send, frames) = channel();
        thread::spawn(move || {
            loop {
                let frame = read_frame(&mut stdout);
                let end = frame.is_err();
                if send.send(frame).is_err() || end {
                    return;
                }
            }
        });
        let mut worker = Worker {
            child,
            stdin,
            frames,
        };
        let hello = worker.answer(Duration::from_secs(600))?;
        let info = match hello.split_first() {
            Some((b'H', json)) => serde_json::from_slice(json)
                .map_err(|e| Failure::Worker(format!("a hello that is not JSON ({e})")))?,
            _ => return Err(worker.unexpected(&hello)),
        };
        Ok((worker, info))
    }

    /// The next frame, within `timeout`.
    fn answer(&mut self, timeout: Duration) -> std::result::Result<Vec<u8>, Failure> {
        match self.frames.recv_timeout(timeout) {
            Ok(Ok(frame)) => Ok(frame),
            Ok(Err(e)) => Err(Failure::Worker(format!("the worker stopped ({e})"))),
            Err(RecvTimeoutError::Timeout) => Err(Failure::Worker(format!(
                "no answer within {} s",
                timeout.as_secs()
            ))),
            Err(RecvTimeoutError::Disconnected) => {
                Err(Failure::Worker("the worker stopped".into()))
            }
        }
    }

    fn unexpected(&self, frame: &[u8]) -> Failure {
        match frame.split_first() {
            Some((b'E', rest)) if rest.len() >= 4 => {
                let index = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes"));
                let reason = String::from_utf8_lossy(&rest[4..]).into_owned();
                match index {
                    u32::MAX => Failure::Worker(reason),
                    index => Failure::Document { index, reason },
                }
            }
            _ => Failure::Worker("the worker wrote something that is not a frame".into()),
        }
    }

    /// Splits one batch.
    fn split(
        &mut self,
        texts: &[String],
        timeout: Duration,
    ) -> std::result::Result<Sentences, Failure> {
        let mut request = vec![b'B'];
        request.extend_from_slice(&(texts.len() as u32).to_le_bytes());
        for text in texts {
            request.extend_from_slice(&(text.len() as u32).to_le_bytes());
            request.extend_from_slice(text.as_bytes());
        }
        let mut framed = (request.len() as u32).to_le_bytes().to_vec();
        framed.extend_from_slice(&request);
        self.stdin
            .write_all(&framed)
            .and_then(|()| self.stdin.flush())
            .map_err(|e| Failure::Worker(format!("cannot write to the worker ({e})")))?;
        let frame = self.answer(timeout)?;
        match frame.split_first() {
            Some((b'R', body)) => parse_result(body, texts.len())
                .ok_or_else(|| Failure::Worker("a result frame that does not parse".into())),
            _ => Err(self.unexpected(&frame)),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.stdin.write_all(&0u32.to_le_bytes());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_frame(input: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut length = [0u8; 4];
    input.read_exact(&mut length)?;
    let length = u32::from_le_bytes(length) as usize;
    if length == 0 || length > 1 << 31 {
        return Err(std::io::Error::other("a frame of impossible length"));
    }
    let mut frame = vec![0u8; length];
    input.read_exact(&mut frame)?;
    Ok(frame)
}

fn parse_result(body: &[u8], documents: usize) -> Option<Sentences> {
    let mut at = 0usize;
    let u32_at = |at: &mut usize| -> Option<usize> {
        let bytes = body.get(*at..*at + 4)?;
        *at += 4;
        Some(u32::from_le_bytes(bytes.try_into().ok()?) as usize)
    };
    let mut out = Vec::with_capacity(documents);
    for _ in 0..documents {
        let count = u32_at(&mut at)?;
        let mut sentences = Vec::with_capacity(count);
        for _ in 0..count {
            let n = u32_at(&mut at)?;
            let text = std::str::from_utf8(body.get(at..at + n)?).ok()?;
            sentences.push(text.to_string());
            at += n;
        }
        out.push(sentences);
    }
    (at == body.len()).then_some(out)
}

/// A pool of workers.
pub struct SpacyPool {
    options: SpacyOptions,
    workers: Vec<Option<Worker>>,
    info: SpacyInfo,
}

impl SpacyPool {
    /// Starts `options.workers` workers; they must all report the same versions.
    pub fn start(options: &SpacyOptions) -> Result<SpacyPool> {
        let started: Vec<(Worker, SpacyInfo)> = (0..options.workers.max(1))
            .map(|_| Worker::start(options).map_err(|f| pool_error(options, f, None)))
            .collect::<Result<_>>()?;
        let info = started[0].1.clone();
        let workers = started.into_iter().map(|(w, _)| Some(w)).collect();
        Ok(SpacyPool {
            options: options.clone(),
            workers,
            info,
        })
    }

    /// What the workers run.
    pub fn info(&self) -> &SpacyInfo {
        &self.info
    }

    /// The sentences of every document of every batch, batches spread over the workers
    /// (one each at a time); `name(batch, document)` names a document in errors.
    pub fn split(
        &mut self,
        batches: &[&[String]],
        name: &(dyn Fn(usize, usize) -> String + Sync),
    ) -> Result<Vec<Sentences>> {
        let mut out: Vec<Option<Sentences>> = (0..batches.len()).map(|_| None).collect();
        for round in batches.chunks(self.workers.len()).enumerate() {
            let (r, group) = round;
            let first = r * self.workers.len();
            let results: Vec<Result<Sentences>> = thread::scope(|scope| {
                let handles: Vec<_> = self
                    .workers
                    .iter_mut()
                    .zip(group.iter())
                    .enumerate()
                    .map(|(i, (slot, texts))| {
                        let options = &self.options;
                        scope.spawn(move || run_batch(slot, options, texts, first + i, name))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("a batch thread does not panic"))
                    .collect()
            });
            for (i, result) in results.into_iter().enumerate() {
                out[first + i] = Some(result?);
            }
        }
        Ok(out
            .into_iter()
            .map(|s| s.expect("every batch ran"))
            .collect())
    }
}

/// One batch on the worker in `slot`, retried once on a fresh worker.
fn run_batch(
    slot: &mut Option<Worker>,
    options: &SpacyOptions,
    texts: &[String],
    batch: usize,
    name: &(dyn Fn(usize, usize) -> String + Sync),
) -> Result<Sentences> {
    let mut last = None;
    for _attempt in 0..2 {
        if slot.is_none() {
            match Worker::start(options) {
                Ok((worker, _)) => *slot = Some(worker),
                Err(f) => return Err(pool_error(options, f, None)),
            }
        }
        let worker = slot.as_mut().expect("started above");
        match worker.split(texts, options.timeout) {
            Ok(sentences) => return Ok(sentences),
            Err(failure) => {
                // The worker may be in any state: replace it.
                *slot = None;
                last = Some(failure);
            }
        }
    }
    let failure = last.expect("two attempts failed");
    Err(pool_error(options, failure, Some(&|d| name(batch, d))))
}

fn pool_error(
    options: &SpacyOptions,
    failure: Failure,
    name: Option<&dyn Fn(usize) -> String>,
) -> Error {
    let reason = match (failure, name) {
        (Failure::Document { index, reason }, Some(name)) => {
            format!("{}: {reason}", name(index as usize))
        }
        (Failure::Document { reason, .. }, None) | (Failure::Worker(reason), _) => reason,
    };
    Error::Spacy {
        model: options.model.clone(),
        reason,
    }
}

/// The spaCy stage of `prepare`: each chunk's sentences from the cache, or from the pool
/// (started on first need) and then saved; in part mode, only the part's chunks.
pub struct SpacyStage {
    plan: SpacyPlan,
    cache: RowCache,
    pool: Option<SpacyPool>,
    info: Option<SpacyInfo>,
    /// Chunks split by this run, and found already split.
    pub computed: u64,
    pub cached: u64,
}

impl SpacyStage {
    pub fn new(plan: &SpacyPlan, store: &Path) -> SpacyStage {
        SpacyStage {
            cache: RowCache::new(store, &plan.key().fingerprint()),
            plan: plan.clone(),
            pool: None,
            info: None,
            computed: 0,
            cached: 0,
        }
    }

    /// The sentences of chunks `first..` of the input with sha256 `input` (named `file` in
    /// errors, its documents counted from `document` at the first chunk): `None` for a
    /// chunk that is another part's and not done yet.
    pub fn sentences(
        &mut self,
        input: &str,
        file: &Path,
        (first, document): (usize, u64),
        chunks: &[Chunk],
    ) -> Result<Vec<Option<Sentences>>> {
        let mut out: Vec<Option<Sentences>> = Vec::with_capacity(chunks.len());
        let mut missing = Vec::new();
        for (i, chunk) in chunks.iter().enumerate() {
            let path = self.cache.path(input, first + i);
            let found = self.cache.load(&path, chunk.texts.len());
            self.cached += u64::from(found.is_some());
            let mine = self.plan.part.is_none_or(|(k, n)| (first + i) % n == k);
            if found.is_none() && mine {
                missing.push(i);
            }
            out.push(found);
        }
        if missing.is_empty() {
            return Ok(out);
        }
        self.start()?;
        let batches: Vec<&[String]> = missing.iter().map(|&i| &chunks[i].texts[..]).collect();
        let name = |b: usize, d: usize| {
            let before: usize = chunks[..missing[b]].iter().map(|c| c.texts.len()).sum();
            let n = document + (before + d) as u64;
            format!("document {n} of '{}'", file.display())
        };
        let split = self
            .pool
            .as_mut()
            .expect("started")
            .split(&batches, &name)?;
        for (&i, sentences) in missing.iter().zip(split) {
            self.cache
                .save(&self.cache.path(input, first + i), &sentences)?;
            self.computed += 1;
            out[i] = Some(sentences);
        }
        Ok(out)
    }

    /// Starts the pool and checks what it runs: the pinned model (unless another is
    /// allowed) and the same spaCy as any results already on disk.
    fn start(&mut self) -> Result<()> {
        if self.pool.is_some() {
            return Ok(());
        }
        let pool = SpacyPool::start(&self.plan.options)?;
        let info = pool.info().clone();
        let pinned = info.model == self.plan.model && info.model_version == self.plan.version;
        if !pinned && !self.plan.allow_other_version {
            return Err(Error::SpacyVersion(Box::new(crate::error::SpacyMismatch {
                pinned_model: self.plan.model.clone(),
                pinned_version: self.plan.version.clone(),
                loaded: self.plan.options.model.clone(),
                found_model: info.model.clone(),
                found_version: info.model_version.clone(),
            })));
        }
        self.cache.claim(&info)?;
        self.info = Some(info);
        self.pool = Some(pool);
        Ok(())
    }

    /// Chunks split at once: one per worker.
    pub fn workers(&self) -> usize {
        self.plan.options.workers.max(1)
    }

    /// What the store records: this run's spaCy, or the one the results on disk record.
    pub fn record(&self) -> Result<SpacyRecord> {
        let ran = match &self.info {
            Some(info) => info.clone(),
            None => self.cache.claimed()?,
        };
        let pinned = ran.model == self.plan.model && ran.model_version == self.plan.version;
        Ok(SpacyRecord {
            key: self.plan.key(),
            ran,
            other_version_allowed: !pinned,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_parse_only_when_whole() {
        let mut body = Vec::new();
        for doc in [vec!["A.", "B."], vec![]] {
            body.extend_from_slice(&(doc.len() as u32).to_le_bytes());
            for s in doc {
                body.extend_from_slice(&(s.len() as u32).to_le_bytes());
                body.extend_from_slice(s.as_bytes());
            }
        }
        assert_eq!(
            parse_result(&body, 2),
            Some(vec![vec!["A.".to_string(), "B.".to_string()], vec![]])
        );
        assert_eq!(parse_result(&body[..body.len() - 1], 2), None);
        assert_eq!(parse_result(&body, 1), None);
    }
}
