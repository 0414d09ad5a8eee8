//! An ascending set of indices kept as a bitmap (a bit per possible index) with samples
//! for both lookups: the `i`-th member (select; the first sentences of the pairs when pairs
//! stay within documents) and a member's position among them (rank; the reference kind's
//! drawn pairs). A bit per index instead of 4 or 8 bytes per member: for the full corpus
//! ≈ 20 MB instead of ≈ 0.6 GB.

/// Bits per rank sample: the members below every 512th index are counted.
const RANK_WORDS: usize = 8;

/// An ascending set of indices with select and rank.
#[derive(Default)]
pub struct IndexSet {
    bits: Vec<u64>,
    /// The index of members 0, 64, 128, …
    samples: Vec<u64>,
    /// Members below index 0, 512, 1024, … (one per [`RANK_WORDS`] words).
    ranks: Vec<u64>,
    len: u64,
    last: Option<u64>,
}

impl IndexSet {
    /// Adds `index`, which is above every index added before.
    pub fn push(&mut self, index: u64) {
        assert!(self.last.is_none_or(|last| index > last), "members ascend");
        let word = (index / 64) as usize;
        if self.bits.len() <= word {
            self.bits.resize(word + 1, 0);
        }
        while self.ranks.len() <= word / RANK_WORDS {
            self.ranks.push(self.len);
        }
        self.bits[word] |= 1 << (index % 64);
        if self.len.is_multiple_of(64) {
            self.samples.push(index);
        }
        self.len += 1;
        self.last = Some(index);
    }

    /// The set of `members` (any order, no repeats), all below `universe`: one pass to set
    /// the bits, one to sample them — no sort.
    pub fn from_members(members: impl IntoIterator<Item = u64>, universe: u64) -> IndexSet {
        let mut bits = vec![0u64; universe.div_ceil(64) as usize];
        for m in members {
            assert!(m < universe, "member {m} of a set below {universe}");
            let bit = 1 << (m % 64);
            assert!(bits[(m / 64) as usize] & bit == 0, "member {m} twice");
            bits[(m / 64) as usize] |= bit;
        }
        let mut set = IndexSet::default();
        for (w, &word) in bits.iter().enumerate() {
            if w % RANK_WORDS == 0 {
                set.ranks.push(set.len);
            }
            let mut rest = word;
            while rest != 0 {
                let index = w as u64 * 64 + u64::from(rest.trailing_zeros());
                if set.len.is_multiple_of(64) {
                    set.samples.push(index);
                }
                set.len += 1;
                set.last = Some(index);
                rest &= rest - 1;
            }
        }
        set.bits = bits;
        set
    }

    /// Members.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// The `i`-th member (from 0).
    ///
    /// # Panics
    /// If `i >= len()`.
    pub fn get(&self, i: u64) -> u64 {
        assert!(i < self.len, "member {i} of {}", self.len);
        let from = self.samples[(i / 64) as usize];
        let mut left = (i % 64) as u32;
        let mut word = (from / 64) as usize;
        // Members from the sample on: clear the bits below it in its word.
        let mut bits = self.bits[word] & (!0u64 << (from % 64));
        loop {
            let count = bits.count_ones();
            if left < count {
                for _ in 0..left {
                    bits &= bits - 1;
                }
                return word as u64 * 64 + u64::from(bits.trailing_zeros());
            }
            left -= count;
            word += 1;
            bits = self.bits[word];
        }
    }

    /// How many members are below `index`, if `index` is one (its `i` for [`IndexSet::get`]).
    pub fn rank(&self, index: u64) -> Option<u64> {
        let word = (index / 64) as usize;
        let bit = 1u64 << (index % 64);
        if self.bits.get(word).is_none_or(|&w| w & bit == 0) {
            return None;
        }
        let block = word / RANK_WORDS;
        let before: u64 = self.bits[block * RANK_WORDS..word]
            .iter()
            .map(|w| u64::from(w.count_ones()))
            .sum();
        Some(self.ranks[block] + before + u64::from((self.bits[word] & (bit - 1)).count_ones()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_member_is_found_by_its_rank_and_back() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut members = Vec::new();
        let mut index = 0u64;
        for _ in 0..5000 {
            // Gaps from 2 (consecutive pairs) to long unpaired stretches (xorshift draws).
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let r = (state >> 32) as u32;
            index += 2 + u64::from(r % 7) + if r.is_multiple_of(97) { 300 } else { 0 };
            members.push(index);
        }
        let mut starts = IndexSet::default();
        members.iter().for_each(|&m| starts.push(m));
        assert_eq!(starts.len(), members.len() as u64);
        for (i, &m) in members.iter().enumerate() {
            assert_eq!(starts.get(i as u64), m, "member {i}");
        }
        assert!(starts.bits.len() * 8 + starts.samples.len() * 8 < members.len() * 8 / 2);
        // Rank inverts get, and says None off the set; a set made unsorted is the same.
        let unsorted = IndexSet::from_members(members.iter().rev().copied(), index + 1);
        for set in [&starts, &unsorted] {
            for (i, &m) in members.iter().enumerate() {
                assert_eq!(set.rank(m), Some(i as u64), "member {i}");
                assert_eq!(set.get(i as u64), m, "member {i}");
                assert_eq!(set.rank(m + 1), None, "{} is not a member", m + 1);
            }
            assert_eq!(set.rank(0), None);
            assert_eq!(set.rank(index + 1000), None);
        }
    }
}
