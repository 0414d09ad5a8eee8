//! The reference script's examples from the sentence rows (reference-exact.md §11), given
//! its plan (`super::plan`: pairs, order, batches): its masking (torch's generator through
//! the collator, over batches padded to their longest pair) and its 80-label cap (Python
//! `random.sample` again).
//!
//! Work is split so that shards can be written in parallel with identical bytes:
//! [`ReferencePlan::new`] makes the pairs, the order and every batch's length `L` and
//! stream offset (`O_{k+1} = O_k + 4·B·L`) — sequential and cheap; [`Caps::count`]
//! counts each example's chosen tokens (in parallel, by shard), then runs the cap draws
//! in output order (sequential, over the 0.04% of examples with more than 80);
//! [`ReferenceMaker::examples`] then makes any range of examples on its own: it jumps the
//! torch generator to the first batch's offset ([`Mt19937::skip`]) and draws forward.

use std::{collections::HashMap, ops::Range};

use earlyberts_format::{Example, NspLabel, SpecialTokens, Vocab};
use rayon::prelude::*;

use super::{
    mt19937::Mt19937,
    plan::{Batch, ReferencePlan},
    python::PyRandom,
    torch::{bernoulli, bernoulli_threshold, manual_seed},
};
use crate::{mask::MaskingPolicy, stage::ExampleSource, store::SentenceStore};

/// What the masking needs besides the plan.
#[derive(Clone, Copy)]
struct Thresholds {
    choose: u32,
    mask: u32,
    random: u32,
    range: [u32; 2],
    cap: usize,
}

impl Thresholds {
    fn of(policy: &MaskingPolicy) -> Thresholds {
        Thresholds {
            choose: bernoulli_threshold(policy.probability),
            mask: bernoulli_threshold(policy.mask_token),
            random: bernoulli_threshold(policy.random_token_of_rest),
            range: policy.random_token_range,
            cap: policy.max_predictions as usize,
        }
    }
}

/// The rows of one batch that a range of lines needs, their tokens back to back
/// (`[CLS] A [SEP] B [SEP]` each), reused from batch to batch.
#[derive(Default)]
struct BatchRows {
    lines: Vec<u64>,
    /// Each row's index in its batch.
    index: Vec<u64>,
    /// Where each row's tokens start in `tokens`; one more entry at the end.
    starts: Vec<usize>,
    segment_a: Vec<usize>,
    labels: Vec<NspLabel>,
    tokens: Vec<u16>,
}

impl BatchRows {
    fn clear(&mut self) {
        self.lines.clear();
        self.index.clear();
        self.starts.clear();
        self.segment_a.clear();
        self.labels.clear();
        self.tokens.clear();
        self.starts.push(0);
    }

    fn len(&self) -> usize {
        self.lines.len()
    }

    fn row(&self, i: usize) -> &[u16] {
        &self.tokens[self.starts[i]..self.starts[i + 1]]
    }
}

/// Which tokens the 80-label cap unmasks, by line: what the sequential cap pass decided.
#[derive(Clone, Debug, Default)]
pub struct Caps(HashMap<u64, Vec<u16>>);

impl Caps {
    /// Examples capped.
    pub fn len(&self) -> u64 {
        self.0.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Makes the examples of a [`ReferencePlan`], any range on its own, once its [`Caps`] are
/// known.
pub struct ReferenceMaker<'a> {
    plan: &'a ReferencePlan,
    store: &'a SentenceStore,
    masking: MaskingPolicy,
    thresholds: Thresholds,
    special: SpecialTokens,
    caps: &'a Caps,
}

impl Caps {
    /// The caps of `plan`: counts every example's chosen tokens (in parallel over `chunks`
    /// of lines), then draws the caps in output order.
    pub fn count(
        plan: &ReferencePlan,
        store: &SentenceStore,
        masking: &MaskingPolicy,
        vocab: &Vocab,
        chunks: &[Range<u64>],
    ) -> Caps {
        let none = Caps::default();
        let maker = ReferenceMaker::new(plan, store, masking, vocab, &none);
        let over: Vec<Vec<(u64, Vec<u16>)>> = chunks
            .par_iter()
            .map(|range| maker.over_the_cap(range.clone()))
            .collect();
        maker.draw_caps(over.into_iter().flatten().collect())
    }
}

impl<'a> ReferenceMaker<'a> {
    pub fn new(
        plan: &'a ReferencePlan,
        store: &'a SentenceStore,
        masking: &MaskingPolicy,
        vocab: &Vocab,
        caps: &'a Caps,
    ) -> ReferenceMaker<'a> {
        ReferenceMaker {
            plan,
            store,
            masking: *masking,
            thresholds: Thresholds::of(masking),
            special: vocab.special(),
            caps,
        }
    }

