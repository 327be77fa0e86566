// handout: omit-file
//! What Raft saves to stable storage, and reading it back after a crash.

use labrpc::Persister;
use serde::{Deserialize, Serialize};

use super::Core;
use super::log::Log;
use crate::{Index, PeerId, Term};

/// Figure 2's persistent state but the log's entries: current term, vote,
/// the index and term of the last entry the snapshot covers, and how many
/// entries are stored.
///
/// The saved state is the entries, each encoded, one after another; then
/// this header, encoded; then the header's length in 4 little-endian bytes.
/// With the entries first, a save keeps the bytes of the entries the
/// persister already holds and writes only what changed: the entries added
/// since, and the header (a log changes at its end; when it changes at its
/// front, after a snapshot, everything is written again).
#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Header {
    current_term: Term,
    voted_for: Option<PeerId>,
    snapshot_index: Index,
    snapshot_term: Term,
    entry_count: u64,
}

/// The length of the header's length.
const TRAILER: usize = 4;

impl Core {
    /// Replaces the snapshot; the next save writes it.
    pub(super) fn set_snapshot(&mut self, data: Vec<u8>) {
        self.snapshot = data;
        self.snapshot_saved = false;
    }

    /// Saves the state, and the snapshot if it changed, into `persister`,
    /// both at once, costing what changed since the last save.
    ///
    /// The persister must be the one this state was restored from (or an
    /// empty one), written only by this core: a save keeps in place the
    /// bytes it wrote there before.
    pub(crate) fn save(&mut self, persister: &Persister) {
        let header = Header {
            current_term: self.current_term,
            voted_for: self.voted_for,
            snapshot_index: self.log.snapshot_index(),
            snapshot_term: self.log.snapshot_term(),
            entry_count: self.log.stored_len() as u64,
        };
        let header =
            labrpc::codec::encode(&header).expect("Raft state is plain data and always encodes");
        let length = u32::try_from(header.len())
            .expect("a header of a few integers is short")
            .to_le_bytes();
        let log = &mut self.log;
        let snapshot = (!self.snapshot_saved).then_some(&self.snapshot);
        persister.update(|state, saved_snapshot| {
            log.save_entries(state);
            state.extend_from_slice(&header);
            state.extend_from_slice(&length);
            if let Some(snapshot) = snapshot {
                saved_snapshot.clear();
                saved_snapshot.extend_from_slice(snapshot);
            }
        });
        self.snapshot_saved = true;
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
        let (header, log) = decode_state(state).unwrap_or_else(|e| {
            panic!(
                "S{}: persisted Raft state is corrupt ({} bytes): {e}",
                self.me,
                state.len()
            )
        });
        self.current_term = header.current_term;
        self.voted_for = header.voted_for;
        self.log = log;
        self.snapshot = snapshot;
        self.snapshot_saved = true;
        self.commit_index = self.log.snapshot_index();
        self.last_applied = self.log.snapshot_index();
    }
}

/// The header and the log of a saved state.
fn decode_state(state: &[u8]) -> Result<(Header, Log), String> {
    let split = state
        .len()
        .checked_sub(TRAILER)
        .ok_or("shorter than its trailer")?;
    let (rest, length) = state.split_at(split);
    let length = u32::from_le_bytes(length.try_into().expect("TRAILER bytes")) as usize;
    let entries_end = rest
        .len()
        .checked_sub(length)
        .ok_or_else(|| format!("the header's length, {length}, is past the start"))?;
    let (entries, header) = rest.split_at(entries_end);
    let header: Header = labrpc::codec::decode(header).map_err(|e| e.to_string())?;
    let log = Log::from_saved(
        header.snapshot_index,
        header.snapshot_term,
        entries,
        header.entry_count,
    )
    .map_err(|e| e.to_string())?;
    Ok((header, log))
}

#[cfg(test)]
mod tests {
    use labrpc::Persister;

    use super::*;
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
        let persister = Persister::new();
        core.save(&persister);
        let mut restored = follower(0, 3);
        restored.restore(&persister.raft_state(), persister.snapshot());
        assert_eq!(restored.term(), 4);
        assert_eq!(restored.voted_for, Some(2));
        assert_eq!(restored.log, core.log);
        assert_eq!(restored.snapshot, b"snap");
        assert_eq!(restored.commit_index, 1, "the snapshot counts as committed");
        assert!(restored.take_apply_batch().is_empty(), "and as applied");
    }

    /// The state written in one go: every entry, the header, its length.
    fn encoded_at_once(core: &Core) -> Vec<u8> {
        let log = &core.log;
        let mut state = Vec::new();
        for entry in log.entries_from(log.snapshot_index() + 1) {
            state.extend(labrpc::codec::encode(entry).unwrap());
        }
        let header = labrpc::codec::encode(&Header {
            current_term: core.current_term,
            voted_for: core.voted_for,
            snapshot_index: log.snapshot_index(),
            snapshot_term: log.snapshot_term(),
            entry_count: log.stored_len() as u64,
        })
        .unwrap();
        state.extend(&header);
        state.extend((header.len() as u32).to_le_bytes());
        state
    }

    /// Saves, and checks what the persister holds against the state
    /// written in one go, and against a restart from it.
    fn assert_saves_as_at_once(core: &mut Core, persister: &Persister, after: &str) {
        core.save(persister);
        assert_eq!(
            persister.raft_state(),
            encoded_at_once(core),
            "after {after}"
        );
        assert_eq!(persister.snapshot(), core.snapshot, "after {after}");
        let mut restored = follower(0, 3);
        restored.restore(&persister.raft_state(), persister.snapshot());
        assert_eq!(restored.log, core.log, "after {after}");
    }

    #[test]
    fn saving_in_place_equals_writing_everything() {
        let persister = Persister::new();
        let mut core = follower(0, 3);
        assert_saves_as_at_once(&mut core, &persister, "nothing");
        push_entries(&mut core, &[1, 1, 2, 2]);
        assert_saves_as_at_once(&mut core, &persister, "appending");
        core.log.truncate_from(3);
        push_entries(&mut core, &[3]);
        core.voted_for = Some(1);
        assert_saves_as_at_once(&mut core, &persister, "replacing a suffix");
        core.log.compact_to(2, 1);
        core.set_snapshot(b"two".to_vec());
        push_entries(&mut core, &[3, 3]);
        assert_saves_as_at_once(&mut core, &persister, "compacting a prefix");
        core.log.compact_to(9, 3);
        core.set_snapshot(b"nine".to_vec());
        assert_saves_as_at_once(&mut core, &persister, "replacing the log by a snapshot");

        // A restarted peer keeps saving in place into the persister it was
        // restored from.
        let mut restarted = follower(0, 3);
        restarted.restore(&persister.raft_state(), persister.snapshot());
        push_entries(&mut restarted, &[4]);
        assert_saves_as_at_once(&mut restarted, &persister, "a restart and an append");
    }

    #[test]
    #[should_panic(expected = "persisted Raft state is corrupt")]
    fn corrupt_state_panics_saying_so() {
        let mut core = follower(0, 3);
        core.restore(&[0xff, 0xff, 0xff], Vec::new());
    }

    #[test]
    #[should_panic(expected = "persisted Raft state is corrupt")]
    fn a_header_length_past_the_start_panics_saying_so() {
        let mut core = follower(0, 3);
        core.restore(&[1, 2, 200, 0, 0, 0], Vec::new());
    }
}
