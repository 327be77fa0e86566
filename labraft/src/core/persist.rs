// handout: omit-file
//! What Raft saves to stable storage, and reading it back after a crash.

use serde::{Deserialize, Serialize};

use super::Core;
use super::log::{Entry, Log};
use crate::{Index, PeerId, Term};

/// Figure 2's persistent state: current term, vote and log (with the index
/// and term of the last entry the snapshot covers).
#[derive(Deserialize)]
struct Persistent {
    current_term: Term,
    voted_for: Option<PeerId>,
    snapshot_index: Index,
    snapshot_term: Term,
    entries: Vec<Entry>,
}

/// Everything in [`Persistent`] before its entries, ending with their count:
/// the encoded entries follow it, so the two together decode as a
/// `Persistent` (bincode concatenates a struct's fields, and a sequence is its
/// length followed by its elements).
#[derive(Serialize)]
struct Header {
    current_term: Term,
    voted_for: Option<PeerId>,
    snapshot_index: Index,
    snapshot_term: Term,
    entry_count: u64,
}

impl Core {
    /// What to save: the state, encoded, and the snapshot. Only entries added
    /// since the last call are encoded; the rest is copied.
    pub(crate) fn saved_form(&mut self) -> (&[u8], &[u8]) {
        let header = Header {
            current_term: self.current_term,
            voted_for: self.voted_for,
            snapshot_index: self.log.snapshot_index(),
            snapshot_term: self.log.snapshot_term(),
            entry_count: self.log.stored_len() as u64,
        };
        let header =
            labrpc::codec::encode(&header).expect("Raft state is plain data and always encodes");
        let state = &mut self.encoded_state;
        state.clear();
        state.extend_from_slice(&header);
        state.extend_from_slice(self.log.encoded_entries());
        (state, &self.snapshot)
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
        self.log = Log::from_parts(saved.snapshot_index, saved.snapshot_term, saved.entries);
        self.snapshot = snapshot;
        self.commit_index = self.log.snapshot_index();
        self.last_applied = self.log.snapshot_index();
    }
}

#[cfg(test)]
mod tests {
    use crate::core::Core;
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
        let (state, snapshot) = core.saved_form();
        let (state, snapshot) = (state.to_vec(), snapshot.to_vec());
        let mut restored = follower(0, 3);
        restored.restore(&state, snapshot);
        assert_eq!(restored.term(), 4);
        assert_eq!(restored.voted_for, Some(2));
        assert_eq!(restored.log, core.log);
        assert_eq!(restored.commit_index, 1, "the snapshot counts as committed");
        assert!(restored.take_apply_batch().is_empty(), "and as applied");
    }

    /// What saving the whole state in one go encodes, for comparison with
    /// the incremental encoding.
    fn encoded_at_once(core: &Core) -> Vec<u8> {
        let log = &core.log;
        let entries = log.entries_from(log.snapshot_index() + 1);
        labrpc::codec::encode(&(
            core.current_term,
            core.voted_for,
            log.snapshot_index(),
            log.snapshot_term(),
            entries,
        ))
        .unwrap()
    }

    /// Saves, and checks the saved state against encoding it in one go.
    fn assert_saves_as_at_once(core: &mut Core, after: &str) {
        let saved = core.saved_form().0.to_vec();
        assert_eq!(saved, encoded_at_once(core), "after {after}");
    }

    #[test]
    fn incremental_encoding_equals_encoding_at_once() {
        let mut core = follower(0, 3);
        assert_saves_as_at_once(&mut core, "nothing");
        push_entries(&mut core, &[1, 1, 2, 2]);
        assert_saves_as_at_once(&mut core, "appending");
        core.log.truncate_from(3);
        push_entries(&mut core, &[3]);
        core.voted_for = Some(1);
        assert_saves_as_at_once(&mut core, "replacing a suffix");
        core.log.compact_to(2, 1);
        push_entries(&mut core, &[3, 3]);
        assert_saves_as_at_once(&mut core, "compacting a prefix");
        core.log.compact_to(9, 3);
        assert_saves_as_at_once(&mut core, "replacing the log by a snapshot");
    }

    #[test]
    #[should_panic(expected = "persisted Raft state is corrupt")]
    fn corrupt_state_panics_saying_so() {
        let mut core = follower(0, 3);
        core.restore(&[0xff, 0xff, 0xff], Vec::new());
    }
}