    /// Examples over the cap in `lines`, with their chosen positions (ascending).
    fn over_the_cap(&self, lines: Range<u64>) -> Vec<(u64, Vec<u16>)> {
        let mut over = Vec::new();
        let mut chosen = Vec::new();
        self.walk(lines, |batch, rows, stream| {
            for i in 0..rows.len() {
                chosen.clear();
                let base = batch.offset + rows.index[i] * batch.len;
                self.choose(rows.row(i), base, stream, &mut chosen);
                if chosen.len() > self.thresholds.cap {
                    over.push((rows.lines[i], chosen.clone()));
                }
            }
        });
        over
    }

    /// The cap pass: each run's Python stream over its capped examples, in output order.
    fn draw_caps(&self, over: Vec<(u64, Vec<u16>)>) -> Caps {
        let mut caps = HashMap::new();
        for process in &self.plan.processes {
            let mut python = match process.after_nsp {
                true => self.plan.python_after_nsp.clone(),
                false => PyRandom::seed(self.plan.seed),
            };
            for (line, chosen) in over.iter().filter(|(l, _)| process.lines.contains(l)) {
                let m = chosen.len();
                let undo = python.sample(m, m - self.thresholds.cap);
                caps.insert(*line, undo.into_iter().map(|i| chosen[i]).collect());
            }
        }
        Caps(caps)
    }

    /// The examples of `lines`, in order.
    pub fn make(&self, lines: Range<u64>) -> Vec<Example> {
        let mut out = Vec::with_capacity((lines.end - lines.start) as usize);
        self.walk(lines, |batch, rows, stream| {
            out.extend(self.mask_batch(batch, rows, stream));
        });
        out
    }

    /// Calls `visit(batch, rows, stream)` for every batch holding lines of `lines`, in
    /// order, with those lines' rows; the torch stream is positioned before the batch (one
    /// jump per run, then forward only).
    fn walk(&self, lines: Range<u64>, mut visit: impl FnMut(&Batch, &BatchRows, &mut Mt19937)) {
        let mut rows = BatchRows::default();
        for process in &self.plan.processes {
            let wanted = lines.start.max(process.lines.start)..lines.end.min(process.lines.end);
            if wanted.is_empty() {
                continue;
            }
            let mut stream = manual_seed(self.plan.seed);
            let k = process
                .batches
                .partition_point(|b| b.first + b.size <= wanted.start);
            for batch in &process.batches[k..] {
                if batch.first >= wanted.end {
                    break;
                }
                rows.clear();
                let from = batch.first.max(wanted.start);
                let to = (batch.first + batch.size).min(wanted.end);
                for line in from..to {
                    let pair = self.plan.pair_of_line(line, process.shuffled);
                    self.push_row(&mut rows, line, line - batch.first, pair);
                }
                visit(batch, &rows, &mut stream);
            }
        }
    }

    fn push_row(&self, rows: &mut BatchRows, line: u64, index: u64, pair: u64) {
        let (a, b, label) = self.plan.pair(pair);
        let start = rows.tokens.len();
        rows.tokens.push(self.special.cls);
        self.store.sentence_into(a, &mut rows.tokens);
        rows.tokens.push(self.special.sep);
        rows.segment_a.push(rows.tokens.len() - start);
        self.store.sentence_into(b, &mut rows.tokens);
        rows.tokens.push(self.special.sep);
        rows.starts.push(rows.tokens.len());
        rows.lines.push(line);
        rows.index.push(index);
        rows.labels.push(label);
    }

