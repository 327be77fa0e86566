//! What Raft saves to stable storage, and reading it back after a crash.

use serde::{Deserialize, Serialize};

use super::Core;
use super::log::Log;
use crate::{PeerId, Term};

/// Figure 2's persistent state: current term, vote and log (whose snapshot
/// index and term travel with it).
#[derive(Deserialize)]
struct Persistent {
    current_term: Term,
    voted_for: Option<PeerId>,
    log: Log,
}

/// [`Persistent`] by reference, so that saving never copies the log.
#[derive(Serialize)]
struct PersistentRef<'a> {
    current_term: Term,
    voted_for: Option<PeerId>,
    log: &'a Log,
}

impl Core {
    /// The state to save, encoded.
    pub(crate) fn encode_state(&self) -> Vec<u8> {
        labrpc::codec::encode(&PersistentRef {
            current_term: self.current_term,
            voted_for: self.voted_for,
            log: &self.log,
        })
        .expect("Raft state is plain data and always encodes")
    }

    /// The snapshot to save beside the state.
    pub(crate) fn snapshot_data(&self) -> &[u8] {
        &self.snapshot
    }

    /// Restores what a previous instance saved. The service restores its own
    /// state from the snapshot, so everything the snapshot covers counts as
    /// applied.
    ///
    /// # Panics
    /// When `state` is not Raft state this crate saved: corrupt state cannot
    /// be trusted, and guessing would break safety.
    pub(crate) fn restore(&mut self, state: &[u8], snapshot: Vec<u8>) {
        if state.is_empty() {
            return; // a fresh peer
        }
        let saved: Persistent = labrpc::codec::decode(state).unwrap_or_else(|e| {
            panic!(
                "S{}: persisted Raft state is corrupt ({} bytes): {e}",
                self.me,
                state.len()
            )
        });
        self.current_term = saved.current_term;
        self.voted_for = saved.voted_for;
        self.log = saved.log;
        self.snapshot = snapshot;
        self.commit_index = self.log.snapshot_index();
        self.last_applied = self.log.snapshot_index();
    }
}

#[cfg(test)]
mod tests {
    use crate::core::tests::*;

    #[test]
    fn state_survives_a_round_trip() {
        let mut core = follower(0, 3);
        push_entries(&mut core, &[1, 2]);
        core.become_follower(4, at(0));
        core.voted_for = Some(2);
        core.commit_index = 2;
        core.take_apply_batch();
        core.snapshot(1, b"snap".to_vec(), at(1));
        let state = core.encode_state();
        let mut restored = follower(0, 3);
        restored.restore(&state, core.snapshot_data().to_vec());
        assert_eq!(restored.term(), 4);
        assert_eq!(restored.voted_for, Some(2));
        assert_eq!(restored.log, core.log);
        assert_eq!(restored.commit_index, 1, "the snapshot counts as committed");
        assert!(restored.take_apply_batch().is_empty(), "and as applied");
    }

    #[test]
    #[should_panic(expected = "persisted Raft state is corrupt")]
    fn corrupt_state_panics_saying_so() {
        let mut core = follower(0, 3);
        core.restore(&[0xff, 0xff, 0xff], Vec::new());
    }
}
