//! `audit`: does a build keep the recipe's promises?
//!
//! Over a strided sample of examples (or all of them), it measures the NSP balance, the
//! masked share of eligible tokens, the `[MASK]` / random / kept split of masked tokens, the
//! cap and the lengths, and checks each against its expectation with a tolerance of five
//! standard errors for the sample size. Integrity facts are exact: every example decodes
//! to `[CLS] A [SEP] B [SEP]` once its labels are put back, and — when the sentence store
//! is at hand — A and B are the sentences the recipe's pairing names, with B the sentence
//! after A for label 0.

use earlyberts_format::{Build, Example, NspLabel, SpecialTokens, Vocab};
use rayon::prelude::*;
use serde::Serialize;

use crate::{Result, examples::ExampleSource, mask::MaskingPolicy, recipe::Recipe};

/// One line of the audit table.
#[derive(Clone, Debug, Serialize)]
pub struct AuditRow {
    pub check: &'static str,
    pub observed: String,
    pub expected: String,
    pub ok: bool,
}

/// The audit's table.
#[derive(Clone, Debug, Serialize)]
pub struct AuditReport {
    pub examples_checked: u64,
    pub rows: Vec<AuditRow>,
}

impl AuditReport {
    /// Every check passed.
    pub fn is_ok(&self) -> bool {
        self.rows.iter().all(|r| r.ok)
    }
}

/// Tallies over the sample.
#[derive(Default)]
struct Tally {
    examples: u64,
    untruncated: u64,
    random_next_untruncated: u64,
    eligible: u64,
    chosen: u64,
    labelled: u64,
    masked: u64,
    random: u64,
    kept: u64,
    over_cap: u64,
    too_long: u64,
    truncated: u64,
    malformed: u64,
    length_sum: u64,
    max_length_seen: usize,
    pair_mismatches: u64,
    first_problem: Option<String>,
}

/// Audits `sample` examples spread evenly over the build (all when `None`); with `source`
/// (the recipe over the build's sentence store), each is also compared with what the
/// recipe makes. The sample is taken in evenly spaced runs of the source's run length.
pub fn audit(
    build: &Build,
    recipe: &Recipe,
    vocab: &Vocab,
    source: Option<&dyn ExampleSource>,
    sample: Option<u64>,
) -> Result<AuditReport> {
    let total = build.len();
    let count = sample.map_or(total, |s| s.min(total));
    let runs = sample_runs(total, count, source.map_or(1, |s| s.run_length()));
    // Groups of consecutive runs in parallel, each read forward by one stream (a block is
    // decoded once however many samples it holds); tallies merged in order.
    let group = runs.len().div_ceil(8 * rayon::current_num_threads()).max(1);
    let tallies: Vec<Tally> = runs
        .par_chunks(group)
        .map(|runs| audit_runs(build, recipe, vocab, source, runs))
        .collect::<Result<_>>()?;
    let tally = tallies.into_iter().fold(Tally::default(), Tally::merge);
    Ok(report(&tally, recipe, source.map(|s| s.pair_counts())))
}

/// The tally of `runs` (ascending), read by one stream.
fn audit_runs(
    build: &Build,
    recipe: &Recipe,
    vocab: &Vocab,
    source: Option<&dyn ExampleSource>,
    runs: &[std::ops::Range<u64>],
) -> Result<Tally> {
    let (special, policy) = (vocab.special(), &recipe.masking);
    let mut tally = Tally::default();
    let mut example = Example::default();
    let Some(first) = runs.first() else {
        return Ok(tally);
    };
    let mut stream = build.stream_from(first.start)?;
    for run in runs {
        stream.seek(run.start)?;
        let expected = source.map(|s| s.examples(run.clone()));
        for k in run.clone() {
            stream
                .read_next(&mut example)?
                .expect("sampled indices lie inside the build");
            tally_example(&mut tally, &example, &special, policy);
            if let (Some(source), Some(expected)) = (source, &expected) {
                let made = &expected[(k - run.start) as usize];
                if *made != example || !source.pair_is_consistent(k) {
                    tally.pair_mismatches += 1;
                    tally.first_problem.get_or_insert(format!(
                        "example {k} is not what the recipe makes of the store"
                    ));
                }
            }
        }
    }
    Ok(tally)
}

/// `count` of `total` examples in evenly spaced runs of (up to) `length`, ascending and
/// disjoint; with `length` 1, examples `floor(i · total / count)`.
fn sample_runs(total: u64, count: u64, length: u64) -> Vec<std::ops::Range<u64>> {
    let runs = count.div_ceil(length.max(1));
    let mut out: Vec<std::ops::Range<u64>> = Vec::new();
    for i in 0..runs {
        let start = (u128::from(i) * u128::from(total) / u128::from(runs)) as u64;
        let start = out.last().map_or(start, |last| start.max(last.end));
        let end = (start + length).min(total);
        if start < end {
            out.push(start..end);
        }
    }
    out
}

