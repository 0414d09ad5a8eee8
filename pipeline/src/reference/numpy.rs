//! numpy's legacy `RandomState` (reference-exact.md §4): `seed(s)` is `init_genrand(s)`,
//! `shuffle` of a 1-D array draws `random_interval(i)` for `i = n−1 … 1`.

use super::mt19937::Mt19937;

/// `np.random.seed(seed)`'s global state.
#[derive(Clone, Debug)]
pub struct NumpyLegacy {
    mt: Mt19937,
}

impl NumpyLegacy {
    pub fn seed(seed: u32) -> NumpyLegacy {
        NumpyLegacy {
            mt: Mt19937::init_genrand(seed),
        }
    }

    /// A uniform integer in `[0, max]`: the low bits of draws, masked to `max`'s bit length,
    /// until not above `max` (no draw for `max = 0`).
    pub fn random_interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mask = u64::MAX >> max.leading_zeros();
        if max <= u64::from(u32::MAX) {
            loop {
                let v = u64::from(self.mt.next_u32()) & mask;
                if v <= max {
                    return v;
                }
            }
        }
        loop {
            let high = u64::from(self.mt.next_u32());
            let v = ((high << 32) | u64::from(self.mt.next_u32())) & mask;
            if v <= max {
                return v;
            }
        }
    }

    /// `np.random.shuffle(x)` of a 1-D array.
    pub fn shuffle<T>(&mut self, x: &mut [T]) {
        for i in (1..x.len()).rev() {
            let j = self.random_interval(i as u64) as usize;
            x.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_vectors() {
        // reference-exact.md §15: np.random.shuffle(arange(10))
        let shuffled = |seed| {
            let mut x: Vec<u32> = (0..10).collect();
            NumpyLegacy::seed(seed).shuffle(&mut x);
            x
        };
        assert_eq!(shuffled(0), [2, 8, 4, 9, 1, 6, 7, 3, 0, 5]);
        assert_eq!(shuffled(1), [2, 9, 6, 4, 0, 3, 1, 7, 8, 5]);
    }
}
