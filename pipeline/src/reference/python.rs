//! CPython's `random` module on its MT19937 (reference-exact.md §3): `seed` of an int,
//! `getrandbits`, `_randbelow` and `sample`, as CPython 3.9–3.13 compute them.

use std::collections::HashSet;

use super::mt19937::Mt19937;

/// `random.Random(seed)`.
#[derive(Clone, Debug)]
pub struct PyRandom {
    mt: Mt19937,
}

impl PyRandom {
    /// `random.seed(seed)` for an int: its 32-bit words, least significant first.
    pub fn seed(seed: u64) -> PyRandom {
        let key: Vec<u32> = match seed {
            0 => vec![0],
            s if s >> 32 == 0 => vec![s as u32],
            s => vec![s as u32, (s >> 32) as u32],
        };
        PyRandom {
            mt: Mt19937::init_by_array(&key),
        }
    }

    /// Draws taken so far.
    pub fn drawn(&self) -> u64 {
        self.mt.drawn()
    }

    /// `getrandbits(k)`, `k ≤ 64`: the top bits of one draw, or whole draws low word first.
    pub fn getrandbits(&mut self, k: u32) -> u64 {
        match k {
            0 => 0,
            1..=32 => u64::from(self.mt.next_u32() >> (32 - k)),
            _ => {
                let low = u64::from(self.mt.next_u32());
                let high = u64::from(self.mt.next_u32() >> (64 - k));
                low | (high << 32)
            }
        }
    }

    /// `_randbelow(n)`, `n ≥ 1`: `getrandbits(n.bit_length())` until below `n`.
    pub fn randbelow(&mut self, n: u64) -> u64 {
        debug_assert!(n >= 1);
        let bits = 64 - n.leading_zeros();
        loop {
            let r = self.getrandbits(bits);
            if r < n {
                return r;
            }
        }
    }

    /// `sample(population, k)` of a population of `n`: the indices chosen, in draw order.
    pub fn sample(&mut self, n: usize, k: usize) -> Vec<usize> {
        assert!(k <= n, "sample larger than population");
        let mut setsize = 21;
        if k > 5 {
            // 4 ** ceil(log(3k, 4)): the smallest power of 4 not below 3k.
            let mut power = 1usize;
            while power < 3 * k {
                power *= 4;
            }
            setsize += power;
        }
        if n <= setsize {
            self.pool_sample((0..n).collect(), k)
        } else {
            let mut selected = HashSet::with_capacity(k);
            (0..k)
                .map(|_| {
                    loop {
                        let j = self.randbelow(n as u64) as usize;
                        if selected.insert(j) {
                            break j;
                        }
                    }
                })
                .collect()
        }
    }

    /// `sample(range(n), k)` for a large `n`: the pool branch with a compact pool (the NSP
    /// draw: `n ≤ setsize` always holds there, see reference-exact.md §3).
    ///
    /// In place: the entry taken at draw `i` is swapped to the pool's end (`n − 1 − i`,
    /// which no later draw reaches), so the sample is the pool's tail reversed and no
    /// second vector of `k` entries is held beside the pool (at the full corpus, 180 MB).
    pub fn sample_range_u32(&mut self, n: u32, k: usize) -> Vec<u32> {
        let mut pool: Vec<u32> = (0..n).collect();
        let n = pool.len();
        for i in 0..k {
            let j = self.randbelow((n - i) as u64) as usize;
            pool.swap(j, n - i - 1);
        }
        pool.copy_within(n - k.., 0);
        pool.truncate(k);
        pool.reverse();
        pool.shrink_to_fit();
        pool
    }

    /// The pool branch of `sample` over `pool`: `j = _randbelow(n − i)`, take `pool[j]`,
    /// move the last unused entry into its place.
    fn pool_sample<T: Copy>(&mut self, mut pool: Vec<T>, k: usize) -> Vec<T> {
        let n = pool.len();
        (0..k)
            .map(|i| {
                let j = self.randbelow((n - i) as u64) as usize;
                let chosen = pool[j];
                pool[j] = pool[n - i - 1];
                chosen
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_vectors() {
        // reference-exact.md §15
        let bits = |seed| {
            let mut r = PyRandom::seed(seed);
            (0..8).map(|_| r.getrandbits(32)).collect::<Vec<_>>()
        };
        assert_eq!(
            bits(0),
            [
                3626764237, 1654615998, 3255389356, 3823568514, 1806341205, 173879092, 1112038970,
                4146640122
            ]
        );
        assert_eq!(
            bits(1),
            [
                577090037, 2444712010, 3639700191, 3445702192, 3280387012, 271041745, 1095513148,
                506456969
            ]
        );
        let pool = |seed| PyRandom::seed(seed).sample(10, 5);
        assert_eq!(pool(0), [6, 9, 0, 2, 4]);
        assert_eq!(pool(1), [2, 1, 4, 0, 3]);
        let set = |seed| {
            let population: Vec<usize> = (0..300).step_by(3).collect();
            let chosen = PyRandom::seed(seed).sample(population.len(), 20);
            chosen.iter().map(|&i| population[i]).collect::<Vec<_>>()
        };
        assert_eq!(
            set(0),
            [
                147, 291, 159, 15, 99, 195, 186, 153, 114, 183, 135, 222, 81, 192, 51, 108, 288,
                36, 237, 96
            ]
        );
        assert_eq!(
            set(1),
            [
                51, 216, 291, 24, 96, 45, 189, 171, 180, 249, 144, 78, 36, 186, 9, 147, 165, 231,
                294, 0
            ]
        );
        // The compact pool is the pool branch.
        let mut a = PyRandom::seed(3);
        let mut b = PyRandom::seed(3);
        let wide: Vec<u32> = a.sample(1000, 500).into_iter().map(|i| i as u32).collect();
        assert_eq!(b.sample_range_u32(1000, 500), wide);
    }
}
