//! [`KeyedPermutation`]: a pseudo-random bijection of `[0, n)`, evaluated in O(1) memory.
//!
//! A four-round balanced Feistel network on the smallest even number of bits `2h` with
//! `2^(2h) ≥ n`, with cycle walking (re-apply while the result is `≥ n`), so both the
//! permutation and its inverse can be evaluated at any index without building a table.
//! Round `r` maps `(L, R)` to `(R, L ⊕ (mix(R ⊕ k_r) mod 2^h))`, where `mix` is the
//! splitmix64 finaliser and `k_0..k_3` are four draws from the stage's stream.

use earlyberts_format::random::Stream;

/// A keyed bijection of `[0, n)`.
#[derive(Clone, Debug)]
pub struct KeyedPermutation {
    n: u64,
    half_bits: u32,
    keys: [u64; 4],
}

/// splitmix64's finaliser: a fast, well-mixing bijection of u64.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl KeyedPermutation {
    /// A permutation of `[0, n)` keyed by four draws from `stream`.
    pub fn new(n: u64, stream: &mut Stream) -> KeyedPermutation {
        let keys = [
            stream.next_u64(),
            stream.next_u64(),
            stream.next_u64(),
            stream.next_u64(),
        ];
        let bits = 64 - n.saturating_sub(1).leading_zeros();
        KeyedPermutation {
            n,
            half_bits: bits.div_ceil(2).max(1),
            keys,
        }
    }

    /// The size of the domain.
    pub fn len(&self) -> u64 {
        self.n
    }

    /// Whether the domain is empty.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    fn mask(&self) -> u64 {
        (1u64 << self.half_bits) - 1
    }

    fn forward(&self, x: u64) -> u64 {
        let mask = self.mask();
        let (mut left, mut right) = (x >> self.half_bits, x & mask);
        for key in self.keys {
            (left, right) = (right, left ^ (mix(right ^ key) & mask));
        }
        (left << self.half_bits) | right
    }

    fn backward(&self, y: u64) -> u64 {
        let mask = self.mask();
        let (mut left, mut right) = (y >> self.half_bits, y & mask);
        for key in self.keys.iter().rev() {
            (left, right) = (right ^ (mix(left ^ key) & mask), left);
        }
        (left << self.half_bits) | right
    }

    /// The image of `i` (`i < n`).
    pub fn apply(&self, i: u64) -> u64 {
        debug_assert!(i < self.n, "{i} is outside [0, {})", self.n);
        let mut y = self.forward(i);
        while y >= self.n {
            y = self.forward(y);
        }
        y
    }

    /// The `i` whose image is `j` (`j < n`).
    pub fn invert(&self, j: u64) -> u64 {
        debug_assert!(j < self.n, "{j} is outside [0, {})", self.n);
        let mut x = self.backward(j);
        while x >= self.n {
            x = self.backward(x);
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use earlyberts_format::random::Stage;

    #[test]
    fn is_a_bijection_with_its_inverse() {
        for n in [1u64, 2, 3, 7, 64, 1000, 4097] {
            let p = KeyedPermutation::new(n, &mut Stream::new(9, Stage::Order, n));
            let mut seen = vec![false; n as usize];
            for i in 0..n {
                let j = p.apply(i);
                assert!(j < n && !seen[j as usize], "n={n} i={i} j={j}");
                seen[j as usize] = true;
                assert_eq!(p.invert(j), i);
            }
        }
    }

    /// Ten times the real corpus's pairs and far past 2^32: every image stays below n and
    /// inverts (sampled: the whole range is too long to walk).
    #[test]
    fn stays_a_bijection_past_two_to_the_32() {
        for n in [1_000_000_000u64, (1 << 32) + 3, 1 << 40] {
            let p = KeyedPermutation::new(n, &mut Stream::new(2, Stage::Order, 0));
            let edges = [0, 1, (1 << 32) - 1, 1 << 32, n / 2, n - 2, n - 1];
            let spread = (0..2000u64).map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % n);
            for i in edges.into_iter().filter(|&i| i < n).chain(spread) {
                let j = p.apply(i);
                assert!(j < n, "n={n} i={i} j={j}");
                assert_eq!(p.invert(j), i, "n={n} i={i}");
            }
        }
    }

    #[test]
    fn looks_shuffled() {
        let p = KeyedPermutation::new(10_000, &mut Stream::new(1, Stage::Order, 0));
        let fixed = (0..10_000).filter(|&i| p.apply(i) == i).count();
        let ascents = (0..9_999).filter(|&i| p.apply(i + 1) > p.apply(i)).count();
        assert!(fixed < 10, "{fixed} fixed points");
        assert!((4_700..5_300).contains(&ascents), "{ascents} ascents");
    }
}
