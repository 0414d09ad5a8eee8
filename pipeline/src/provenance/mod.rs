//! Provenance: where in training the model saw a sentence, a document or a piece of text.
//!
//! [`write_provenance`] writes a build's index once, as the build's `provenance` stage: for
//! each example, its two store sentences, their documents and the tokens of each the
//! example keeps (`earlyberts_format::provenance`). [`find`] answers a [`Query`] from the
//! index and the shards: sentence and document queries scan the index (20 bytes an
//! example, read once); token-sequence queries scan the shards in parallel, searching each
//! example's tokens as trained on (every masked position given back its label).
//! [`sightings`] puts the occurrences at the optimizer steps that train on them, as
//! `pipeline where` and the Python package print them.

mod by_step;

use std::ops::Range;

use earlyberts_format::{
    Build, Example, ShardReader,
    provenance::{
        PROVENANCE_RECORD_LEN, Provenance, ProvenanceIndex, ProvenanceInfo, ProvenanceWriter,
        Segment,
    },
    verify::Progress,
};
use rayon::prelude::*;

pub use by_step::{Sighting, Sightings, Steps, open_index, sightings, text_tokens};

use crate::{Error, Result, examples::BuildPairs, mask::MaskingPolicy, store::SentenceStore};

/// Examples whose records are made in one parallel batch (20 MiB of records).
const BATCH: u64 = 1 << 20;

/// Writes the provenance index of `build`, whose examples `pairs` made from `store` under
/// `masking`; `progress` advances by examples.
pub fn write_provenance(
    build: &Build,
    pairs: &BuildPairs,
    store: &SentenceStore,
    masking: &MaskingPolicy,
    progress: &dyn Progress,
) -> Result<ProvenanceInfo> {
    if store.len() > u64::from(u32::MAX) {
        return Err(Error::Store {
            path: store.dir().to_path_buf(),
            reason: "the provenance index numbers at most 2^32 sentences".into(),
        });
    }
    let total = build.len();
    progress.set_total(total);
    let mut writer = ProvenanceWriter::create(build.dir(), build.manifest())?;
    let record = |k: u64| {
        let (a, b) = pairs.sentences(k);
        let (first_tokens, second_tokens) =
            masking.kept(store.sentence_len(a), store.sentence_len(b));
        Provenance {
            first: a as u32,
            second: b as u32,
            first_document: store.document(a),
            second_document: store.document(b),
            // At most max_length, which the recipe keeps at or below 65,535.
            first_tokens: first_tokens as u16,
            second_tokens: second_tokens as u16,
        }
    };
    for start in (0..total).step_by(BATCH as usize) {
        let end = (start + BATCH).min(total);
        let chunks: Vec<Vec<u8>> = (start..end)
            .step_by(1 << 14)
            .collect::<Vec<u64>>()
            .into_par_iter()
            .map(|from| {
                let ks = from..(from + (1 << 14)).min(end);
                let mut bytes =
                    Vec::with_capacity((ks.end - ks.start) as usize * PROVENANCE_RECORD_LEN);
                ks.for_each(|k| record(k).encode(&mut bytes));
                bytes
            })
            .collect();
        for bytes in &chunks {
            writer.write_records(bytes)?;
        }
        progress.advance(end - start);
    }
    Ok(writer.commit()?)
}

/// What to look for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    /// Sentence `N` of the store (corpus order).
    Sentence(u32),
    /// Every sentence of document `D` of the store.
    Document(u32),
    /// A token sequence anywhere in an example.
    Tokens(Vec<u16>),
}

/// One place an example holds what was looked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Occurrence {
    /// The example's index in training order.
    pub example: u64,
    pub segment: Segment,
    /// The store sentence of that segment, and its document.
    pub sentence: u32,
    pub document: u32,
    /// Example positions (`[CLS]` is 0) of the tokens found; empty when the length cut
    /// removed the sentence.
    pub positions: Range<u16>,
    /// How many of those positions carry an MLM label.
    pub masked: u16,
}

/// How much of the build to search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every occurrence.
    All,
    /// The occurrences of the first step (of this many examples) that has any; a token
    /// search stops reading shards after that step.
    FirstStep { batch_size: u64 },
}

/// The occurrences of `query` in `build` (all of them, or those of the first step that has
/// any), by example, then position.
pub fn find(
    build: &Build,
    index: &ProvenanceIndex,
    query: &Query,
    scope: Scope,
) -> Result<Vec<Occurrence>> {
    let mut found = match query {
        Query::Sentence(n) => by_record(build, index, scope, |r, s| r.sentence(s) == *n)?,
        Query::Document(d) => by_record(build, index, scope, |r, s| r.document(s) == *d)?,
        Query::Tokens(needle) => by_tokens(build, index, needle, scope)?,
    };
    found.sort_by_key(|o| (o.example, o.positions.start));
    // A token search reads whole windows of shards: what it found past the first step goes.
    if let (Scope::FirstStep { batch_size }, Some(first)) = (scope, found.first()) {
        let end = first_step_end(first.example, batch_size);
        found.truncate(found.partition_point(|o| o.example < end));
    }
    Ok(found)
}

/// The end (excluded) of the step of `batch_size` examples that holds example `k`.
fn first_step_end(k: u64, batch_size: u64) -> u64 {
    (k / batch_size + 1) * batch_size
}

