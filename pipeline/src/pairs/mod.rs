//! `pairs`: next-sentence-prediction pairs and their training order, as the reference makes
//! them (../shared/docs/earlyberts-procedure.md, steps 3–5).
//!
//! Over `n` sentences (the last one dropped when `n` is odd), pair `i` is sentences
//! `(2i, 2i+1)` with label 0 ("is next"). `D = floor(P · random_next_fraction)` of the `P`
//! pairs (`floor(n/4)` at the reference's 0.5) are drawn at random, and their second
//! sentences are permuted among them (label 1, "random next"). All pairs are then put in
//! one seeded order, the training order. Example `k` of a build is pair `order(k)`.
//!
//! The reference's quirks are the default: pairs cross document boundaries with label 0,
//! and the permutation may put a drawn pair's own second sentence back (a fixed point) with
//! label 1. `respect_documents` pairs sentences only within a document (dropping the odd
//! last sentence of each); `derangement` sends each drawn pair the second sentence of the
//! next drawn pair in draw order, which leaves no fixed point.
//!
//! Each choice is a keyed permutation ([`KeyedPermutation`]), so the pair of example `k` is
//! computed in O(1) time and memory, for any `k`, on any thread.

pub(crate) mod index_set;
mod permutation;

use earlyberts_format::NspLabel;
use serde::{Deserialize, Serialize};

use self::index_set::IndexSet;
pub use self::permutation::KeyedPermutation;
use earlyberts_format::random::{Stage, Stream};

/// Pairing options of a recipe.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairingOptions {
    /// Share of the pairs that get a random second sentence (the reference: 0.5).
    pub random_next_fraction: f64,
    /// Pair sentences only within a document.
    pub respect_documents: bool,
    /// Permute the drawn second sentences without fixed points.
    pub derangement: bool,
}

/// One pair: two sentence indices of the store and the NSP label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pair {
    pub first: u64,
    pub second: u64,
    pub label: NspLabel,
}

/// Where the pairs start.
enum Starts {
    /// Pair `i` starts at sentence `2i`.
    Consecutive,
    /// Pair `i` starts at the `i`-th listed sentence (pairs within documents).
    Listed(IndexSet),
}

/// The pairs of a corpus and their training order, for one seed.
pub struct Pairing {
    starts: Starts,
    pairs: u64,
    drawn: u64,
    select: KeyedPermutation,
    partner: Option<KeyedPermutation>,
    order: KeyedPermutation,
}

/// What the pairing made of the sentences, for the manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairingStats {
    pub sentences: u64,
    pub pairs: u64,
    pub random_next_pairs: u64,
    /// Sentences left out: the odd last one (or, within documents, each document's).
    pub unpaired_sentences: u64,
}

impl Pairing {
    /// Pairs `sentences` sentences; `document(i)` gives sentence `i`'s document (used only
    /// with `respect_documents`).
    pub fn new(
        sentences: u64,
        document: impl Fn(u64) -> u32,
        options: &PairingOptions,
        seed: u64,
    ) -> Pairing {
        let starts = if options.respect_documents {
            let mut starts = IndexSet::default();
            let mut i = 0;
            while i + 1 < sentences {
                if document(i) == document(i + 1) {
                    starts.push(i);
                    i += 2;
                } else {
                    i += 1;
                }
            }
            Starts::Listed(starts)
        } else {
            Starts::Consecutive
        };
        let pairs = match &starts {
            Starts::Consecutive => sentences / 2,
            Starts::Listed(s) => s.len(),
        };
        let drawn = (pairs as f64 * options.random_next_fraction).floor() as u64;
        let mut stream = Stream::new(seed, Stage::Pairs, 0);
        let select = KeyedPermutation::new(pairs, &mut stream);
        let partner = (!options.derangement).then(|| KeyedPermutation::new(drawn, &mut stream));
        let order = KeyedPermutation::new(pairs, &mut Stream::new(seed, Stage::Order, 0));
        Pairing {
            starts,
            pairs,
            drawn,
            select,
            partner,
            order,
        }
    }

    /// The pairs of the sentences of `store`.
    pub fn of_store(
        store: &crate::store::SentenceStore,
        options: &PairingOptions,
        seed: u64,
    ) -> Pairing {
        Pairing::new(store.len(), |i| store.document(i), options, seed)
    }

    /// Number of pairs, which is the number of examples of a full build.
    pub fn len(&self) -> u64 {
        self.pairs
    }

    /// Whether there is no pair.
    pub fn is_empty(&self) -> bool {
        self.pairs == 0
    }

