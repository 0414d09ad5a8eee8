//! Words and phrases: each tokenized as the build tokenizes, its occurrences as a token
//! sequence counted up to each step, and the first step that saw it.

use std::{ops::Range, path::Path};

use earlyberts_format::{Build, Example, Invalid, Vocab};

use super::{
    Points,
    pass::{Tallied, Tally, pass},
};
use crate::{Error, Result, provenance::text_tokens, tokenize::BertWordPiece};

/// The counts kept for each term, in the order of [`TermExposure::counts`]:
/// - `seen`: occurrences of its token sequence in the examples' text (before masking;
///   overlapping ones too, as `pipeline where --text` finds them);
/// - `fully_masked`: occurrences whose every token was an MLM target;
/// - `partly_masked`: occurrences with some but not all of their tokens targets.
pub const TERM_COUNTS: [&str; 3] = ["seen", "fully_masked", "partly_masked"];

/// Terms and their token sequences: at least one term, each of at least one token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Terms {
    texts: Vec<String>,
    tokens: Vec<Vec<u16>>,
}

impl Terms {
    /// Each of `texts` tokenized under `vocab` as `pipeline where --text` tokenizes (one
    /// tokenizer for all: making one costs milliseconds); a term without tokens is refused.
    pub fn new(texts: Vec<String>, vocab: &Vocab) -> Result<Terms> {
        if texts.is_empty() {
            return Err(Invalid::Empty {
                field: "terms".into(),
            }
            .into());
        }
        let tokenizer = BertWordPiece::new(vocab)?;
        let tokens = texts
            .iter()
            .map(|text| text_tokens(&tokenizer, text))
            .collect::<Result<_>>()?;
        Ok(Terms { texts, tokens })
    }

    /// The terms as given.
    pub fn texts(&self) -> &[String] {
        &self.texts
    }

    /// Each term's WordPiece ids.
    pub fn tokens(&self) -> &[Vec<u16>] {
        &self.tokens
    }

    /// The terms of `path`, one a line (surrounding spaces and blank lines ignored).
    pub fn from_file(path: &Path, vocab: &Vocab) -> Result<Terms> {
        let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let text = String::from_utf8(text).map_err(|e| Error::Terms {
            path: path.to_path_buf(),
            reason: format!("is not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
        })?;
        let texts: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        if texts.is_empty() {
            return Err(Error::Terms {
                path: path.to_path_buf(),
                reason: "holds no terms (one word or phrase a line)".into(),
            });
        }
        Terms::new(texts, vocab).map_err(|e| match e {
            Error::EmptyQuery { text } => Error::Terms {
                path: path.to_path_buf(),
                reason: format!("term {text:?} has no tokens to count"),
            },
            e => e,
        })
    }
}

/// Cumulative counts of each term at each step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TermExposure {
    /// Ascending.
    pub steps: Vec<u64>,
    pub batch_size: u64,
    pub terms: Terms,
    /// `counts[i][s * terms + t]`: count `TERM_COUNTS[i]` of term `t` by step `steps[s]`.
    pub counts: [Vec<u64>; 3],
    /// The first step (of the first pass over the build) whose examples hold each term;
    /// `None` when no example of the build does.
    pub first_step: Vec<Option<u64>>,
}

/// The distinct token sequences, sorted, found from their first token.
struct TermTally {
    patterns: Vec<Vec<u16>>,
    /// The patterns starting with each id.
    by_first: Vec<Range<u32>>,
    /// Whether to count, or only to find first sightings.
    count: bool,
}

impl TermTally {
    fn new(tokens: &[Vec<u16>]) -> TermTally {
        let mut patterns = tokens.to_vec();
        patterns.sort_unstable();
        patterns.dedup();
        let mut by_first = vec![0..0; 1 << 16];
        for (i, p) in patterns.iter().enumerate() {
            let range = &mut by_first[usize::from(p[0])];
            if range.start == range.end {
                *range = i as u32..i as u32;
            }
            range.end = i as u32 + 1;
        }
        TermTally {
            patterns,
            by_first,
            count: true,
        }
    }
}

