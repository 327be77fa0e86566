//! Random numbers: each thread draws from its own generator. In a
//! simulation it is seeded from the world's seed, so a run replays exactly;
//! otherwise from the operating system's entropy.

use std::cell::RefCell;

use rand::distr::uniform::{SampleRange, SampleUniform};
use rand::distr::{Distribution, StandardUniform};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use super::sim;

thread_local! {
    /// A real thread's generator (a simulated thread's is the world's).
    static GENERATOR: RefCell<Option<Xoshiro256PlusPlus>> = const { RefCell::new(None) };
}

fn with_rng<R>(f: impl FnOnce(&mut Xoshiro256PlusPlus) -> R) -> R {
    if let Some(here) = sim::here() {
        return here.world.with_thread_rng(here.tid, f);
    }
    GENERATOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let rng = slot.get_or_insert_with(|| Xoshiro256PlusPlus::seed_from_u64(rand::random()));
        f(rng)
    })
}

/// A random value, as [`rand::random`].
pub fn random<T>() -> T
where
    StandardUniform: Distribution<T>,
{
    with_rng(|rng| rng.random())
}

/// A random value in `range`, as [`rand::random_range`].
///
/// # Panics
/// When `range` is empty.
pub fn random_range<T, R>(range: R) -> T
where
    T: SampleUniform,
    R: SampleRange<T>,
{
    with_rng(|rng| rng.random_range(range))
}

/// `true` with probability `p`, as [`rand::random_bool`].
///
/// # Panics
/// When `p` is not in `0.0..=1.0`.
pub fn random_bool(p: f64) -> bool {
    with_rng(|rng| rng.random_bool(p))
}

/// A new generator seeded from this thread's: for code that wants an
/// `Rng` of its own (shuffles, distributions).
pub fn rng() -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(random())
}
