//! torch's CPU default generator as `DataCollatorForLanguageModeling` uses it
//! (reference-exact.md §5–6): `manual_seed(s)` is `init_genrand(s & 0xffffffff)`;
//! `bernoulli(p)` of a float32 `p` is `(draw & 0xFFFFFF) < ⌈f32(p)·2²⁴⌉`, one draw per
//! element; `randint(V)` is `draw % V`, one draw per element.

use super::mt19937::Mt19937;

/// The generator after `torch.random.manual_seed(seed)`.
pub fn manual_seed(seed: u64) -> Mt19937 {
    Mt19937::init_genrand(seed as u32)
}

/// The integer threshold of `bernoulli(p)` for a float32 probability: a draw succeeds when
/// its low 24 bits are below it.
pub fn bernoulli_threshold(p: f64) -> u32 {
    let p = p as f32;
    (f64::from(p) * f64::from(1u32 << 24)).ceil() as u32
}

/// Whether a draw makes `bernoulli` succeed below `threshold`.
#[inline]
pub fn bernoulli(draw: u32, threshold: u32) -> bool {
    draw & 0xFF_FFFF < threshold
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_vectors() {
        // reference-exact.md §15
        assert_eq!(bernoulli_threshold(0.15), 2_516_583);
        assert_eq!(bernoulli_threshold(0.8), 13_421_773);
        assert_eq!(bernoulli_threshold(0.5), 8_388_608);
        assert_eq!(bernoulli_threshold(0.0), 0);
        let randint = |seed| {
            let mut g = manual_seed(seed);
            (0..8).map(|_| g.next_u32() % 30522).collect::<Vec<_>>()
        };
        assert_eq!(
            randint(0),
            [13550, 11433, 11375, 19116, 3445, 18885, 11599, 24619]
        );
        assert_eq!(
            randint(1),
            [3841, 29099, 29682, 23396, 2911, 9175, 11045, 2537]
        );
        let coins = |seed| {
            let mut g = manual_seed(seed);
            let t = bernoulli_threshold(0.15);
            (0..16)
                .map(|_| u8::from(bernoulli(g.next_u32(), t)))
                .collect::<Vec<_>>()
        };
        assert_eq!(coins(0), [0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(coins(1), [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    }
}
