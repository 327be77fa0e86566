// handout: omit-file
//! Helpers for the core's unit tests: cores in a chosen role, a fixed clock,
//! and views of the effects.

use labrpc::rt::time::{self, Duration, Instant};

use super::{Core, Effects, Entry, Message};
use crate::rpc::{
    AppendEntriesArgs, AppendEntriesReply, AppendOutcome, RequestVoteArgs, RequestVoteReply,
};
use crate::{Index, PeerId, Term};

/// The instant `ms` milliseconds after a fixed origin (the facade's epoch:
/// outside a simulation, one instant for the whole process).
pub(crate) fn at(ms: u64) -> Instant {
    time::epoch() + Duration::from_millis(ms)
}

/// A fresh follower created at `at(0)`, so its election times out between
/// `at(300)` and `at(600)`.
pub(crate) fn follower(me: PeerId, peers: usize) -> Core {
    Core::new(me, peers, 7, at(0))
}

/// A leader of term 1, elected at `at(1000)` by every other peer, with its
/// first heartbeats still in flight.
pub(crate) fn leader(me: PeerId, peers: usize) -> Core {
    leader_with_log(me, peers, &[])
}

/// Like [`leader`], with entries of the given terms in its log beforehand.
pub(crate) fn leader_with_log(me: PeerId, peers: usize, terms: &[Term]) -> Core {
    let mut core = follower(me, peers);
    push_entries(&mut core, terms);
    core.tick(at(1000));
    let requests = vote_requests(&core.take_effects());
    let yes = RequestVoteReply {
        term: core.term(),
        vote_granted: true,
    };
    for (peer, args) in (0..peers).filter(|&p| p != me).zip(requests) {
        core.handle_request_vote_reply(peer, &args, Some(&yes), at(1000));
    }
    assert!(core.is_leader());
    core
}

pub(crate) fn entry(term: Term) -> Entry {
    Entry {
        term,
        command: term.to_le_bytes().to_vec(),
    }
}

/// Appends entries of the given terms to the core's log.
pub(crate) fn push_entries(core: &mut Core, terms: &[Term]) {
    for &term in terms {
        core.log.push(entry(term));
    }
}

pub(crate) fn vote_args(
    candidate_id: PeerId,
    term: Term,
    last_log_index: Index,
    last_log_term: Term,
) -> RequestVoteArgs {
    RequestVoteArgs {
        term,
        candidate_id,
        last_log_index,
        last_log_term,
    }
}

pub(crate) fn vote_requests(effects: &Effects) -> Vec<RequestVoteArgs> {
    effects
        .send
        .iter()
        .filter_map(|(_, m)| match m {
            Message::RequestVote(args) => Some(args.clone()),
            _ => None,
        })
        .collect()
}

pub(crate) fn append_requests(effects: &Effects) -> Vec<AppendEntriesArgs> {
    effects
        .send
        .iter()
        .filter_map(|(_, m)| match m {
            Message::AppendEntries { args, .. } => Some(args.clone()),
            _ => None,
        })
        .collect()
}

/// Answers every replication request in `effects` as a follower whose log
/// matches, and returns the effects of those replies.
pub(crate) fn settle(core: &mut Core, effects: Effects, now: Instant) -> Effects {
    for (peer, message) in effects.send {
        if let Message::AppendEntries { args, seq } = message {
            let reply = AppendEntriesReply {
                term: args.term,
                outcome: AppendOutcome::Accepted {
                    match_index: args.prev_log_index + args.entries.len() as Index,
                },
            };
            core.handle_append_entries_reply(peer, &args, seq, Some(&reply), now);
        }
    }
    core.take_effects()
}
