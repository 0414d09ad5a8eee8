//! The reference script's examples from the sentence rows (reference-exact.md §11): its NSP
//! pairs (Python `random.sample`), its order (numpy `shuffle`), its masking (torch's
//! generator through the collator, over batches padded to their longest pair) and its
//! 80-label cap (Python `random.sample` again), for a run history.
//!
//! Work is split so that shards can be written in parallel with identical bytes:
//! [`ReferencePlan::new`] makes the pairs, the order and every batch's length `L` and
//! stream offset (`O_{k+1} = O_k + 4·B·L`) — sequential and cheap; [`ReferencePlan::caps`]
//! counts each example's chosen tokens (in parallel, by shard), then runs the cap draws
//! in output order (sequential, over the 0.04% of examples with more than 80);
//! [`ReferenceMaker::examples`] then makes any range of examples on its own: it jumps the
//! torch generator to the first batch's offset ([`Mt19937::skip`]) and draws forward.

use std::{collections::HashMap, ops::Range};

use earlyberts_format::{Example, Invalid, NspLabel, SpecialTokens, Vocab};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{
    mt19937::Mt19937,
    numpy::NumpyLegacy,
    python::PyRandom,
    torch::{bernoulli, bernoulli_threshold, manual_seed},
};
use crate::{Error, Result, mask::MaskingPolicy, stage::ExampleSource, store::SentenceStore};

/// How the reference script was run (reference-exact.md §1): what order its output is in,
/// and where its random streams restart.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum History {
    /// One run that made the pairs: output in corpus order.
    #[default]
    Fresh,
    /// A later run that found the saved pairs: output in the shuffled order.
    Resumed,
    /// A fresh run stopped after line `C1`, then `--continued` runs from each cursor `Ci`
    /// (shuffled order, all streams restarted at `Ci`).
    Continued(Vec<u64>),
}

impl History {
    /// Checks the cursors: increasing, at least 1.
    pub fn validate(&self) -> Result<(), Invalid> {
        if let History::Continued(cursors) = self {
            if cursors.is_empty() {
                return Err(Invalid::Empty {
                    field: "reference.history.continued".into(),
                });
            }
            for pair in cursors.windows(2) {
                if pair[1] <= pair[0] {
                    return Err(Invalid::Unusable {
                        field: "reference.history.continued".into(),
                        value: format!("{cursors:?}"),
                        reason: "cursors must increase".into(),
                    });
                }
            }
            if cursors[0] == 0 {
                return Err(Invalid::Unusable {
                    field: "reference.history.continued".into(),
                    value: format!("{cursors:?}"),
                    reason: "the first run wrote no line; that is the resumed history".into(),
                });
            }
        }
        Ok(())
    }

    /// Parses `fresh`, `resumed` or `continued:C1,C2,…` (the `--history` flag).
    pub fn parse(text: &str) -> Option<History> {
        match text {
            "fresh" => Some(History::Fresh),
            "resumed" => Some(History::Resumed),
            _ => {
                let list = text.strip_prefix("continued:")?;
                let cursors: Option<Vec<u64>> =
                    list.split(',').map(|c| c.trim().parse().ok()).collect();
                Some(History::Continued(cursors?))
            }
        }
    }
}

/// The reference kind's own parameters (the recipe's `[reference]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceParams {
    /// How the script was run.
    #[serde(default)]
    pub history: History,
    /// The script's `--batch-size`: pairs per collator batch (256).
    pub batch_size: u64,
}

/// One run of the script: the lines it wrote and the order it wrote them in.
#[derive(Clone, Debug)]
struct Process {
    lines: Range<u64>,
    shuffled: bool,
    /// Whether its Python stream had made the NSP draws (the run that made the pairs).
    after_nsp: bool,
    batches: Vec<Batch>,
}

/// One collator batch of a run.
#[derive(Clone, Copy, Debug)]
struct Batch {
    first: u64,
    size: u64,
    /// The longest pair of the batch, `[CLS]` and both `[SEP]` included.
    len: u64,
    /// torch draws before this batch since the run seeded its generator.
    offset: u64,
}

/// The pairs, order and batches of a reference build, and its caps once counted.
pub struct ReferencePlan {
    pairs: u64,
    /// Pairs given a random second sentence, ascending (`sorted(S)`).
    drawn: Vec<u32>,
    /// `S` in draw order: drawn pair `drawn[j]` gets the second sentence of pair `partner[j]`.
    partner: Vec<u32>,
    /// numpy's shuffle of the pairs, for the runs that write in that order.
    order: Vec<u32>,
    processes: Vec<Process>,
    /// Python's stream after the NSP draws (the first run's caps start there).
    python_after_nsp: PyRandom,
    seed: u64,
    total: u64,
}

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

