// handout: omit-file
//! The Raft protocol with no I/O.
//!
//! [`Core`] never sleeps, reads the clock, touches the network or the
//! persister: the driver ([`crate::raft`]) hands it events (a tick, an RPC, a
//! reply, a command to start) with the current time, and collects what it must
//! do about them as [`Effects`]: save the state, send messages, wake the
//! applier. The driver carries them out in that order — persist, then send —
//! so nothing leaves a peer before the state it reflects is stable.
//!
//! Because the core is plain data behind one lock, holding that lock across
//! an RPC is impossible by construction, and every rule of Figure 2 can be
//! unit-tested deterministically (see the tests at the bottom of each file).

mod election;
mod log;
mod persist;
mod replication;
mod snapshot;

use labrpc::rt::time::{Duration, Instant};

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use self::log::Log;
use crate::ApplyMsg;
use crate::rpc::{AppendEntriesArgs, Entry, InstallSnapshotArgs, RequestVoteArgs};
use crate::{Index, PeerId, Term};

/// How often an idle leader sends heartbeats: the labs allow at most ten a
/// second.
pub(crate) const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(100);

/// Election timeouts are drawn from this range of milliseconds: several
/// heartbeat intervals, so that a lost heartbeat or two does not start an
/// election, and short enough that a new leader emerges well within the
/// labs' five seconds even after a split vote or two.
const ELECTION_TIMEOUT_MS: std::ops::Range<u64> = 300..600;

/// After a commit, followers hear of it within this long: from the next
/// replication request if one leaves sooner, else from a heartbeat sent
/// early. Waiting a little lets one message carry several commits.
const COMMIT_NOTICE_DELAY: Duration = Duration::from_millis(10);

/// An RPC that failed this soon after it was sent was most likely lost, not
/// stuck on an unreachable peer: worth sending again at once.
const FAST_FAILURE: Duration = Duration::from_millis(50);

/// One Raft peer's protocol state.
pub(crate) struct Core {
    me: PeerId,
    peers: usize,

    // Persistent state on all servers (Figure 2), saved before any reply or
    // request that depends on it leaves this peer.
    current_term: Term,
    voted_for: Option<PeerId>,
    log: Log,
    /// The service's snapshot of entries through `log.snapshot_index()`;
    /// empty when there is none. Set only through `set_snapshot`.
    snapshot: Vec<u8>,
    /// Whether the persister holds `snapshot` already (so a save need not
    /// copy it again).
    snapshot_saved: bool,

    // Volatile state on all servers.
    /// Invariant: `commit_index >= last_applied >= log.snapshot_index()`.
    commit_index: Index,
    /// The last index handed to the applier (not necessarily delivered yet).
    last_applied: Index,
    /// A snapshot installed from the leader that the applier has not taken.
    snapshot_pending: bool,
    role: Role,
    /// When a follower or candidate gives up on the leader.
    election_deadline: Instant,

    /// The sequence number of the last replication request sent.
    next_seq: u64,
    rng: Xoshiro256PlusPlus,
    /// The time of the event being handled, for log lines.
    now: Instant,
    effects: Effects,
}

/// A peer's role, with the state only that role has.
enum Role {
    Follower,
    Candidate {
        /// `votes[p]`: peer `p` granted its vote this term.
        votes: Vec<bool>,
    },
    Leader {
        /// Per peer; the leader's own entry is unused.
        progress: Vec<Progress>,
    },
}

/// What a leader knows of one follower's log (Figure 2's volatile leader
/// state, plus what is in flight).
#[derive(Clone, Debug)]
struct Progress {
    /// Invariant: `next_index > match_index`.
    next_index: Index,
    match_index: Index,
    /// The replication request in flight, if any: its sequence number and
    /// when it was sent. At most one carries entries at a time, so that each
    /// entry normally crosses the network once per follower.
    in_flight: Option<(u64, Instant)>,
    /// Replication was asked for while a request was in flight.
    pending: bool,
    /// When the follower is next due a heartbeat: a heartbeat interval
    /// after the last message sent to it, or sooner to announce a commit.
    heartbeat_due: Instant,
}