    /// Number of pairs given a random second sentence.
    pub fn random_next_pairs(&self) -> u64 {
        self.drawn
    }

    /// Counts for the manifest.
    pub fn stats(&self, sentences: u64) -> PairingStats {
        PairingStats {
            sentences,
            pairs: self.pairs,
            random_next_pairs: self.drawn,
            unpaired_sentences: sentences - 2 * self.pairs,
        }
    }

    fn start(&self, pair: u64) -> u64 {
        match &self.starts {
            Starts::Consecutive => 2 * pair,
            Starts::Listed(starts) => starts.get(pair),
        }
    }

    /// Pair `i` in corpus order.
    pub fn pair(&self, i: u64) -> Pair {
        let first = self.start(i);
        let rank = self.select.apply(i);
        if rank >= self.drawn {
            return Pair {
                first,
                second: first + 1,
                label: NspLabel::IsNext,
            };
        }
        let partner_rank = match &self.partner {
            Some(permutation) => permutation.apply(rank),
            None => (rank + 1) % self.drawn,
        };
        Pair {
            first,
            second: self.start(self.select.invert(partner_rank)) + 1,
            label: NspLabel::RandomNext,
        }
    }

    /// The pair of example `k` (`k`-th in training order).
    pub fn example(&self, k: u64) -> Pair {
        self.pair(self.order.apply(k))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn options(respect_documents: bool, derangement: bool) -> PairingOptions {
        PairingOptions {
            random_next_fraction: 0.5,
            respect_documents,
            derangement,
        }
    }

    #[test]
    fn reference_scheme_counts_and_labels() {
        let n = 1001; // odd: the last sentence is dropped
        let pairing = Pairing::new(n, |_| 0, &options(false, false), 1);
        assert_eq!(pairing.len(), 500);
        assert_eq!(pairing.stats(n).random_next_pairs, 250); // floor(n/4) with n = 1000
        assert_eq!(pairing.stats(n).unpaired_sentences, 1);
        let pairs: Vec<Pair> = (0..500).map(|k| pairing.example(k)).collect();
        // Every pair appears once in the training order.
        let firsts: BTreeSet<u64> = pairs.iter().map(|p| p.first).collect();
        assert_eq!(firsts, (0..500).map(|i| 2 * i).collect());
        // Random seconds are a permutation of the drawn pairs' own seconds.
        let drawn: Vec<&Pair> = pairs
            .iter()
            .filter(|p| p.label == NspLabel::RandomNext)
            .collect();
        assert_eq!(drawn.len(), 250);
        let own: BTreeSet<u64> = drawn.iter().map(|p| p.first + 1).collect();
        let given: BTreeSet<u64> = drawn.iter().map(|p| p.second).collect();
        assert_eq!(own, given);
        assert!(
            pairs
                .iter()
                .filter(|p| p.label == NspLabel::IsNext)
                .all(|p| p.second == p.first + 1)
        );
        // The order is shuffled and depends on the seed.
        assert_ne!(pairs[0].first, 0);
        let other = Pairing::new(n, |_| 0, &options(false, false), 2);
        assert_ne!(
            (0..20).map(|k| other.example(k)).collect::<Vec<_>>(),
            pairs[..20].to_vec()
        );
    }

    #[test]
    fn fixed_points_are_kept_unless_derangement() {
        let fixed = |derangement| {
            // Many small corpora: a fixed point shows up in some of them.
            (0..200u64)
                .map(|seed| {
                    let p = Pairing::new(40, |_| 0, &options(false, derangement), seed);
                    (0..p.len())
                        .map(|i| p.pair(i))
                        .filter(|p| p.label == NspLabel::RandomNext && p.second == p.first + 1)
                        .count()
                })
                .sum::<usize>()
        };
        assert!(
            fixed(false) > 0,
            "the reference's permutation may leave fixed points"
        );
        assert_eq!(fixed(true), 0);
    }

    #[test]
    fn documents_are_crossed_unless_respected() {
        // Documents of 3 sentences: 0 0 0 1 1 1 2 2 2 ...
        let document = |i: u64| (i / 3) as u32;
        let crossing = |respect| {
            let p = Pairing::new(300, document, &options(respect, false), 5);
            (0..p.len())
                .map(|i| p.pair(i))
                .filter(|p| p.label == NspLabel::IsNext && document(p.first) != document(p.second))
                .count()
        };
        assert!(crossing(false) > 0);
        assert_eq!(crossing(true), 0);
        let p = Pairing::new(300, document, &options(true, false), 5);
        assert_eq!(p.len(), 100); // one pair per document of 3
        assert_eq!(p.stats(300).unpaired_sentences, 100);
    }
}