impl Tally for TermTally {
    fn width(&self) -> usize {
        TERM_COUNTS.len() * self.patterns.len()
    }

    fn firsts(&self) -> usize {
        self.patterns.len()
    }

    fn add(&self, k: u64, example: &Example, counts: &mut [u64], firsts: &mut [u64]) {
        let n = self.patterns.len();
        let labels = &example.mlm_positions;
        let token = |i: usize| match labels.binary_search(&(i as u16)) {
            Ok(j) => example.mlm_labels[j],
            Err(_) => example.token_ids[i],
        };
        let len = example.token_ids.len();
        for start in 0..len {
            let range = self.by_first[usize::from(token(start))].clone();
            for p in range {
                let pattern = &self.patterns[p as usize];
                let end = start + pattern.len();
                if end > len || !(start + 1..end).all(|i| token(i) == pattern[i - start]) {
                    continue;
                }
                firsts[p as usize] = firsts[p as usize].min(k);
                if !self.count {
                    continue;
                }
                let masked = labels.partition_point(|&q| usize::from(q) < end)
                    - labels.partition_point(|&q| usize::from(q) < start);
                counts[p as usize] += 1;
                if masked == pattern.len() {
                    counts[n + p as usize] += 1;
                } else if masked > 0 {
                    counts[2 * n + p as usize] += 1;
                }
            }
        }
    }
}

/// Reads on past the examples counted, for the patterns of `tally` not seen there, until
/// each is seen or the build ends; `firsts` (by pattern) gets their first examples.
fn first_sightings_after(
    build: &Build,
    points: &Points,
    tally: &TermTally,
    firsts: &mut [u64],
) -> Result<()> {
    let unseen: Vec<Vec<u16>> = (tally.patterns.iter().zip(firsts.iter()))
        .filter(|(_, first)| **first == u64::MAX)
        .map(|(p, _)| p.clone())
        .collect();
    if unseen.is_empty() || points.limit() >= build.len() {
        return Ok(());
    }
    let mut rest = TermTally::new(&unseen);
    rest.count = false;
    let range = points.limit()..build.len();
    let all_seen = |t: &Tallied| !t.firsts.contains(&u64::MAX);
    let later = pass(build, points, range, &rest, all_seen)?;
    for (pattern, first) in rest.patterns.iter().zip(later.firsts) {
        let p = tally.patterns.binary_search(pattern).expect("a pattern");
        firsts[p] = first;
    }
    Ok(())
}

/// The counts of each of `terms` in `build` at each step of `points`, and the first step
/// each was seen (read past the last step's examples only as far as a term still unseen
/// needs).
pub fn term_exposure(build: &Build, points: &Points, terms: Terms) -> Result<TermExposure> {
    let tally = TermTally::new(&terms.tokens);
    let mut tallied = pass(build, points, 0..points.limit(), &tally, |_| false)?;
    first_sightings_after(build, points, &tally, &mut tallied.firsts)?;
    let n = tally.patterns.len();
    let all = points.cumulative(&tallied.stretches, tally.width())?;
    let of_term: Vec<usize> = terms
        .tokens
        .iter()
        .map(|ids| {
            tally
                .patterns
                .binary_search(ids)
                .expect("every term is a pattern")
        })
        .collect();
    let counts = std::array::from_fn(|kind| {
        all.chunks(tally.width())
            .flat_map(|step| of_term.iter().map(move |&p| step[kind * n + p]))
            .collect()
    });
    let first_step = of_term
        .iter()
        .map(|&p| match tallied.firsts[p] {
            u64::MAX => None,
            k => Some(k / points.batch_size + 1),
        })
        .collect();
    Ok(TermExposure {
        steps: points.steps.clone(),
        batch_size: points.batch_size,
        terms,
        counts,
        first_step,
    })
}