/// A message for another peer.
#[derive(Debug)]
pub(crate) enum Message {
    RequestVote(RequestVoteArgs),
    /// `seq` is `Some` for a replication request that [`Progress::in_flight`]
    /// tracks, `None` for a heartbeat sent beside one.
    AppendEntries {
        args: AppendEntriesArgs,
        seq: Option<u64>,
    },
    InstallSnapshot {
        args: InstallSnapshotArgs,
        seq: u64,
    },
}

/// What the driver must do after an event, in this order.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    /// Save the state and snapshot before anything else leaves this peer.
    pub(crate) persist: bool,
    /// Messages to send, each on its own.
    pub(crate) send: Vec<(PeerId, Message)>,
    /// There is something for the applier.
    pub(crate) apply: bool,
    /// The next wake-up moved earlier: wake the ticker.
    pub(crate) reschedule: bool,
}

/// Logs one event of this peer in the labs' line shape (see
/// [`labrpc::trace`]), stamped with the time of the event.
macro_rules! event {
    ($core:expr, $topic:literal, $($arg:tt)+) => {
        ::labrpc::event!(
            $topic,
            peer: $core.me,
            term: $core.current_term,
            at: $core.now,
            $($arg)+
        )
    };
}
pub(crate) use event;

/// Asserts one of the protocol's safety properties (election safety, no
/// committed entry deleted) that the reference checks of itself.
///
/// Off when the crate is built with `--cfg lab_mutant`: `scripts/mutants`
/// plants bugs in this code to measure what the graded suites catch, and a
/// student's code has no such checks to fail on its behalf.
macro_rules! invariant {
    ($($assertion:tt)*) => {
        if cfg!(not(lab_mutant)) {
            assert!($($assertion)*);
        }
    };
}
pub(crate) use invariant;

impl Core {
    /// A fresh follower in term 0 with an empty log.
    pub(crate) fn new(me: PeerId, peers: usize, seed: u64, now: Instant) -> Core {
        assert!(me < peers, "peer {me} of a group of {peers}");
        let mut core = Core {
            me,
            peers,
            current_term: 0,
            voted_for: None,
            log: Log::default(),
            snapshot: Vec::new(),
            snapshot_saved: true,
            commit_index: 0,
            last_applied: 0,
            snapshot_pending: false,
            role: Role::Follower,
            election_deadline: now,
            next_seq: 0,
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            now,
            effects: Effects::default(),
        };
        core.reset_election_timer(now);
        core
    }

    pub(crate) fn term(&self) -> Term {
        self.current_term
    }

