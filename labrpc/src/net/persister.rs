//! Stable storage for one Raft peer.

use std::fmt;

use crate::rt::sync::PlainMutex as Mutex;

/// What a Raft peer (and the service above it) has saved to "disk": its Raft
/// state and its latest snapshot, always written together.
///
/// The tester owns the persister and hands a peer a reference. When it
/// crashes a peer it gives the restarted peer a [`copy`](Persister::copy), so
/// anything the killed instance still writes afterwards is invisible.
#[derive(Default)]
pub struct Persister {
    saved: Mutex<Saved>,
}

#[derive(Default, Clone)]
struct Saved {
    raft_state: Vec<u8>,
    snapshot: Vec<u8>,
}

impl Persister {
    /// An empty persister: no Raft state, no snapshot.
    pub fn new() -> Self {
        Persister::default()
    }

    /// A new persister holding what this one holds now, and independent of it
    /// from then on.
    pub fn copy(&self) -> Persister {
        Persister {
            saved: Mutex::new(self.saved.lock().clone()),
        }
    }

    /// Saves the Raft state and the snapshot together, atomically, replacing
    /// both. An empty `snapshot` means there is none: a peer that has a
    /// snapshot must pass it again each time it saves its state.
    pub fn save(&self, raft_state: &[u8], snapshot: &[u8]) {
        let mut saved = self.saved.lock();
        // Reusing the buffers: a peer saves often, and its state only grows
        // between snapshots.
        saved.raft_state.clear();
        saved.raft_state.extend_from_slice(raft_state);
        saved.snapshot.clear();
        saved.snapshot.extend_from_slice(snapshot);
    }

    /// Edits the saved Raft state and snapshot in place, together and
    /// atomically, as [`save`](Persister::save) replaces them: nobody sees
    /// the state of one edit with the snapshot of another. For a peer whose
    /// state changes a little at a time (a log grows at its end), editing
    /// costs what changed where saving copies everything.
    ///
    /// `edit` runs with the persister locked: it must only compute.
    pub fn update<R>(&self, edit: impl FnOnce(&mut Vec<u8>, &mut Vec<u8>) -> R) -> R {
        let mut saved = self.saved.lock();
        let Saved {
            raft_state,
            snapshot,
        } = &mut *saved;
        edit(raft_state, snapshot)
    }

    /// A copy of the saved Raft state (empty if none was saved).
    pub fn raft_state(&self) -> Vec<u8> {
        self.saved.lock().raft_state.clone()
    }

    /// The size in bytes of the saved Raft state.
    pub fn raft_state_size(&self) -> usize {
        self.saved.lock().raft_state.len()
    }

    /// A copy of the saved snapshot (empty if none was saved).
    pub fn snapshot(&self) -> Vec<u8> {
        self.saved.lock().snapshot.clone()
    }

    /// The size in bytes of the saved snapshot.
    pub fn snapshot_size(&self) -> usize {
        self.saved.lock().snapshot.len()
    }
}

impl fmt::Debug for Persister {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let saved = self.saved.lock();
        f.debug_struct("Persister")
            .field("raft_state_size", &saved.raft_state.len())
            .field("snapshot_size", &saved.snapshot.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_replaces_both_parts() {
        let p = Persister::new();
        p.save(b"state", b"snap");
        assert_eq!(p.raft_state(), b"state");
        assert_eq!(p.snapshot(), b"snap");
        assert_eq!((p.raft_state_size(), p.snapshot_size()), (5, 4));
        p.save(b"state2", b"");
        assert_eq!(
            p.snapshot_size(),
            0,
            "an empty snapshot replaces the old one"
        );
    }

    #[test]
    fn update_edits_both_parts_in_place() {
        let p = Persister::new();
        p.save(b"state", b"snap");
        p.update(|state, snapshot| {
            state.truncate(3);
            state.extend_from_slice(b"-tail");
            snapshot.clear();
        });
        assert_eq!(p.raft_state(), b"sta-tail");
        assert_eq!(p.snapshot_size(), 0);
    }

    #[test]
    fn a_copy_is_isolated_from_later_writes_to_the_original() {
        let original = Persister::new();
        original.save(b"before", b"snap-before");
        let copy = original.copy();
        original.save(b"after", b"snap-after");
        assert_eq!(copy.raft_state(), b"before");
        assert_eq!(copy.snapshot(), b"snap-before");
        copy.save(b"copy", b"");
        assert_eq!(original.raft_state(), b"after");
    }
}