/// The segments whose record matches `wanted` (in `scope`), from one scan of the index;
/// then each example read for its labels.
fn by_record(
    build: &Build,
    index: &ProvenanceIndex,
    scope: Scope,
    wanted: impl Fn(&Provenance, Segment) -> bool,
) -> Result<Vec<Occurrence>> {
    let mut found = Vec::new();
    index.scan(|k, record| {
        for segment in [Segment::A, Segment::B] {
            if wanted(record, segment) {
                found.push((k, segment, *record));
            }
        }
    })?;
    if let (Scope::FirstStep { batch_size }, Some(&(first, ..))) = (scope, found.first()) {
        let end = first_step_end(first, batch_size);
        found.retain(|&(k, ..)| k < end);
    }
    if found.is_empty() {
        return Ok(Vec::new());
    }
    // In groups of consecutive finds, each read forward by one stream: a block is decoded
    // once however many finds it holds (a BookCorpus file is one document of millions).
    let group = found
        .len()
        .div_ceil(8 * rayon::current_num_threads())
        .max(1);
    let groups: Vec<Vec<Occurrence>> = found
        .par_chunks(group)
        .map(|finds| {
            let mut stream = build.stream_from(finds[0].0)?;
            let mut example = Example::default();
            let mut out = Vec::with_capacity(finds.len());
            for &(k, segment, record) in finds {
                if out.last().is_none_or(|o: &Occurrence| o.example != k) {
                    stream.seek(k)?;
                    stream.read_next(&mut example)?;
                }
                out.push(occurrence(
                    k,
                    segment,
                    &record,
                    record.positions(segment),
                    &example,
                ));
            }
            Ok(out)
        })
        .collect::<Result<_>>()?;
    Ok(groups.into_iter().flatten().collect())
}

fn occurrence(
    k: u64,
    segment: Segment,
    record: &Provenance,
    positions: Range<u16>,
    example: &Example,
) -> Occurrence {
    let masked = example
        .mlm_positions
        .iter()
        .filter(|p| positions.contains(p))
        .count() as u16;
    Occurrence {
        example: k,
        segment,
        sentence: record.sentence(segment),
        document: record.document(segment),
        positions,
        masked,
    }
}

/// The places `needle` occurs in the examples' tokens as trained on: shards in parallel, a
/// window of them at a time, in training order (so a first-step search can stop early).
fn by_tokens(
    build: &Build,
    index: &ProvenanceIndex,
    needle: &[u16],
    scope: Scope,
) -> Result<Vec<Occurrence>> {
    if needle.is_empty() {
        return Ok(Vec::new());
    }
    let shards = &build.manifest().shards;
    let window = 2 * rayon::current_num_threads().max(1);
    let mut found: Vec<Occurrence> = Vec::new();
    let mut next = 0;
    while next < shards.len() {
        if let (Scope::FirstStep { batch_size }, Some(first)) = (scope, found.first())
            && shards[next].first_example >= first_step_end(first.example, batch_size)
        {
            break;
        }
        let to = (next + window).min(shards.len());
        found.extend(tokens_in_shards(build, index, needle, next..to)?);
        next = to;
    }
    Ok(found)
}

/// The places `needle` occurs in shards `range`, shards in parallel.
fn tokens_in_shards(
    build: &Build,
    index: &ProvenanceIndex,
    needle: &[u16],
    range: Range<usize>,
) -> Result<Vec<Occurrence>> {
    let manifest = build.manifest();
    let per_shard: Vec<Vec<Occurrence>> = range
        .into_par_iter()
        .map(|shard| {
            let entry = &manifest.shards[shard];
            let first = entry.first_example;
            let records = index.records(first..first + entry.stats.examples)?;
            let mut reader = ShardReader::open(build.shard_path(shard))?;
            let (mut example, mut tokens, mut found) = (Example::default(), Vec::new(), Vec::new());
            let mut k = first;
            while reader.read_next(&mut example)? {
                example.unmasked_into(&mut tokens);
                let record = &records[(k - first) as usize];
                for start in matches(&tokens, needle) {
                    let positions = start as u16..(start + needle.len()) as u16;
                    let a = start < usize::from(example.segment_a_len);
                    let segment = record.segment_at(positions.start).unwrap_or(match a {
                        true => Segment::A,
                        false => Segment::B,
                    });
                    found.push(occurrence(k, segment, record, positions, &example));
                }
                k += 1;
            }
            Ok(found)
        })
        .collect::<Result<_>>()?;
    Ok(per_shard.into_iter().flatten().collect())
}

/// Start positions of `needle` in `haystack` (overlapping ones too).
fn matches<'a>(haystack: &'a [u16], needle: &'a [u16]) -> impl Iterator<Item = usize> + 'a {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(move |(_, w)| *w == needle)
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_find_every_start_and_labels_come_back() {
        assert_eq!(
            matches(&[1, 2, 1, 2, 1], &[1, 2, 1]).collect::<Vec<_>>(),
            vec![0, 2]
        );
        assert_eq!(matches(&[1, 2], &[1, 2, 3]).count(), 0);
        let example = Example {
            token_ids: vec![101, 103, 7, 102],
            segment_a_len: 4,
            mlm_positions: vec![1, 2],
            mlm_labels: vec![5, 6],
            ..Example::default()
        };
        let mut tokens = vec![9; 7];
        example.unmasked_into(&mut tokens);
        assert_eq!(tokens, vec![101, 5, 6, 102]);
    }
}
