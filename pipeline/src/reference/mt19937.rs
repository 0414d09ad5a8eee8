//! MT19937, the generator behind CPython's `random`, numpy's legacy `RandomState` and
//! torch's CPU default generator (reference-exact.md §2), with jump-ahead.
//!
//! A draw is one tempered 32-bit output. [`Mt19937::skip`] moves past draws without
//! tempering them (a twist per 624 draws), and past millions of them by a jump, in a few
//! milliseconds: the state after `J` steps is `g(T)·W₀` with `g = x^J mod φ`, `φ` the
//! characteristic polynomial of one step of the generator (Haramoto et al., 2008). `φ` is
//! found once by Berlekamp–Massey on the generator's own output ([`characteristic`]).

use std::sync::OnceLock;

/// Words of state.
pub const N: usize = 624;
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER: u32 = 0x8000_0000;
const LOWER: u32 = 0x7fff_ffff;
/// Dimension of the state space (and degree of `φ`).
const DEGREE: usize = 19_937;
/// Below this many draws, skipping by twisting is cheaper than a jump.
const JUMP_THRESHOLD: u64 = 1 << 22;

/// One MT19937 generator, counting its draws.
#[derive(Clone, Debug)]
pub struct Mt19937 {
    mt: [u32; N],
    /// Index of the next word of `mt` to temper; `N` means a twist comes first.
    idx: usize,
    /// Draws taken since seeding.
    drawn: u64,
}

#[inline]
fn mix(upper: u32, lower: u32, far: u32) -> u32 {
    let y = (upper & UPPER) | (lower & LOWER);
    far ^ (y >> 1) ^ if y & 1 == 1 { MATRIX_A } else { 0 }
}

#[inline]
fn temper(mut y: u32) -> u32 {
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c_5680;
    y ^= (y << 15) & 0xefc6_0000;
    y ^ (y >> 18)
}

