//! [`TextPlan`]: the text stages resolved (inputs, vocabulary, rules, splitter, store
//! directory); [`TextPlan::fingerprint`] is the one place a [`StoreFingerprint`] (everything
//! the store's bytes depend on) is made, and [`TextPlan::store_state`] the one place it is
//! compared.

use std::{
    path::{Path, PathBuf},
    sync::OnceLock,
};

use earlyberts_format::{InputFile, Vocab, sha256_file};
use rayon::prelude::*;

use super::RowRule;
use crate::{
    Error, Result,
    clean::{CleanRules, RULES_VERSION},
    difference::{differences, made_otherwise},
    source::CorpusKind,
    split::{
        LineBreaks, RuleSplitter,
        spacy::{
            MissingWork, PartsRecord, SpacyKey, SpacyOverrides, SpacyPart, SpacyPlan, SpacyRan,
            SpacySplitter, SpacyWork, cache::RowCache,
        },
    },
    stage::ChunkSplitter,
    store::{STORE_MANIFEST, SentenceStore, StoreFingerprint, StoreManifest},
};

/// Everything `prepare` needs, resolved and validated ([`crate::recipe::Recipe::text_plan`]).
pub struct TextPlan {
    pub inputs: Vec<(CorpusKind, PathBuf)>,
    pub vocab: Vocab,
    pub clean: CleanRules,
    pub line_breaks: LineBreaks,
    pub sentences_per_shard: u64,
    pub out: PathBuf,
    pub row_rule: RowRule,
    /// Also write Wikipedia's sentences, as split, to this file in the reference's
    /// `wiki-sentences.csv` form (to run the reference script on the same rows).
    pub export_sentences: Option<PathBuf>,
    /// Split Wikipedia with spaCy instead of the rules.
    pub spacy: Option<SpacyPlan>,
    /// Where parts of the spaCy work ran for this store (`prepare --part`), split the chunks
    /// they left here too; else those are refused, named, with the core-hours they take.
    pub split_missing: bool,
    /// The inputs' hashes, computed once (reading 20 GB is not free).
    hashed: OnceLock<Vec<InputFile>>,
    /// The record of the parts run for the store, read once (`None` inside: none ran).
    parts: OnceLock<Option<PartsRecord>>,
}

/// How the store a plan writes stands on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreState {
    /// A whole store made with this plan's fingerprint.
    Current,
    /// No whole store (none begun, or an interrupted one).
    Absent,
    /// A whole store made otherwise: why it is not this plan's, in words.
    Stale(String),
}

/// A splitter of a store's articles: a [`ChunkSplitter`], and what the store records of its
/// run beside its setup (spaCy's versions; nothing for the rule splitter, whose mode says
/// it all).
pub(super) trait StoreSplitter: ChunkSplitter {
    fn ran(&self) -> Result<Option<SpacyRan>>;
}

impl StoreSplitter for RuleSplitter {
    fn ran(&self) -> Result<Option<SpacyRan>> {
        Ok(None)
    }
}

impl StoreSplitter for SpacySplitter {
    fn ran(&self) -> Result<Option<SpacyRan>> {
        self.record().map(Some)
    }
}

