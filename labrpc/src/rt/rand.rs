//! Random numbers: each thread draws from its own generator. In a
//! simulation it is seeded from the world's seed, so a run replays exactly;
//! otherwise from the operating system's entropy.

use std::cell::RefCell;

use rand::distr::uniform::{SampleRange, SampleUniform};
use rand::distr::{Distribution, StandardUniform};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use super::sim;

/// A world id no simulated world has: the real-time generator's tag.
const REAL: u64 = 0;

thread_local! {
    /// This thread's generator, tagged with the world it belongs to.
    static GENERATOR: RefCell<Option<(u64, Xoshiro256PlusPlus)>> = const { RefCell::new(None) };
}

fn with_rng<R>(f: impl FnOnce(&mut Xoshiro256PlusPlus) -> R) -> R {
    let here = sim::here();
    let world = here.as_ref().map_or(REAL, |h| h.world.id);
    GENERATOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|(tag, _)| *tag != world) {
            let seed = match &here {
                Some(here) => here.world.rng_seed(here.tid),
                None => rand::random(),
            };
            *slot = Some((world, Xoshiro256PlusPlus::seed_from_u64(seed)));
        }
        let (_, rng) = slot.as_mut().expect("set above");
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