impl Mt19937 {
    /// `init_genrand(seed)`: numpy's `seed(s)` and torch's `manual_seed(s)`.
    pub fn init_genrand(seed: u32) -> Mt19937 {
        let mut mt = [0u32; N];
        mt[0] = seed;
        for i in 1..N {
            let prev = mt[i - 1];
            mt[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 {
            mt,
            idx: N,
            drawn: 0,
        }
    }

    /// `init_by_array(key)`: CPython's `random.seed(n)` with `key` = `n` in 32-bit words.
    pub fn init_by_array(key: &[u32]) -> Mt19937 {
        let mut g = Mt19937::init_genrand(19_650_218);
        let mt = &mut g.mt;
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..N.max(key.len()) {
            let prev = mt[i - 1];
            mt[i] = (mt[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            let prev = mt[i - 1];
            mt[i] =
                (mt[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000;
        g
    }

    /// The state words (for the test vectors).
    pub fn state(&self) -> &[u32; N] {
        &self.mt
    }

    /// Draws taken since seeding.
    pub fn drawn(&self) -> u64 {
        self.drawn
    }

    /// The next 624 words, in place (in this order: words from 227 on read updated ones).
    fn twist(&mut self) {
        let mt = &mut self.mt;
        for kk in 0..N - M {
            mt[kk] = mix(mt[kk], mt[kk + 1], mt[kk + M]);
        }
        for kk in N - M..N - 1 {
            mt[kk] = mix(mt[kk], mt[kk + 1], mt[kk + M - N]);
        }
        mt[N - 1] = mix(mt[N - 1], mt[0], mt[M - 1]);
        self.idx = 0;
    }

    /// One draw.
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        if self.idx >= N {
            self.twist();
        }
        let y = self.mt[self.idx];
        self.idx += 1;
        self.drawn += 1;
        temper(y)
    }

    /// The draw at stream position `position` (draws taken since seeding), skipping the
    /// draws before it; positions must not go backwards.
    #[inline]
    pub fn draw_at(&mut self, position: u64) -> u32 {
        let gap = position - self.drawn;
        if gap <= (N - self.idx) as u64 {
            self.idx += gap as usize;
            self.drawn += gap;
        } else {
            self.skip(gap);
        }
        self.next_u32()
    }

    /// Moves past `n` draws: by twisting for short distances, by a jump for long ones.
    pub fn skip(&mut self, n: u64) {
        let left = (N - self.idx) as u64;
        if n <= left {
            self.idx += n as usize;
            self.drawn += n;
            return;
        }
        // Finish this block: the state is then a whole window, ready to twist or jump.
        let mut rest = n - left;
        self.idx = N;
        self.drawn += left;
        if rest >= JUMP_THRESHOLD {
            let whole = rest - rest % N as u64;
            self.jump(whole);
            rest -= whole;
        }
        while rest >= N as u64 {
            self.twist();
            self.idx = N;
            self.drawn += N as u64;
            rest -= N as u64;
        }
        if rest > 0 {
            self.twist();
            self.idx = rest as usize;
            self.drawn += rest;
        }
    }

    /// Moves past `n` draws by the polynomial jump; the state must be at a block's end.
    fn jump(&mut self, n: u64) {
        assert_eq!(self.idx, N, "jumps start from a whole window");
        let g = power_of_x(n);
        let mut acc = Window::zero();
        for i in (0..DEGREE).rev() {
            acc.step();
            if g[i / 64] >> (i % 64) & 1 == 1 {
                acc.add(&self.mt);
            }
        }
        self.mt = acc.words();
        self.drawn += n;
    }
}

/// 624 consecutive raw words as a ring, advanced one word at a time.
struct Window {
    ring: [u32; N],
    start: usize,
}

impl Window {
    fn zero() -> Window {
        Window {
            ring: [0; N],
            start: 0,
        }
    }

    /// One step of the recurrence: drop the oldest word, append the next.
    #[inline]
    fn step(&mut self) {
        let at = |k: usize| self.ring[(self.start + k) % N];
        let next = mix(at(0), at(1), at(M));
        self.ring[self.start] = next;
        self.start = (self.start + 1) % N;
    }

    /// Adds (XOR) a window given in order.
    fn add(&mut self, words: &[u32; N]) {
        let (head, tail) = self.ring.split_at_mut(self.start);
        for (w, x) in tail.iter_mut().zip(words) {
            *w ^= x;
        }
        for (w, x) in head.iter_mut().zip(&words[N - self.start..]) {
            *w ^= x;
        }
    }

    fn words(&self) -> [u32; N] {
        std::array::from_fn(|k| self.ring[(self.start + k) % N])
    }
}

/// GF(2) polynomials of degree < 2·DEGREE as little-endian bit vectors.
type Poly = Vec<u64>;
const WORDS: usize = DEGREE.div_ceil(64);

/// The exponents of `φ` below its leading `x^19937`, in decreasing order.
pub fn characteristic() -> &'static [usize] {
    static LOW_TERMS: OnceLock<Vec<usize>> = OnceLock::new();
    LOW_TERMS.get_or_init(|| {
        // Bit 0 of the raw words satisfies the generator's minimal recurrence, which is its
        // characteristic polynomial (φ is primitive).
        let mut g = Mt19937::init_genrand(5489);
        let bits: Vec<u8> = (0..2 * DEGREE)
            .map(|_| {
                if g.idx >= N {
                    g.twist();
                }
                g.idx += 1;
                (g.mt[g.idx - 1] & 1) as u8
            })
            .collect();
        let connection = berlekamp_massey(&bits);
        assert_eq!(
            connection.len() - 1,
            DEGREE,
            "MT19937's recurrence has degree 19937"
        );
        // φ(x) = x^L · C(1/x): coefficient of x^(L-i) is C_i.
        let mut terms: Vec<usize> = (1..connection.len())
            .filter(|&i| connection[i] == 1)
            .map(|i| DEGREE - i)
            .collect();
        terms.sort_unstable_by(|a, b| b.cmp(a));
        terms
    })
}

/// The shortest linear recurrence of a bit sequence: `C` (as 0/1 per coefficient) with
/// `C[0] = 1` and `s[t] = Σ_{i≥1} C[i]·s[t−i]`. Bits are packed 64 to a word.
fn berlekamp_massey(s: &[u8]) -> Vec<u8> {
    let n = s.len();
    let words = (n + 1).div_ceil(64) + 1;
    let get = |v: &[u64], i: usize| (v[i / 64] >> (i % 64)) & 1;
    // `reversed[j]` = s[n−1−j], so that s[t−i] for i = 1..=l is a run of `reversed` from
    // n−t, read alongside c[1..=l].
    let mut reversed = vec![0u64; words + 1];
    for (j, &bit) in s.iter().rev().enumerate() {
        reversed[j / 64] |= u64::from(bit) << (j % 64);
    }
    let bits_at = |v: &[u64], from: usize| -> u64 {
        let (w, sh) = (from / 64, from % 64);
        let lo = v.get(w).copied().unwrap_or(0) >> sh;
        let hi = if sh == 0 {
            0
        } else {
            v.get(w + 1).copied().unwrap_or(0) << (64 - sh)
        };
        lo | hi
    };
    let (mut c, mut b) = (vec![0u64; words], vec![0u64; words]);
    c[0] = 1;
    b[0] = 1;
    let (mut l, mut m) = (0usize, 1usize);
    for (t, &bit) in s.iter().enumerate() {
        // d = s[t] + Σ_{i=1..l} c[i]·s[t−i]; s[t−i] = reversed[n−1−t+i].
        let mut acc = 0u64;
        let mut i = 1;
        while i <= l {
            let width = (l + 1 - i).min(64);
            let mask = if width == 64 {
                u64::MAX
            } else {
                (1 << width) - 1
            };
            acc ^= bits_at(&c, i) & bits_at(&reversed, n - 1 - t + i) & mask;
            i += width;
        }
        let d = (u64::from(bit) ^ u64::from(acc.count_ones() & 1 == 1)) & 1;
        if d == 0 {
            m += 1;
            continue;
        }
        let previous = c.clone();
        // c ^= b << m
        let (ws, sh) = (m / 64, m % 64);
        for k in (0..words).rev() {
            let mut v = if k >= ws { b[k - ws] << sh } else { 0 };
            if sh > 0 && k > ws {
                v |= b[k - ws - 1] >> (64 - sh);
            }
            c[k] ^= v;
        }
        if 2 * l <= t {
            l = t + 1 - l;
            b = previous;
            m = 1;
        } else {
            m += 1;
        }
    }
    (0..=l).map(|i| get(&c, i) as u8).collect()
}

/// `x^n mod φ`, by squaring and multiplying by `x`.
fn power_of_x(n: u64) -> Poly {
    let mut acc: Poly = vec![0; WORDS];
    acc[0] = 1;
    for bit in (0..64 - n.leading_zeros()).rev() {
        acc = reduce(square(&acc));
        if n >> bit & 1 == 1 {
            acc = reduce(shift_one(&acc));
        }
    }
    acc
}

fn square(a: &Poly) -> Poly {
    let mut out = vec![0u64; 2 * a.len()];
    for (i, &w) in a.iter().enumerate() {
        let spread = |half: u32| {
            let mut x = u64::from(half);
            x = (x | (x << 16)) & 0x0000_ffff_0000_ffff;
            x = (x | (x << 8)) & 0x00ff_00ff_00ff_00ff;
            x = (x | (x << 4)) & 0x0f0f_0f0f_0f0f_0f0f;
            x = (x | (x << 2)) & 0x3333_3333_3333_3333;
            (x | (x << 1)) & 0x5555_5555_5555_5555
        };
        out[2 * i] = spread(w as u32);
        out[2 * i + 1] = spread((w >> 32) as u32);
    }
    out
}

fn shift_one(a: &Poly) -> Poly {
    let mut out = vec![0u64; a.len() + 1];
    for (i, &w) in a.iter().enumerate() {
        out[i] |= w << 1;
        out[i + 1] |= w >> 63;
    }
    out
}

fn bit(p: &Poly, i: usize) -> bool {
    p.get(i / 64).is_some_and(|w| w >> (i % 64) & 1 == 1)
}

/// `p mod φ`, using `x^19937 ≡ Σ x^e` over the low terms, chunk by chunk from the top.
fn reduce(mut p: Poly) -> Poly {
    let terms = characteristic();
    // A chunk's shifted copies must land below it: at most the gap to the highest term.
    let width = (DEGREE - terms[0]).min(64);
    let mut top = p.len() * 64;
    while top > DEGREE {
        let from = top.saturating_sub(width).max(DEGREE);
        let chunk = take_bits(&mut p, from, top - from);
        if chunk != 0 {
            for &e in terms {
                xor_bits(&mut p, from - DEGREE + e, chunk, top - from);
            }
        }
        top = from;
    }
    p.truncate(WORDS);
    debug_assert!(!bit(&p, DEGREE));
    p
}

/// Reads and clears bits `[from, from + width)` (width ≤ 64).
fn take_bits(p: &mut Poly, from: usize, width: usize) -> u64 {
    let mut value = 0u64;
    for k in 0..width {
        let i = from + k;
        if let Some(w) = p.get_mut(i / 64)
            && *w >> (i % 64) & 1 == 1
        {
            *w &= !(1 << (i % 64));
            value |= 1 << k;
        }
    }
    value
}

/// XORs the `width` low bits of `value` into `p` at bit `at`.
fn xor_bits(p: &mut Poly, at: usize, value: u64, width: usize) {
    let mask = if width == 64 {
        u64::MAX
    } else {
        (1 << width) - 1
    };
    let value = value & mask;
    let (word, shift) = (at / 64, at % 64);
    p[word] ^= value << shift;
    if shift > 0 && shift + width > 64 {
        p[word + 1] ^= value >> (64 - shift);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeding_matches_the_reference_vectors() {
        // reference-exact.md §15
        let g = Mt19937::init_genrand(0);
        assert_eq!(&g.state()[..4], &[0, 1, 1_812_433_255, 1_900_727_105]);
        assert_eq!(g.state()[623], 1_796_872_496);
        let g = Mt19937::init_genrand(1);
        assert_eq!(
            &g.state()[..4],
            &[1, 1_812_433_254, 3_713_160_357, 3_109_174_145]
        );
        assert_eq!(g.state()[623], 2_069_268_389);
        let first8 = |seed| {
            let mut g = Mt19937::init_genrand(seed);
            (0..8).map(|_| g.next_u32()).collect::<Vec<_>>()
        };
        assert_eq!(
            first8(0),
            [
                2357136044, 2546248239, 3071714933, 3626093760, 2588848963, 3684848379, 2340255427,
                3638918503
            ]
        );
        assert_eq!(
            first8(1),
            [
                1791095845, 4282876139, 3093770124, 4005303368, 491263, 550290313, 1298508491,
                4290846341
            ]
        );
        let by_array = |seed| Mt19937::init_by_array(&[seed]).state()[..4].to_vec();
        assert_eq!(by_array(0), [2147483648, 766982754, 497961170, 3952298588]);
        assert_eq!(by_array(1), [2147483648, 163610392, 3414454684, 213706556]);
    }

    #[test]
    fn the_characteristic_polynomial_has_135_terms() {
        assert_eq!(characteristic().len() + 1, 135);
        assert_eq!(*characteristic().last().unwrap(), 0, "φ(0) = 1");
    }

    #[test]
    fn skipping_and_jumping_land_where_drawing_does() {
        for seed in [0u32, 1] {
            for n in [0u64, 1, 623, 624, 625, 1_000_003, 5_000_000, 9_999_999] {
                let mut drawn = Mt19937::init_genrand(seed);
                for _ in 0..n {
                    drawn.next_u32();
                }
                let mut skipped = Mt19937::init_genrand(seed);
                skipped.skip(n);
                assert_eq!(skipped.drawn(), n);
                let mut jumped = Mt19937::init_genrand(seed);
                jumped.skip(7);
                jumped.skip(n - n.min(7));
                let expect: Vec<u32> = (0..700).map(|_| drawn.next_u32()).collect();
                let got: Vec<u32> = (0..700).map(|_| skipped.next_u32()).collect();
                assert_eq!(got, expect, "skip {n}, seed {seed}");
                if n >= 7 {
                    let got: Vec<u32> = (0..700).map(|_| jumped.next_u32()).collect();
                    assert_eq!(got, expect, "skip 7 then {}, seed {seed}", n - 7);
                }
            }
        }
    }

    #[test]
    fn jumps_compose() {
        // A jump of 6.24e10 then the remainder equals one jump (reference-exact.md §14).
        let total = 124_800_000_000u64 + 12_345;
        let mut once = Mt19937::init_genrand(1);
        once.skip(total);
        let mut twice = Mt19937::init_genrand(1);
        twice.skip(62_400_000_000);
        twice.skip(total - 62_400_000_000);
        let a: Vec<u32> = (0..10).map(|_| once.next_u32()).collect();
        let b: Vec<u32> = (0..10).map(|_| twice.next_u32()).collect();
        assert_eq!(a, b);
    }
}
