//! The messages Raft peers exchange (Figure 2 of the paper, plus §7's
//! InstallSnapshot) and the RPC methods that carry them.

// handout: begin
use std::fmt;

use labrpc::Method;
use serde::{Deserialize, Serialize};

use crate::{Index, PeerId, Term};

/// `Raft.RequestVote`: a candidate asks for a vote (§5.2).
pub const REQUEST_VOTE: Method<RequestVoteArgs, RequestVoteReply> = Method::new("Raft.RequestVote");
/// `Raft.AppendEntries`: a leader replicates entries, or sends a heartbeat
/// (§5.3).
pub const APPEND_ENTRIES: Method<AppendEntriesArgs, AppendEntriesReply> =
    Method::new("Raft.AppendEntries");
/// `Raft.InstallSnapshot`: a leader sends its snapshot to a follower whose
/// next entry it no longer stores (§7).
pub const INSTALL_SNAPSHOT: Method<InstallSnapshotArgs, InstallSnapshotReply> =
    Method::new("Raft.InstallSnapshot");

/// One log entry: a command and the term in which a leader received it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The leader's term when the entry was created.
    pub term: Term,
    /// The service's command, opaque to Raft.
    #[serde(with = "serde_bytes")]
    pub command: Vec<u8>,
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "T{}:{}B", self.term, self.command.len())
    }
}

/// RequestVote arguments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestVoteArgs {
    /// The candidate's term.
    pub term: Term,
    /// The candidate requesting the vote.
    pub candidate_id: PeerId,
    /// Index of the candidate's last log entry (§5.4).
    pub last_log_index: Index,
    /// Term of the candidate's last log entry (§5.4).
    pub last_log_term: Term,
}

/// RequestVote results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestVoteReply {
    /// The voter's current term, for the candidate to update itself.
    pub term: Term,
    /// Whether the candidate received the vote.
    pub vote_granted: bool,
}

/// AppendEntries arguments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendEntriesArgs {
    /// The leader's term.
    pub term: Term,
    /// So that followers know who leads.
    pub leader_id: PeerId,
    /// Index of the entry just before the new ones.
    pub prev_log_index: Index,
    /// Term of the entry at `prev_log_index`.
    pub prev_log_term: Term,
    /// Entries to store; empty for a heartbeat.
    pub entries: Vec<Entry>,
    /// The leader's commit index.
    pub leader_commit: Index,
}

/// AppendEntries results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendEntriesReply {
    /// The follower's current term, for the leader to update itself.
    pub term: Term,
    /// What the follower did with the entries.
    pub outcome: AppendOutcome,
}

/// What a follower did with an AppendEntries request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AppendOutcome {
    /// The leader's term is stale; nothing was done.
    StaleTerm,
    /// The log matched at `prev_log_index` and now matches the leader's
    /// through `match_index` (Figure 2's `success`).
    Accepted {
        /// The last index known to match the leader's log.
        match_index: Index,
    },
    /// The log did not match at `prev_log_index`. The hint lets the leader
    /// skip a whole conflicting term per round trip instead of one entry.
    Conflict {
        /// The first index of `conflict_term` in the follower's log, or just
        /// past its last entry when its log is too short.
        conflict_index: Index,
        /// The term of the follower's entry at `prev_log_index`, or `None`
        /// when it has no entry there.
        conflict_term: Option<Term>,
    },
}

/// InstallSnapshot arguments (§7; sent whole, never in chunks).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallSnapshotArgs {
    /// The leader's term.
    pub term: Term,
    /// So that followers know who leads.
    pub leader_id: PeerId,
    /// The snapshot replaces all entries up to and including this index.
    pub last_included_index: Index,
    /// Term of the entry at `last_included_index`.
    pub last_included_term: Term,
    /// The service's snapshot.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// InstallSnapshot results.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallSnapshotReply {
    /// The follower's current term, for the leader to update itself.
    pub term: Term,
}
// handout: else
// use labrpc::Method;
// use serde::{Deserialize, Serialize};
//
// use crate::Term;
//
// /// `Raft.RequestVote`: a candidate asks for a vote (§5.2).
// pub const REQUEST_VOTE: Method<RequestVoteArgs, RequestVoteReply> = Method::new("Raft.RequestVote");
//
// /// RequestVote arguments (Figure 2).
// #[derive(Clone, Debug, Serialize, Deserialize)]
// pub struct RequestVoteArgs {
//     /// The candidate's term.
//     pub term: Term,
//     // Your fields here (2A, 2B).
// }
//
// /// RequestVote results (Figure 2).
// #[derive(Clone, Debug, Serialize, Deserialize)]
// pub struct RequestVoteReply {
//     /// The voter's current term.
//     pub term: Term,
//     // Your fields here (2A).
// }
//
// // Declare AppendEntries (2A heartbeats, 2B entries) and InstallSnapshot
// // (2D) the same way: a method constant and the argument and reply types.
// handout: end