impl ReferencePlan {
    /// Pairs the store's rows and lays out the runs of `history` over the first `limit`
    /// lines (all pairs when `None`).
    pub fn new(
        store: &SentenceStore,
        params: &ReferenceParams,
        seed: u64,
        limit: Option<u64>,
    ) -> Result<ReferencePlan> {
        let rows = store.len();
        let even = rows - rows % 2;
        let pairs = even / 2;
        let too_many = |what: &str| Error::Store {
            path: store.dir().to_path_buf(),
            reason: format!("{what}: the reference kind pairs at most 2^32 − 1 pairs"),
        };
        let pairs32 = u32::try_from(pairs).map_err(|_| too_many("too many rows"))?;
        let total = limit.unwrap_or(pairs);
        if total > pairs {
            return Err(Error::TooManyExamples {
                requested: total,
                available: pairs,
            });
        }
        if let History::Continued(cursors) = &params.history
            && let Some(&last) = cursors.last()
            && last >= pairs
        {
            return Err(Error::Invalid(Invalid::out_of_range(
                "reference.history.continued",
                last,
                format!("1..{pairs} (the pairs there are)"),
            )));
        }
        // The first run: the NSP draws from Python's stream, then numpy's shuffle.
        let mut python = PyRandom::seed(seed);
        let partner = python.sample_range_u32(pairs32, (even / 4) as usize);
        let mut drawn = partner.clone();
        drawn.sort_unstable();
        let shuffled = params.history != History::Fresh;
        let order = if shuffled {
            let mut order: Vec<u32> = (0..pairs32).collect();
            NumpyLegacy::seed(seed as u32).shuffle(&mut order);
            order
        } else {
            Vec::new()
        };
        let mut plan = ReferencePlan {
            pairs,
            drawn,
            partner,
            order,
            processes: Vec::new(),
            python_after_nsp: python,
            seed,
            total,
        };
        plan.processes = plan.runs(&params.history, params.batch_size, store);
        Ok(plan)
    }

    /// Pairs in the build's corpus (its full length).
    pub fn pairs(&self) -> u64 {
        self.pairs
    }

    /// Pairs with a random second sentence.
    pub fn random_next_pairs(&self) -> u64 {
        self.drawn.len() as u64
    }

    /// Examples this build holds.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// Whether the build holds no example.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The runs of `history`, each with its batches up to the lines it wrote.
    fn runs(&self, history: &History, batch: u64, store: &SentenceStore) -> Vec<Process> {
        let ranges: Vec<(Range<u64>, bool, bool)> = match history {
            History::Fresh => vec![(0..self.pairs, false, true)],
            History::Resumed => vec![(0..self.pairs, true, false)],
            History::Continued(cursors) => {
                let mut bounds = vec![0];
                bounds.extend(cursors);
                bounds.push(self.pairs);
                bounds
                    .windows(2)
                    .enumerate()
                    .map(|(i, w)| (w[0]..w[1], i > 0, i == 0))
                    .collect()
            }
        };
        ranges
            .into_iter()
            .map(|(lines, shuffled, after_nsp)| {
                let end = lines.end.min(self.total);
                let mut batches = Vec::new();
                let (mut first, mut offset) = (lines.start, 0u64);
                while first < end {
                    // A run computes whole batches up to the last pair, wherever it stopped.
                    let size = batch.min(self.pairs - first);
                    let len = (first..first + size)
                        .map(|line| {
                            let (a, b, _) = self.pair(self.pair_of_line(line, shuffled));
                            store.sentence_len(a) + store.sentence_len(b) + 3
                        })
                        .max()
                        .unwrap_or(0) as u64;
                    batches.push(Batch {
                        first,
                        size,
                        len,
                        offset,
                    });
                    offset += 4 * size * len;
                    first += size;
                }
                Process {
                    lines: lines.start.min(self.total)..end,
                    shuffled,
                    after_nsp,
                    batches,
                }
            })
            .collect()
    }

    /// The two rows of line `line` of the output (for the provenance index).
    pub fn rows_of_line(&self, line: u64) -> (u64, u64) {
        let process = self
            .processes
            .iter()
            .find(|p| p.lines.contains(&line))
            .expect("every line of the build belongs to a run");
        let (a, b, _) = self.pair(self.pair_of_line(line, process.shuffled));
        (a, b)
    }

    fn pair_of_line(&self, line: u64, shuffled: bool) -> u64 {
        if shuffled {
            u64::from(self.order[line as usize])
        } else {
            line
        }
    }

    /// Pair `i` in corpus order: its two rows and its label.
    fn pair(&self, i: u64) -> (u64, u64, NspLabel) {
        match self.drawn.binary_search(&(i as u32)) {
            Ok(j) => (
                2 * i,
                2 * u64::from(self.partner[j]) + 1,
                NspLabel::RandomNext,
            ),
            Err(_) => (2 * i, 2 * i + 1, NspLabel::IsNext),
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

impl ReferencePlan {
    /// Counts every example's chosen tokens (in parallel over `chunks` of lines), then
    /// draws the caps in output order.
    pub fn caps(
        &self,
        store: &SentenceStore,
        masking: &MaskingPolicy,
        vocab: &Vocab,
        chunks: &[Range<u64>],
    ) -> Caps {
        let none = Caps::default();
        let maker = ReferenceMaker::new(self, store, masking, vocab, &none);
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
                labelled.push((c, original));
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