impl Tally {
    /// The tally of two disjoint samples; `self`'s first problem comes first.
    fn merge(self, other: Tally) -> Tally {
        Tally {
            examples: self.examples + other.examples,
            untruncated: self.untruncated + other.untruncated,
            random_next_untruncated: self.random_next_untruncated + other.random_next_untruncated,
            eligible: self.eligible + other.eligible,
            chosen: self.chosen + other.chosen,
            labelled: self.labelled + other.labelled,
            masked: self.masked + other.masked,
            random: self.random + other.random,
            kept: self.kept + other.kept,
            over_cap: self.over_cap + other.over_cap,
            too_long: self.too_long + other.too_long,
            truncated: self.truncated + other.truncated,
            malformed: self.malformed + other.malformed,
            length_sum: self.length_sum + other.length_sum,
            max_length_seen: self.max_length_seen.max(other.max_length_seen),
            pair_mismatches: self.pair_mismatches + other.pair_mismatches,
            first_problem: self.first_problem.or(other.first_problem),
        }
    }
}

fn tally_example(t: &mut Tally, e: &Example, special: &SpecialTokens, policy: &MaskingPolicy) {
    let (max_length, cap) = (policy.max_length as usize, policy.max_predictions as usize);
    t.examples += 1;
    let len = e.token_ids.len();
    t.length_sum += len as u64;
    t.max_length_seen = t.max_length_seen.max(len);
    // At the cut's length: cut, or of that length anyway; left out of the NSP share.
    let truncated = len == policy.truncated_length();
    t.truncated += u64::from(truncated);
    t.too_long += u64::from(len > max_length);
    t.over_cap += u64::from(e.mlm_positions.len() > cap);
    let mut original = Vec::with_capacity(len);
    e.unmasked_into(&mut original);
    for (&p, &l) in e.mlm_positions.iter().zip(&e.mlm_labels) {
        t.labelled += 1;
        match e.token_ids[p as usize] {
            id if id == special.mask => t.masked += 1,
            id if id == l => t.kept += 1,
            _ => t.random += 1,
        }
    }
    let a = e.segment_a_len as usize;
    let structured = len >= 2
        && original[0] == special.cls
        && original[len - 1] == special.sep
        && (a == len || (a >= 2 && original[a - 1] == special.sep));
    if !structured {
        t.malformed += 1;
    }
    if !truncated {
        t.untruncated += 1;
        t.random_next_untruncated += u64::from(e.nsp_label == NspLabel::RandomNext);
        let eligible = original
            .iter()
            .filter(|&&id| !special.is_special(id))
            .count();
        // Below 200 eligible tokens the cap of 80 practically never binds (over 10 sd).
        if eligible <= 200 {
            t.eligible += eligible as u64;
            t.chosen += e.mlm_positions.len() as u64;
        }
    }
}

/// Checks `observed` against `p` with five standard errors of a proportion over `n`.
fn proportion(check: &'static str, hits: u64, n: u64, p: f64) -> AuditRow {
    let observed = if n == 0 { p } else { hits as f64 / n as f64 };
    let tolerance = 5.0 * (p * (1.0 - p) / n.max(1) as f64).sqrt() + 1e-9;
    AuditRow {
        check,
        observed: format!("{observed:.4} ({hits}/{n})"),
        expected: format!("{p:.4} ± {tolerance:.4}"),
        ok: (observed - p).abs() <= tolerance,
    }
}

fn exact(check: &'static str, bad: u64, what: &str) -> AuditRow {
    AuditRow {
        check,
        observed: format!("{bad} {what}"),
        expected: format!("0 {what}"),
        ok: bad == 0,
    }
}

fn report(t: &Tally, recipe: &Recipe, pairing: Option<(u64, u64)>) -> AuditReport {
    let policy = &recipe.masking;
    let expected_random_next = match pairing {
        Some((drawn, pairs)) if pairs > 0 => drawn as f64 / pairs as f64,
        _ => recipe.pairs.random_next_fraction,
    };
    let shares = policy.expected_shares();
    let mut rows = vec![
        proportion(
            "NSP random-next share (untruncated)",
            t.random_next_untruncated,
            t.untruncated,
            expected_random_next,
        ),
        proportion(
            "masked share of eligible tokens",
            t.chosen,
            t.eligible,
            shares.chosen,
        ),
        proportion(
            "masked tokens shown as [MASK]",
            t.masked,
            t.labelled,
            shares.mask_token,
        ),
        proportion(
            "masked tokens shown as a random id",
            t.random,
            t.labelled,
            shares.random_token,
        ),
        exact("labels per example over the cap", t.over_cap, "examples"),
        exact("examples longer than max_length", t.too_long, "examples"),
        exact(
            "examples not [CLS] A [SEP] B [SEP]",
            t.malformed,
            "examples",
        ),
    ];
    rows.push(AuditRow {
        check: "length: mean / max / truncated share",
        observed: format!(
            "{:.1} / {} / {:.4}",
            t.length_sum as f64 / t.examples.max(1) as f64,
            t.max_length_seen,
            t.truncated as f64 / t.examples.max(1) as f64
        ),
        expected: format!("max ≤ {}", policy.max_length),
        ok: true,
    });
    if pairing.is_some() {
        let mut row = exact(
            "examples differing from store + recipe + seed",
            t.pair_mismatches,
            "examples",
        );
        if let Some(problem) = &t.first_problem {
            row.observed = format!("{} (first: {problem})", row.observed);
        }
        rows.push(row);
    }
    AuditReport {
        examples_checked: t.examples,
        rows,
    }
}