    /// Appends to `out` the columns of `row` the collator's first `bernoulli` chooses; the
    /// row's draws start at stream position `base`.
    #[inline]
    fn choose(&self, row: &[u16], base: u64, stream: &mut Mt19937, out: &mut Vec<u16>) {
        for (c, &id) in row.iter().enumerate() {
            if !self.special.is_special(id)
                && bernoulli(stream.draw_at(base + c as u64), self.thresholds.choose)
            {
                out.push(c as u16);
            }
        }
    }

    /// The rows of `batch` masked as the collator masks them (its four draws per element,
    /// segment after segment over the whole `B × L` batch), capped, cut to the length rule.
    fn mask_batch(&self, batch: &Batch, rows: &BatchRows, stream: &mut Mt19937) -> Vec<Example> {
        let t = self.thresholds;
        let segment = batch.size * batch.len;
        let at = |s: u64, i: usize, c: u16| {
            batch.offset + s * segment + rows.index[i] * batch.len + u64::from(c)
        };
        // bernoulli(0.15): the chosen columns of every row, back to back.
        let (mut chosen, mut starts) = (Vec::new(), vec![0]);
        for i in 0..rows.len() {
            self.choose(rows.row(i), at(0, i, 0), stream, &mut chosen);
            starts.push(chosen.len());
        }
        let of_row = |i: usize| starts[i]..starts[i + 1];
        // bernoulli(0.8) over the batch: [MASK]
        let mut replaced = Vec::with_capacity(chosen.len());
        for i in 0..rows.len() {
            for &c in &chosen[of_row(i)] {
                replaced.push(bernoulli(stream.draw_at(at(1, i, c)), t.mask));
            }
        }
        // bernoulli(0.5) where chosen and not replaced: a random id
        let mut random = vec![false; chosen.len()];
        for i in 0..rows.len() {
            for k in of_row(i).filter(|&k| !replaced[k]) {
                random[k] = bernoulli(stream.draw_at(at(2, i, chosen[k])), t.random);
            }
        }
        // randint(V) where random
        let [start, end] = t.range;
        let mut out = Vec::with_capacity(rows.len());
        for i in 0..rows.len() {
            let row = rows.row(i);
            let mut tokens = row.to_vec();
            for k in of_row(i) {
                let c = chosen[k] as usize;
                if replaced[k] {
                    tokens[c] = self.special.mask;
                } else if random[k] {
                    tokens[c] =
                        (start + stream.draw_at(at(3, i, chosen[k])) % (end - start)) as u16;
                }
            }
            let example = self.capped_example(rows, i, tokens, &chosen[of_row(i)]);
            out.push(example);
        }
        out
    }

    /// Row `i` masked to `tokens` at `chosen`, with the cap's undo applied, cut.
    fn capped_example(
        &self,
        rows: &BatchRows,
        i: usize,
        mut tokens: Vec<u16>,
        chosen: &[u16],
    ) -> Example {
        let row = rows.row(i);
        let undo = self.caps.0.get(&rows.lines[i]);
        let mut labelled = Vec::with_capacity(chosen.len());
        for &c in chosen {
            let original = row[c as usize];
            if undo.is_some_and(|u| u.contains(&c)) {
                tokens[c as usize] = original;
            } else {
                labelled.push((u32::from(c), original));
            }
        }
        let (segment_a, label) = (rows.segment_a[i], rows.labels[i]);
        self.masking
            .finish(tokens, segment_a, labelled, label, &self.special)
    }
}

impl ExampleSource for ReferenceMaker<'_> {
    fn examples(&self, range: Range<u64>) -> Vec<Example> {
        self.make(range)
    }

    fn pair_counts(&self) -> (u64, u64) {
        (self.plan.random_next_pairs(), self.plan.pairs())
    }

    fn pair_is_consistent(&self, k: u64) -> bool {
        let process = self.plan.processes.iter().find(|p| p.lines.contains(&k));
        process.is_some_and(|p| {
            let (a, b, label) = self.plan.pair(self.plan.pair_of_line(k, p.shuffled));
            label == NspLabel::RandomNext || b == a + 1
        })
    }

    /// A whole collator batch is made at once.
    fn run_length(&self) -> u64 {
        self.plan
            .processes
            .first()
            .and_then(|p| p.batches.first())
            .map_or(1, |b| b.size)
    }
}
