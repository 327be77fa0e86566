//! The labs' log lines: one grammar, written and read here.
//!
//! A peer's event is one line, `<ms> <TOPIC> S<peer> T<term> <message>`:
//!
//! ```text
//! 000402 VOTE S1 T3 votes for S0
//! ```
//!
//! and a line of the test harness has the topic `TEST` and no peer or term,
//! `<ms> TEST <message>`. `<ms>` counts milliseconds from [`epoch`]
//! ([`millis`]): in a simulation, virtual milliseconds since the world
//! began, so the same seed stamps the same lines with the same times. A
//! topic is one to four capital letters (the macros check it when they
//! compile) and is padded to four; a message is one line.
//!
//! Peers write with [`event!`](crate::event) and the harness with
//! [`harness_event!`](crate::harness_event), both at `debug` level under the
//! target [`TARGET`] (`RUST_LOG=raft=debug` shows them); [`parse`] reads a
//! line back (`scripts/logs` lays a log out in one column per peer with it).
//!
//! ```
//! use labrpc::trace::{self, Line};
//!
//! let line = Line::Event { ms: 402, topic: "VOTE", peer: 1, term: 3, message: "votes for S0" };
//! assert_eq!(line.to_string(), "000402 VOTE S1 T3 votes for S0");
//! assert_eq!(trace::parse("000402 VOTE S1 T3 votes for S0"), line);
//! ```

use std::fmt;

pub use crate::rt::time::{epoch, millis};

/// The log target of every line (`RUST_LOG=raft=debug`).
pub const TARGET: &str = "raft";

/// The log target of the harness's lines: under [`TARGET`], so the filter
/// that shows the peers' events shows the harness's actions among them.
pub const HARNESS_TARGET: &str = "raft::test";

/// The topic of the harness's lines.
pub const HARNESS_TOPIC: &str = "TEST";

/// One line of a log, understood; its [`Display`](fmt::Display) writes it.
///
/// `M` is the message: text when parsed, or anything displayable (such as
/// `format_args!`) when written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line<'a, M = &'a str> {
    /// A peer's event.
    Event {
        /// Milliseconds since [`epoch`].
        ms: u64,
        /// What kind of event: `VOTE`, `LEAD`, `APND`, ...
        topic: &'a str,
        /// The peer.
        peer: usize,
        /// Its current term.
        term: u64,
        /// The rest of the line.
        message: M,
    },
    /// A line of the test harness (topic [`HARNESS_TOPIC`]).
    Harness {
        /// Milliseconds since [`epoch`].
        ms: u64,
        /// The rest of the line.
        message: M,
    },
    /// Anything else (test titles, summaries, panics): passed through.
    Other(&'a str),
}

impl<M: fmt::Display> fmt::Display for Line<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Line::Event {
                ms,
                topic,
                peer,
                term,
                message,
            } => write!(f, "{ms:06} {topic:<4} S{peer} T{term} {message}"),
            Line::Harness { ms, message } => write!(f, "{ms:06} {HARNESS_TOPIC} {message}"),
            Line::Other(text) => f.write_str(text),
        }
    }
}

/// Whether `topic` may name a peer's event: one to four capital letters,
/// and not the harness's topic.
pub const fn is_topic(topic: &str) -> bool {
    let bytes = topic.as_bytes();
    if bytes.is_empty() || bytes.len() > 4 {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_uppercase() {
            return false;
        }
        i += 1;
    }
    !matches!(bytes, b"TEST")
}

/// Reads one line; never fails (a line of another shape is [`Line::Other`]).
pub fn parse(line: &str) -> Line<'_> {
    let other = Line::Other(line);
    let Some((ms, rest)) = line.split_once(' ') else {
        return other;
    };
    let Ok(ms) = ms.parse() else {
        return other;
    };
    let (topic, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    if topic == HARNESS_TOPIC {
        return Line::Harness { ms, message: rest };
    }
    if !is_topic(topic) {
        return other;
    }
    // The topic is padded to four characters.
    let mut words = rest.trim_start_matches(' ').splitn(3, ' ');
    let (Some(peer), Some(term)) = (words.next(), words.next()) else {
        return other;
    };
    let (Some(Ok(peer)), Some(Ok(term))) = (
        peer.strip_prefix('S').map(str::parse),
        term.strip_prefix('T').map(str::parse),
    ) else {
        return other;
    };
    Line::Event {
        ms,
        topic,
        peer,
        term,
        message: words.next().unwrap_or(""),
    }
}

/// The milliseconds [`millis`] gives, as a line holds them.
#[doc(hidden)]
pub fn line_millis(now: crate::rt::time::Instant) -> u64 {
    u64::try_from(millis(now)).unwrap_or(u64::MAX)
}

#[doc(hidden)]
pub use log as __log;

