//! What Raft delivers to its service on the apply channel: [`ApplyMsg`].

use std::fmt;

use crate::{Index, Term};

/// A message on the apply channel: something the service must apply, in
/// order.
#[derive(Clone, PartialEq, Eq)]
pub enum ApplyMsg {
    /// The command at `index` is committed.
    Command {
        /// Its log index.
        index: Index,
        /// The command, as given to [`Raft::start`](crate::Raft::start).
        command: Vec<u8>,
    },
    /// Replace the service's state with this snapshot, taken by the leader's
    /// service through `index`; commands from `index + 1` follow.
    Snapshot {
        /// The last index the snapshot covers.
        index: Index,
        /// The term of that entry.
        term: Term,
        /// The leader's service's snapshot.
        data: Vec<u8>,
    },
}

impl fmt::Debug for ApplyMsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApplyMsg::Command { index, command } => {
                write!(f, "Command {{ index: {index}, {} bytes }}", command.len())
            }
            ApplyMsg::Snapshot { index, term, data } => write!(
                f,
                "Snapshot {{ index: {index}, term: {term}, {} bytes }}",
                data.len()
            ),
        }
    }
}