    pub(crate) fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader { .. })
    }

    /// What the driver must now do; the core forgets it.
    pub(crate) fn take_effects(&mut self) -> Effects {
        std::mem::take(&mut self.effects)
    }

    /// When [`tick`](Core::tick) next has something to do.
    pub(crate) fn next_wakeup(&self) -> Instant {
        match &self.role {
            Role::Leader { progress } => self
                .others()
                .map(|peer| progress[peer].heartbeat_due)
                .min()
                .unwrap_or(self.election_deadline),
            Role::Follower | Role::Candidate { .. } => self.election_deadline,
        }
    }

    /// Time has passed: start an election, or send heartbeats, when due.
    pub(crate) fn tick(&mut self, now: Instant) {
        self.now = now;
        match &self.role {
            Role::Leader { progress } => {
                let due: Vec<PeerId> = self
                    .others()
                    .filter(|&peer| progress[peer].heartbeat_due <= now)
                    .collect();
                for peer in due {
                    self.keep_in_touch(peer, now);
                }
            }
            Role::Follower | Role::Candidate { .. } if now >= self.election_deadline => {
                self.become_candidate(now);
            }
            Role::Follower | Role::Candidate { .. } => {}
        }
    }

    /// Appends `command` to the log if this peer leads; returns its index and
    /// term. Replication starts at once.
    pub(crate) fn start(&mut self, command: Vec<u8>, now: Instant) -> Option<(Index, Term)> {
        self.now = now;
        if !self.is_leader() {
            return None;
        }
        let term = self.current_term;
        let index = self.log.push(Entry { term, command });
        self.effects.persist = true;
        event!(self, "LEAD", "start: entry {index}");
        for peer in self.others() {
            self.schedule_replication(peer, now);
        }
        // A group of one commits on its own.
        self.maybe_commit(now);
        Some((index, term))
    }

    /// What the applier should deliver next, in index order: a snapshot
    /// installed from the leader, or the committed commands not yet handed
    /// over. The core counts them as applied from now on.
    pub(crate) fn take_apply_batch(&mut self) -> Vec<ApplyMsg> {
        if self.snapshot_pending {
            self.snapshot_pending = false;
            return vec![ApplyMsg::Snapshot {
                index: self.log.snapshot_index(),
                term: self.log.snapshot_term(),
                data: self.snapshot.clone(),
            }];
        }
        if self.last_applied >= self.commit_index {
            return Vec::new();
        }
        let first = self.last_applied + 1;
        let batch = self
            .log
            .slice(first, self.commit_index)
            .iter()
            .zip(first..)
            .map(|(entry, index)| ApplyMsg::Command {
                index,
                command: entry.command.clone(),
            })
            .collect();
        self.last_applied = self.commit_index;
        batch
    }

    /// Every peer but this one.
    fn others(&self) -> impl Iterator<Item = PeerId> + use<> {
        let me = self.me;
        (0..self.peers).filter(move |&p| p != me)
    }

    /// Whether `count` peers (this one included) are a majority.
    fn is_majority(&self, count: usize) -> bool {
        2 * count > self.peers
    }

    fn reset_election_timer(&mut self, now: Instant) {
        let ms = self.rng.random_range(ELECTION_TIMEOUT_MS);
        self.election_deadline = now + Duration::from_millis(ms);
    }

    /// Figure 2, rules for all servers: if a message carries a higher term,
    /// adopt it and become a follower.
    fn observe_term(&mut self, term: Term, now: Instant) {
        if term > self.current_term {
            self.become_follower(term, now);
        }
    }

    /// The common start of handling the reply (or the lack of one) to a
    /// replication request sent to `from` in `term`: adopt a higher term;
    /// then, if this peer still leads in `term`, stop tracking request `seq`
    /// as in flight. Returns the follower's progress, and when that request
    /// was sent if it was the one in flight; `None` if the reply is stale.
    fn progress_after_reply(
        &mut self,
        from: PeerId,
        term: Term,
        seq: Option<u64>,
        reply_term: Option<Term>,
        now: Instant,
    ) -> Option<(&mut Progress, Option<Instant>)> {
        self.now = now;
        if let Some(reply_term) = reply_term {
            self.observe_term(reply_term, now);
        }
        // Re-check after the round trip: still the leader of that term?
        if term != self.current_term {
            return None;
        }
        let Role::Leader { progress } = &mut self.role else {
            return None;
        };
        let progress = &mut progress[from];
        let sent = match (seq, progress.in_flight) {
            (Some(seq), Some((in_flight, sent))) if seq == in_flight => {
                progress.in_flight = None;
                Some(sent)
            }
            _ => None,
        };
        Some((progress, sent))
    }

    fn become_follower(&mut self, term: Term, now: Instant) {
        let was_leader = self.is_leader();
        if term > self.current_term {
            self.current_term = term;
            self.voted_for = None;
            self.effects.persist = true;
        }
        if !matches!(self.role, Role::Follower) {
            event!(self, "TERM", "becomes follower");
        }
        self.role = Role::Follower;
        if was_leader {
            // A leader keeps no election timer; start one.
            self.reset_election_timer(now);
            self.effects.reschedule = true;
        }
    }
}

#[cfg(test)]
mod tests;