/// Logs one event of a peer, in the labs' line shape (see [`trace`](self)):
///
/// ```
/// # let (me, term, candidate) = (1, 3, 0);
/// labrpc::event!("VOTE", peer: me, term: term, "votes for S{candidate}");
/// ```
///
/// writes `000402 VOTE S1 T3 votes for S0` at `debug` level under the target
/// `raft`, stamped with the time now; `at: instant` stamps it with another
/// [`Instant`](crate::rt::time::Instant) (the time an event happened):
///
/// ```
/// # let (me, term) = (1, 3);
/// # let now = labrpc::rt::time::Instant::now();
/// labrpc::event!("LEAD", peer: me, term: term, at: now, "becomes leader");
/// ```
///
/// The topic is one to four capital letters, checked when the call compiles.
#[macro_export]
macro_rules! event {
    ($topic:literal, peer: $peer:expr, term: $term:expr, at: $at:expr, $($message:tt)+) => {{
        const _: () = ::core::assert!(
            $crate::trace::is_topic($topic),
            "a topic is one to four capital letters, and not TEST"
        );
        $crate::trace::__log::debug!(
            target: $crate::trace::TARGET,
            "{}",
            $crate::trace::Line::Event {
                ms: $crate::trace::line_millis($at),
                topic: $topic,
                peer: $peer,
                term: $term,
                message: ::core::format_args!($($message)+),
            }
        )
    }};
    ($topic:literal, peer: $peer:expr, term: $term:expr, $($message:tt)+) => {
        $crate::event!(
            $topic,
            peer: $peer,
            term: $term,
            at: $crate::rt::time::Instant::now(),
            $($message)+
        )
    };
}

/// Logs what the test harness does, in the labs' line shape with the topic
/// `TEST` (see [`trace`](self)), under the target `raft::test`:
///
/// ```
/// labrpc::harness_event!("crash S{}", 2);
/// ```
#[macro_export]
macro_rules! harness_event {
    ($($message:tt)+) => {
        $crate::trace::__log::debug!(
            target: $crate::trace::HARNESS_TARGET,
            "{}",
            $crate::trace::Line::Harness {
                ms: $crate::trace::line_millis($crate::rt::time::Instant::now()),
                message: ::core::format_args!($($message)+),
            }
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_reads_back() {
        let events = [
            (0, "VOTE", 0, 0, "election timeout: starts an election"),
            (402, "LEAD", 4, 17, "becomes leader (log to 12)"),
            (1_234_567, "AE", 12, 3, "  spaces  inside and at both ends "),
            (5, "X", 1, u64::MAX, ""),
            (u64::MAX, "CMIT", usize::MAX, 1, "S2 T9 looks like a header"),
        ];
        for (ms, topic, peer, term, message) in events {
            let line = Line::Event {
                ms,
                topic,
                peer,
                term,
                message,
            };
            let text = line.to_string();
            assert_eq!(parse(&text), line, "{text:?}");
        }
        for (ms, message) in [(0, "crash S0"), (99, ""), (7, "TEST TEST")] {
            let line = Line::Harness { ms, message };
            let text = line.to_string();
            assert_eq!(parse(&text), line, "{text:?}");
        }
    }

    #[test]
    fn the_shape_is_the_documented_one() {
        let line = Line::Event {
            ms: 402,
            topic: "AE",
            peer: 1,
            term: 3,
            message: format_args!("to S{}", 2),
        };
        assert_eq!(line.to_string(), "000402 AE   S1 T3 to S2");
        let line = Line::Harness {
            ms: 2,
            message: "connect S0",
        };
        assert_eq!(line.to_string(), "000002 TEST connect S0");
    }

    #[test]
    fn other_shapes_pass_through() {
        for other in [
            "Test (2A): initial election ...",
            "  ... Passed --   3.1  3   56     498    0",
            "12 VOTE X1 T3 no peer",
            "12 vote S1 T3 lower-case topic",
            "12 VOTES S1 T3 topic too long",
            "12 VOTE S1 3 no T",
            "-1 VOTE S1 T3 negative time",
            "thread 'x' panicked at src/lib.rs:1:1:",
            "",
        ] {
            assert_eq!(parse(other), Line::Other(other));
        }
    }

    #[test]
    fn topics_are_short_capitals_other_than_the_harness_s() {
        for topic in ["A", "VOTE", "CMIT", "AE"] {
            assert!(is_topic(topic), "{topic}");
        }
        for topic in ["", "vote", "VOTES", "V0TE", "TEST", "É"] {
            assert!(!is_topic(topic), "{topic}");
        }
    }

    #[test]
    fn the_macros_write_the_grammar() {
        struct Capture(std::sync::Mutex<Vec<(String, String)>>);
        impl log::Log for Capture {
            fn enabled(&self, _: &log::Metadata<'_>) -> bool {
                true
            }
            fn log(&self, record: &log::Record<'_>) {
                let mut lines = self.0.lock().unwrap();
                lines.push((record.target().to_owned(), record.args().to_string()));
            }
            fn flush(&self) {}
        }
        static CAPTURE: Capture = Capture(std::sync::Mutex::new(Vec::new()));
        log::set_logger(&CAPTURE).expect("the only logger of this test binary");
        log::set_max_level(log::LevelFilter::Debug);

        let at = epoch() + std::time::Duration::from_millis(402);
        crate::event!("VOTE", peer: 1, term: 3, at: at, "votes for S{}", 0);
        crate::harness_event!("crash S{}", 2);
        let lines = CAPTURE.0.lock().unwrap().clone();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0].0, TARGET);
        assert_eq!(lines[0].1, "000402 VOTE S1 T3 votes for S0");
        assert_eq!(lines[1].0, HARNESS_TARGET);
        assert!(
            matches!(
                parse(&lines[1].1),
                Line::Harness {
                    message: "crash S2",
                    ..
                }
            ),
            "{:?}",
            lines[1].1
        );
    }
}
