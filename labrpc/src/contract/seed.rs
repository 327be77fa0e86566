//! Where a run's seed comes from: `LAB_SEED`, or a fresh one.
//!
//! In a simulation the seed fixes everything: the network's coin flips
//! (which requests are lost, how long each is delayed), the testers'
//! random choices and the order in which threads run, so a seed replays a
//! run exactly (the harness prints the command). In real time it fixes the
//! coin flips and the testers' choices only; the OS still times the
//! threads, so a replay may go another way.

use crate::lab::SEED_VAR as VAR;

/// The seed named by `LAB_SEED`, or a fresh one when it is unset or empty.
///
/// # Panics
/// When `LAB_SEED` is set to something other than an unsigned 64-bit integer.
pub fn from_env() -> u64 {
    match std::env::var(VAR) {
        Ok(text) if !text.trim().is_empty() => parse(&text).unwrap_or_else(|| {
            panic!("{VAR} must be an unsigned 64-bit integer such as {VAR}=42, got {text:?}")
        }),
        Ok(_) | Err(std::env::VarError::NotPresent) => rand::random(),
        Err(std::env::VarError::NotUnicode(text)) => {
            panic!("{VAR} must be an unsigned 64-bit integer, got {text:?}")
        }
    }
}

/// Prints `seed` with the command that replays it, and returns it.
pub fn announce(seed: u64) -> u64 {
    eprintln!("labrpc: network seed {seed} (replay with {VAR}={seed})");
    seed
}

fn parse(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_integers_only() {
        assert_eq!(parse(" 42 "), Some(42));
        assert_eq!(parse("18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse("-1"), None);
        assert_eq!(parse("0x10"), None);
    }
}