/// Which articles a plan's splitter splits.
pub(super) enum Articles<'a> {
    /// The plan's Wikipedia inputs.
    Inputs,
    /// Articles given as text (`pipeline sentences`): spaCy's results go under `out` as
    /// those of an input with sha256 `key`.
    Text { key: &'a str },
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
            row_rule: RowRule::AsSplit,
            export_sentences: None,
            spacy: None,
            split_missing: false,
            hashed: OnceLock::new(),
            parts: OnceLock::new(),
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
            rules_version: RULES_VERSION,
            clean: self.clean,
            line_breaks: self.line_breaks,
            sentences_per_shard: self.sentences_per_shard,
            csv_round_trip: self.row_rule == RowRule::CsvRoundTrip,
            spacy: self.spacy_key(),
        })
    }

    /// The spaCy setup, if spaCy splits this plan's Wikipedia articles (not when its
    /// sentences come from a CSV file).
    pub fn spacy_key(&self) -> Option<SpacyKey> {
        self.spacy_plan().map(SpacyPlan::key)
    }

    fn spacy_plan(&self) -> Option<&SpacyPlan> {
        let articles = self.inputs.iter().any(|(k, _)| k.has_articles());
        self.spacy.as_ref().filter(|_| articles)
    }

    /// Whether `out` holds a whole store made with this plan's fingerprint, and if it
    /// holds another, why that one is not current.
    pub fn store_state(&self) -> Result<StoreState> {
        let Ok(text) = std::fs::read(self.out.join(STORE_MANIFEST)) else {
            return Ok(StoreState::Absent);
        };
        let existing = match StoreManifest::parse(&text) {
            Ok(existing) => existing,
            Err(why) => return Ok(StoreState::Stale(why.to_string())),
        };
        let changed = differences(&existing.made_from, &self.fingerprint()?);
        if !changed.is_empty() {
            return Ok(StoreState::Stale(made_otherwise(&changed)));
        }
        Ok(match SentenceStore::open(&self.out) {
            Ok(_) => StoreState::Current,
            Err(e) => StoreState::Stale(earlyberts_format::one_line(&e)),
        })
    }

    /// Whether an interrupted `prepare` of this plan can resume.
    pub fn resumable(&self) -> bool {
        self.spacy_key().is_none() && self.export_sentences.is_none()
    }

    /// The command line's changes to the spaCy setup. Where parts of the spaCy work ran for
    /// this store, their setup is taken (unless the model or `max_length` is given: then it
    /// must be theirs), so the assembly needs no spaCy flags.
    pub fn apply_spacy(&mut self, overrides: &SpacyOverrides) -> Result<()> {
        self.split_missing = overrides.split_missing;
        let Some(spacy) = &mut self.spacy else {
            return Ok(());
        };
        overrides.apply(spacy);
        let Some(parts) = load_parts(&self.parts, &self.out)? else {
            return Ok(());
        };
        if overrides.model.is_none() && overrides.max_length.is_none() {
            spacy.adopt(parts);
        }
        parts.check(&self.out, spacy)
    }

    /// Whether `prepare` assembles a store from parts of its spaCy work: parts ran for it,
    /// and chunks they left are not to be split here (`split_missing` off).
    pub fn assembles_parts(&self) -> Result<bool> {
        if self.split_missing || self.spacy_plan().is_none() {
            return Ok(false);
        }
        Ok(load_parts(&self.parts, &self.out)?.is_some())
    }

    /// The chunks spaCy splits for this plan, or `None` if it splits none of its inputs.
    fn spacy_work(&self) -> Result<Option<SpacyWork>> {
        let Some(spacy) = self.spacy_plan() else {
            return Ok(None);
        };
        let work = SpacyWork::new(
            &self.inputs,
            &self.files_and_hashes()?,
            spacy.options.components,
        )?;
        Ok(Some(work))
    }

    /// The spaCy work not done yet for this store (`None`: spaCy splits nothing here).
    pub fn spacy_to_split(&self) -> Result<Option<MissingWork>> {
        let (Some(spacy), Some(work)) = (self.spacy_plan(), self.spacy_work()?) else {
            return Ok(None);
        };
        let cache = RowCache::new(&self.out, &spacy.key().fingerprint());
        let parts = load_parts(&self.parts, &self.out)?.map(|p| p.parts);
        Ok(Some(work.missing(&cache, &self.out, parts)))
    }

    /// Part `k` of `n` (`k < n`) of this plan's spaCy work, or `None` if spaCy splits none
    /// of its inputs. Records in the store that parts of `n` run this setup (refused if
    /// the parts recorded there ran another).
    pub fn spacy_part(&self, (k, n): (usize, usize)) -> Result<Option<SpacyPart>> {
        let (Some(spacy), Some(work)) = (self.spacy_plan(), self.spacy_work()?) else {
            return Ok(None);
        };
        PartsRecord::claim(&self.out, n, spacy)?;
        let inputs = self.files_and_hashes()?;
        Ok(Some(SpacyPart::new(spacy, (k, n), work, &self.out, inputs)))
    }

    /// The splitter of the plan's Wikipedia articles, the one place a splitter is chosen: the
    /// rule splitter in the plan's line-break mode, or spaCy, which splits every chunk not
    /// on disk (of the inputs: unless parts ran for this store and `split_missing` is off).
    pub(super) fn splitter(&self, articles: Articles) -> Result<Box<dyn StoreSplitter>> {
        let spacy = match articles {
            Articles::Inputs => self.spacy_plan(),
            Articles::Text { .. } => self.spacy.as_ref(),
        };
        let Some(spacy) = spacy else {
            return Ok(Box::new(RuleSplitter::new(self.line_breaks)));
        };
        let splitter = match articles {
            Articles::Text { key } => {
                let given = vec![(PathBuf::from("<stdin>"), key.to_string())];
                SpacySplitter::new(spacy, &self.out, given)
            }
            Articles::Inputs if self.assembles_parts()? => {
                SpacySplitter::assembling(spacy, &self.out, self.files_and_hashes()?)
            }
            Articles::Inputs => SpacySplitter::new(spacy, &self.out, self.files_and_hashes()?),
        };
        Ok(Box::new(splitter))
    }

    fn files_and_hashes(&self) -> Result<Vec<(PathBuf, String)>> {
        let hashed = self.input_files()?;
        Ok(self
            .inputs
            .iter()
            .zip(hashed)
            .map(|((_, path), input)| (path.clone(), input.sha256.clone()))
            .collect())
    }
}

/// The parts' record of the store `out`, read into `cache` on first use.
fn load_parts<'a>(
    cache: &'a OnceLock<Option<PartsRecord>>,
    out: &Path,
) -> Result<Option<&'a PartsRecord>> {
    if cache.get().is_none() {
        let _ = cache.set(PartsRecord::load(out)?);
    }
    Ok(cache.get().and_then(Option::as_ref))
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
