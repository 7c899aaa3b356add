//! A small seeded generator (SplitMix64): the same seed replays the same run.

/// Seeded pseudo-random numbers.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The seed to use: `LITECOMMIT_SEED` when set (to replay a run), else one from the clock.
    /// The caller prints it.
    pub fn seed_from_env() -> u64 {
        std::env::var("LITECOMMIT_SEED")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64)
            })
    }

    /// The seed of round `round` of run `run` of a test seeded with `seed`. Each round draws
    /// from its own generator, so a timing-dependent number of draws in one round cannot
    /// shift the choices of the next, and `LITECOMMIT_SEED=<seed>` replays every round's.
    pub fn derive(seed: u64, run: usize, round: usize) -> u64 {
        seed ^ (((run as u64) << 32) | round as u64)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A random element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Whether this is a soak run (`make soak`): long runs instead of the bounded slice.
pub fn soak() -> bool {
    std::env::var_os("LITECOMMIT_SOAK").is_some_and(|v| v != "0")
}
