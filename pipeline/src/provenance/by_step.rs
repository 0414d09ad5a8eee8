//! Occurrences by optimizer step: what `pipeline where` prints, and the Python package's
//! `Build.where` returns.

use std::io;

use earlyberts_format::{
    Build, Invalid, StepBatch, Vocab,
    provenance::{PROVENANCE_INFO_FILE, ProvenanceIndex, Segment},
};
use serde::Serialize;

use super::{Occurrence, Query, Scope, find};
use crate::{Error, Result, stage::Tokenizer, tokenize::BertWordPiece};

/// One occurrence at one optimizer step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Sighting {
    pub step: u64,
    /// The example's index in training order.
    pub example: u64,
    pub segment: Segment,
    /// The store sentence of that segment, and its document.
    pub sentence: u32,
    pub document: u32,
    /// Example positions `[start, end)` of the tokens found; equal when the length cut
    /// removed the sentence.
    pub positions: [u16; 2],
    /// How many of those positions carry an MLM label.
    pub masked: u16,
}

/// Which steps to list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Steps {
    /// Examples per optimizer step.
    pub batch_size: u64,
    /// Only the first step that has any occurrence.
    pub first: bool,
    /// Also the steps of later passes over the data, up to this step.
    pub until: Option<u64>,
}

/// What a search found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sightings {
    /// By step, then example, then position.
    pub lines: Vec<Sighting>,
    /// The occurrences behind them (an occurrence is seen at every pass up to `until`).
    pub occurrences: usize,
    /// How much of the build was searched.
    pub scope: Scope,
}

impl Query {
    /// A search for the tokens of `text` under `vocab` (uncased BERT WordPiece).
    pub fn text(text: &str, vocab: &Vocab) -> Result<Query> {
        Ok(Query::Tokens(text_tokens(
            &BertWordPiece::new(vocab)?,
            text,
        )?))
    }
}

/// The tokens of `text` searched for (refused when it has none).
pub fn text_tokens(tokenizer: &BertWordPiece, text: &str) -> Result<Vec<u16>> {
    let mut ids = Vec::new();
    tokenizer.encode_into(text, &mut ids)?;
    if ids.is_empty() {
        return Err(Error::EmptyQuery { text: text.into() });
    }
    Ok(ids)
}

/// The provenance index `pipeline build` wrote beside the build's shards.
pub fn open_index(build: &Build) -> Result<ProvenanceIndex> {
    let missing = |path: &std::path::Path| Error::NoProvenance {
        build: build.dir().to_path_buf(),
        reason: format!(
            "has no provenance index ({PROVENANCE_INFO_FILE} is missing: '{}')",
            path.display()
        ),
    };
    match ProvenanceIndex::open(build) {
        Ok(index) => Ok(index),
        Err(earlyberts_format::Error::Io { path, source })
            if source.kind() == io::ErrorKind::NotFound =>
        {
            Err(missing(&path))
        }
        Err(e @ earlyberts_format::Error::Provenance { .. }) => Err(Error::NoProvenance {
            build: build.dir().to_path_buf(),
            reason: format!("has a provenance index that cannot be used ({e})"),
        }),
        Err(e) => Err(e.into()),
    }
}

/// The occurrences of `query` in `build` at the steps that train on them.
pub fn sightings(
    build: &Build,
    index: &ProvenanceIndex,
    query: &Query,
    steps: Steps,
) -> Result<Sightings> {
    if steps.batch_size == 0 {
        return Err(Invalid::too_small("batch_size", steps.batch_size, 1).into());
    }
    if steps.until == Some(0) {
        return Err(Invalid::too_small("until_step", 0, 1).into());
    }
    let scope = match steps.first && steps.until.is_none() {
        true => Scope::FirstStep {
            batch_size: steps.batch_size,
        },
        false => Scope::All,
    };
    let found = find(build, index, query, scope)?;
    let mut lines: Vec<Sighting> = found
        .iter()
        .flat_map(|o| {
            StepBatch::steps_of(o.example, steps.batch_size, build.len(), steps.until)
                .into_iter()
                .map(move |step| sighting(step, o))
        })
        .collect();
    lines.sort_by_key(|l| (l.step, l.example, l.positions[0]));
    if steps.first
        && let Some(first) = lines.first().map(|l| l.step)
    {
        lines.retain(|l| l.step == first);
    }
    Ok(Sightings {
        lines,
        occurrences: found.len(),
        scope,
    })
}

fn sighting(step: u64, o: &Occurrence) -> Sighting {
    Sighting {
        step,
        example: o.example,
        segment: o.segment,
        sentence: o.sentence,
        document: o.document,
        positions: [o.positions.start, o.positions.end],
        masked: o.masked,
    }
}
