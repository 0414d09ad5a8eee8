//! [`ReferencePlan`]: the reference script's NSP pairs (Python `random.sample`), its order
//! (numpy `shuffle`) and, for a run history, its runs and their collator batches: each
//! batch's length `L` and torch stream offset (`O_{k+1} = O_k + 4·B·L`), sequential and
//! cheap, so that the examples of any range can then be made on their own
//! (`super::examples`).

use std::ops::Range;

use earlyberts_format::{Invalid, NspLabel};
use rayon::prelude::*;

use super::{
    history::{History, ReferenceParams},
    numpy::NumpyLegacy,
    python::PyRandom,
};
use crate::{Error, Result, pairs::index_set::IndexSet, store::SentenceStore};

/// The longest row the reference kind takes: its columns (chosen positions) are u16.
const MAX_ROW_TOKENS: u64 = 1 << 16;

/// One run of the script: the lines it wrote and the order it wrote them in.
#[derive(Clone, Debug)]
pub(super) struct Process {
    pub(super) lines: Range<u64>,
    pub(super) shuffled: bool,
    /// Whether its Python stream had made the NSP draws (the run that made the pairs).
    pub(super) after_nsp: bool,
    pub(super) batches: Vec<Batch>,
}

/// One collator batch of a run.
#[derive(Clone, Copy, Debug)]
pub(super) struct Batch {
    pub(super) first: u64,
    pub(super) size: u64,
    /// The longest pair of the batch, `[CLS]` and both `[SEP]` included.
    pub(super) len: u64,
    /// torch draws before this batch since the run seeded its generator.
    pub(super) offset: u64,
}

/// The pairs, order and batches of a reference build, and its caps once counted.
pub struct ReferencePlan {
    pub(super) pairs: u64,
    /// Pairs given a random second sentence (`sorted(S)`, as a bitmap: 11 MB, not 180).
    pub(super) drawn: IndexSet,
    /// `S` in draw order: the `j`-th drawn pair (`drawn.get(j)`) gets the second sentence
    /// of pair `partner[j]`.
    pub(super) partner: Vec<u32>,
    /// numpy's shuffle of the pairs, for the runs that write in that order.
    pub(super) order: Vec<u32>,
    pub(super) processes: Vec<Process>,
    /// Python's stream after the NSP draws (the first run's caps start there).
    pub(super) python_after_nsp: PyRandom,
    pub(super) seed: u64,
    pub(super) total: u64,
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
        let drawn = IndexSet::from_members(partner.iter().map(|&p| u64::from(p)), pairs);
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
        plan.processes = plan.runs(&params.history, params.batch_size, store)?;
        Ok(plan)
    }

    /// Pairs in the build's corpus (its full length).
    pub fn pairs(&self) -> u64 {
        self.pairs
    }

    /// Pairs with a random second sentence.
    pub fn random_next_pairs(&self) -> u64 {
        self.drawn.len()
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
    fn runs(&self, history: &History, batch: u64, store: &SentenceStore) -> Result<Vec<Process>> {
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
                // A run computes whole batches up to the last pair, wherever it stopped.
                let firsts: Vec<u64> = (lines.start..end).step_by(batch as usize).collect();
                let lens: Vec<u64> = firsts
                    .par_iter()
                    .map(|&first| {
                        self.batch_len(
                            first..first + batch.min(self.pairs - first),
                            shuffled,
                            store,
                        )
                    })
                    .collect::<Result<_>>()?;
                let mut offset = 0;
                let batches = firsts
                    .iter()
                    .zip(lens)
                    .map(|(&first, len)| {
                        let size = batch.min(self.pairs - first);
                        let made = Batch {
                            first,
                            size,
                            len,
                            offset,
                        };
                        offset += 4 * size * len;
                        made
                    })
                    .collect();
                Ok(Process {
                    lines: lines.start.min(self.total)..end,
                    shuffled,
                    after_nsp,
                    batches,
                })
            })
            .collect()
    }

    /// The longest row of the batch of `lines`: the collator pads every row to it. Its
    /// columns are u16 (as the examples' positions): a longer row is refused.
    fn batch_len(&self, lines: Range<u64>, shuffled: bool, store: &SentenceStore) -> Result<u64> {
        let mut longest = 0;
        for line in lines {
            let (a, b, _) = self.pair(self.pair_of_line(line, shuffled));
            let len = (store.sentence_len(a) + store.sentence_len(b) + 3) as u64;
            if len > MAX_ROW_TOKENS {
                return Err(Error::Store {
                    path: store.dir().to_path_buf(),
                    reason: format!(
                        "line {line} pairs sentences {a} and {b} into {len} tokens; the \
                         reference kind takes rows of at most {MAX_ROW_TOKENS}"
                    ),
                });
            }
            longest = longest.max(len);
        }
        Ok(longest)
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

    pub(super) fn pair_of_line(&self, line: u64, shuffled: bool) -> u64 {
        if shuffled {
            u64::from(self.order[line as usize])
        } else {
            line
        }
    }

    /// Pair `i` in corpus order: its two rows and its label.
    pub(super) fn pair(&self, i: u64) -> (u64, u64, NspLabel) {
        match self.drawn.rank(i) {
            Some(j) => (
                2 * i,
                2 * u64::from(self.partner[j as usize]) + 1,
                NspLabel::RandomNext,
            ),
            None => (2 * i, 2 * i + 1, NspLabel::IsNext),
        }
    }
}
