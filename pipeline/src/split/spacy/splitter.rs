//! [`SpacySplitter`]: each chunk's sentences from the results on disk, or from the pool
//! and then saved there; [`SpacyPart`]: a part of that work, for `prepare --part K/N`.

use std::{
    path::{Path, PathBuf},
    sync::{
        Mutex, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
};

use super::{Sentences, SpacyPlan, SpacyPool, SpacyRan, SpacyWork, cache::RowCache};
use crate::{Error, Result, source::ChunkAt, stage::ChunkSplitter};

/// Which chunks a run splits with spaCy: all (as a store is built), part `k` of `n`
/// (`prepare --part K/N`: the chunks numbered `c` across every input with `c mod n = k`),
/// or none (the assembly of a store whose parts ran: every chunk must be on disk).
#[derive(Clone, Debug)]
enum Share {
    All,
    Part { k: usize, n: usize, work: SpacyWork },
    Nothing,
}

impl Share {
    fn has(&self, at: ChunkAt) -> bool {
        match self {
            Share::All => true,
            Share::Part { k, n, work } => work.number(at) % n == *k,
            Share::Nothing => false,
        }
    }
}

/// The spaCy splitter of the text stages: each chunk's sentences from the results on disk,
/// or from the pool (started on first need, shared by the threads that split) and then
/// saved there.
pub struct SpacySplitter {
    plan: SpacyPlan,
    share: Share,
    cache: RowCache,
    /// Each input's file (named in errors) and sha256 (its results' directory), by index.
    inputs: Vec<(PathBuf, String)>,
    pool: OnceLock<SpacyPool>,
    starting: Mutex<()>,
    /// Chunks split by this run, and found already split.
    computed: AtomicU64,
    cached: AtomicU64,
}

impl SpacySplitter {
    /// The splitter of every chunk, its results under the store `store`; `inputs` are the
    /// files and sha256 of the inputs a [`ChunkAt`] indexes.
    pub fn new(plan: &SpacyPlan, store: &Path, inputs: Vec<(PathBuf, String)>) -> SpacySplitter {
        SpacySplitter::sharing(plan, Share::All, store, inputs)
    }

    /// The splitter of a store whose parts split every chunk: it reads their results and
    /// splits nothing (a chunk not on disk is an error naming it).
    pub fn assembling(
        plan: &SpacyPlan,
        store: &Path,
        inputs: Vec<(PathBuf, String)>,
    ) -> SpacySplitter {
        SpacySplitter::sharing(plan, Share::Nothing, store, inputs)
    }

    fn sharing(
        plan: &SpacyPlan,
        share: Share,
        store: &Path,
        inputs: Vec<(PathBuf, String)>,
    ) -> SpacySplitter {
        SpacySplitter {
            cache: RowCache::new(store, &plan.key().fingerprint()),
            plan: plan.clone(),
            share,
            inputs,
            pool: OnceLock::new(),
            starting: Mutex::new(()),
            computed: AtomicU64::new(0),
            cached: AtomicU64::new(0),
        }
    }

    /// The sentences of each document of the chunk at `at`: from disk, else split here if
    /// the chunk is in this run's share. A part leaves other parts' chunks alone (`None`).
    fn sentences(&self, at: ChunkAt, texts: &[String]) -> Result<Option<Sentences>> {
        let ours = self.share.has(at);
        if !ours && matches!(self.share, Share::Part { .. }) {
            return Ok(None);
        }
        let (file, sha256) = &self.inputs[at.input];
        let path = self.cache.path(sha256, at.chunk);
        if let Some(found) = self.cache.load(&path, texts.len()) {
            self.cached.fetch_add(1, Ordering::Relaxed);
            return Ok(Some(found));
        }
        if !ours {
            return Err(Error::SpacyChunkMissing {
                input: file.clone(),
                chunk: at.chunk,
                path,
            });
        }
        let name = |d: usize| {
            let n = at.first_text + d as u64;
            format!("article {n} of '{}'", file.display())
        };
        let sentences = self.pool()?.split_batch(texts, &name)?;
        self.cache.save(&path, &sentences)?;
        self.computed.fetch_add(1, Ordering::Relaxed);
        Ok(Some(sentences))
    }

    /// Chunks split by this run, and chunks of its share found split already (by an
    /// earlier run, or by another at once).
    pub fn counts(&self) -> (u64, u64) {
        (
            self.computed.load(Ordering::Relaxed),
            self.cached.load(Ordering::Relaxed),
        )
    }

    /// The pool, started on first use; it must run the pinned model (unless another is
    /// allowed) and the same spaCy as any results already on disk.
    fn pool(&self) -> Result<&SpacyPool> {
        if let Some(pool) = self.pool.get() {
            return Ok(pool);
        }
        let _one_starts = self.starting.lock().expect("no starter panics");
        if let Some(pool) = self.pool.get() {
            return Ok(pool);
        }
        let pool = SpacyPool::start(&self.plan.options)?;
        let info = pool.info();
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
        self.cache.claim(info)?;
        Ok(self.pool.get_or_init(|| pool))
    }

    /// What the store records: this run's spaCy, or the one the results on disk record.
    pub fn record(&self) -> Result<SpacyRan> {
        let ran = match self.pool.get() {
            Some(pool) => pool.info().clone(),
            None => self.cache.claimed()?,
        };
        let pinned = ran.model == self.plan.model && ran.model_version == self.plan.version;
        Ok(SpacyRan {
            ran,
            other_version_allowed: !pinned,
        })
    }
}

impl ChunkSplitter for SpacySplitter {
    fn split_chunk(
        &self,
        at: ChunkAt,
        documents: &[String],
        sentence: &mut dyn FnMut(usize, &str) -> Result<()>,
    ) -> Result<()> {
        let split = self
            .sentences(at, documents)?
            .expect("a store's splitter is no part: it has every chunk or fails");
        for (document, sentences) in split.iter().enumerate() {
            for s in sentences {
                sentence(document, s)?;
            }
        }
        Ok(())
    }
}

/// Part `k` of `n` of the spaCy work: splits its chunks into the results on disk and makes
/// no sentences for a store (it is no [`ChunkSplitter`]).
pub struct SpacyPart {
    splitter: SpacySplitter,
    chunks: usize,
}

impl SpacyPart {
    /// Part `k` of `n` (`k < n`) of `work`, the chunks of `inputs` (files and sha256, as for
    /// [`SpacySplitter::new`]), its results under the store `store`.
    pub fn new(
        plan: &SpacyPlan,
        (k, n): (usize, usize),
        work: SpacyWork,
        store: &Path,
        inputs: Vec<(PathBuf, String)>,
    ) -> SpacyPart {
        assert!(k < n, "part {k} of {n}");
        SpacyPart {
            chunks: work.chunks_of_part(k, n),
            splitter: SpacySplitter::sharing(plan, Share::Part { k, n, work }, store, inputs),
        }
    }

    /// Chunks in this part.
    pub fn chunks(&self) -> usize {
        self.chunks
    }

    /// Splits the chunk at `at` if it is this part's and not on disk yet.
    pub fn split(&self, at: ChunkAt, texts: &[String]) -> Result<()> {
        self.splitter.sentences(at, texts).map(drop)
    }

    /// Chunks split by this run, and chunks found split already.
    pub fn counts(&self) -> (u64, u64) {
        self.splitter.counts()
    }
}
