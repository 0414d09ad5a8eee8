//! The spaCy workers: Python processes running `spacy_worker.py` (passed to `python -c`),
//! fed batches of documents over a framed stdin/stdout protocol (the worker's module doc),
//! and the pool that lends them to the threads that split.
//!
//! A worker that fails on a batch (an error frame, a crash, garbage on its stream, no answer
//! within the timeout) is replaced by a new process and the batch retried once; a second
//! failure is an error naming the document when the worker named one.

use std::{
    io::{BufReader, Read, Write},
    process::{Child, ChildStdin, Command, Stdio},
    sync::{
        Condvar, Mutex,
        atomic::{AtomicUsize, Ordering},
        mpsc::{Receiver, RecvTimeoutError, channel},
    },
    thread,
    time::Duration,
};

use super::{
    SpacyComponents, SpacyOptions,
    wire::{self, Sentences, SpacyInfo},
};
use crate::{Error, Result, error::SpacyMissing};

/// The worker's source: run with `python -c`.
const WORKER_SOURCE: &str = include_str!("spacy_worker.py");

/// Document indices of the worker's error frames that mean it could not start: spaCy is
/// not importable, the model cannot load, or another failure not tied to a document.
const NO_SPACY: u32 = u32::MAX - 1;
const NO_MODEL: u32 = u32::MAX - 2;
const NOT_A_DOCUMENT: u32 = u32::MAX;

/// Why a batch failed.
enum Failure {
    /// The worker named the document it failed on.
    Document { index: u32, reason: String },
    /// The worker cannot run: no interpreter, no spaCy or no model.
    Missing(SpacyMissing, String),
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
            .map_err(|e| Failure::Missing(SpacyMissing::Python, e.to_string()))?;
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
            _ => return Err(unexpected(&hello)),
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

    /// Splits one batch.
    fn split(
        &mut self,
        texts: &[String],
        timeout: Duration,
    ) -> std::result::Result<Sentences, Failure> {
        let mut request = vec![b'B'];
        wire::push_u32(&mut request, texts.len());
        for text in texts {
            wire::push_u32(&mut request, text.len());
            request.extend_from_slice(text.as_bytes());
        }
        let mut framed = Vec::with_capacity(request.len() + 4);
        wire::push_u32(&mut framed, request.len());
        framed.extend_from_slice(&request);
        self.stdin
            .write_all(&framed)
            .and_then(|()| self.stdin.flush())
            .map_err(|e| Failure::Worker(format!("cannot write to the worker ({e})")))?;
        let frame = self.answer(timeout)?;
        match frame.split_first() {
            Some((b'R', body)) => wire::decode(body, texts.len())
                .ok_or_else(|| Failure::Worker("a result frame that does not parse".into())),
            _ => Err(unexpected(&frame)),
        }
    }
}

/// What a frame other than the one expected means.
fn unexpected(frame: &[u8]) -> Failure {
    let Some((b'E', rest)) = frame.split_first() else {
        return Failure::Worker("the worker wrote something that is not a frame".into());
    };
    let Some((index, reason)) = wire::split_u32(rest) else {
        return Failure::Worker("an error frame that does not parse".into());
    };
    let reason = String::from_utf8_lossy(reason).into_owned();
    match index as u32 {
        NOT_A_DOCUMENT => Failure::Worker(reason),
        NO_SPACY => Failure::Missing(SpacyMissing::Spacy, reason),
        NO_MODEL => Failure::Missing(SpacyMissing::Model, reason),
        index => Failure::Document { index, reason },
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

/// A pool of workers, lent one at a time to the threads that split (it is `Sync`).
pub struct SpacyPool {
    options: SpacyOptions,
    /// Idle workers; a slot is `None` where a worker failed and a new one starts on next use.
    idle: Mutex<Vec<Option<Worker>>>,
    returned: Condvar,
    info: SpacyInfo,
}

impl SpacyPool {
    /// Starts `options.workers` workers; they must all report the same versions.
    pub fn start(options: &SpacyOptions) -> Result<SpacyPool> {
        let started: Vec<(Worker, SpacyInfo)> = (0..options.workers.max(1))
            .map(|_| Worker::start(options).map_err(|f| pool_error(options, f, None)))
            .collect::<Result<_>>()?;
        let info = started[0].1.clone();
        Ok(SpacyPool {
            options: options.clone(),
            idle: Mutex::new(started.into_iter().map(|(w, _)| Some(w)).collect()),
            returned: Condvar::new(),
            info,
        })
    }

    /// What the workers run.
    pub fn info(&self) -> &SpacyInfo {
        &self.info
    }

    /// The sentences of every document of `texts`, on the next idle worker (waiting for
    /// one), retried once on a fresh worker; `name(document)` names a document in errors.
    pub fn split_batch(
        &self,
        texts: &[String],
        name: &dyn Fn(usize) -> String,
    ) -> Result<Sentences> {
        let mut slot = self.borrow();
        let result = run_batch(&mut slot, &self.options, texts);
        self.idle.lock().expect("no pool user panics").push(slot);
        self.returned.notify_one();
        result.map_err(|failure| pool_error(&self.options, failure, Some(name)))
    }

    /// The sentences of every document of every batch, the batches spread over the
    /// workers; `name(batch, document)` names a document in errors.
    pub fn split(
        &self,
        batches: &[&[String]],
        name: &(dyn Fn(usize, usize) -> String + Sync),
    ) -> Result<Vec<Sentences>> {
        let next = AtomicUsize::new(0);
        let threads = self.options.workers.max(1).min(batches.len());
        let mut done: Vec<(usize, Result<Sentences>)> = thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut mine = Vec::new();
                        loop {
                            let b = next.fetch_add(1, Ordering::Relaxed);
                            let Some(texts) = batches.get(b) else {
                                return mine;
                            };
                            mine.push((b, self.split_batch(texts, &|d| name(b, d))));
                        }
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("a batch thread does not panic"))
                .collect()
        });
        done.sort_by_key(|(b, _)| *b);
        done.into_iter().map(|(_, sentences)| sentences).collect()
    }

    /// An idle worker's slot, waiting until one is.
    fn borrow(&self) -> Option<Worker> {
        let mut idle = self.idle.lock().expect("no pool user panics");
        loop {
            if let Some(slot) = idle.pop() {
                return slot;
            }
            idle = self.returned.wait(idle).expect("no pool user panics");
        }
    }
}

/// One batch on the worker in `slot` (started if it is empty), retried once on a fresh one.
fn run_batch(
    slot: &mut Option<Worker>,
    options: &SpacyOptions,
    texts: &[String],
) -> std::result::Result<Sentences, Failure> {
    let mut last = None;
    for _attempt in 0..2 {
        if slot.is_none() {
            *slot = Some(Worker::start(options)?.0);
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
    Err(last.expect("two attempts failed"))
}

fn pool_error(
    options: &SpacyOptions,
    failure: Failure,
    name: Option<&dyn Fn(usize) -> String>,
) -> Error {
    let reason = match (failure, name) {
        (Failure::Missing(missing, detail), _) => {
            return Error::SpacyUnavailable {
                model: options.model.clone(),
                python: options.python.clone(),
                missing,
                detail,
            };
        }
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
