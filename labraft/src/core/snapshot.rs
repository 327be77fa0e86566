// handout: omit-file
//! Log compaction (§7): snapshots taken by the service, and InstallSnapshot
//! for followers that fell behind the leader's log.

use labrpc::rt::time::Instant;

use super::{Core, event};
use crate::rpc::{InstallSnapshotArgs, InstallSnapshotReply};
use crate::{Index, PeerId};

impl Core {
    /// The service has a snapshot of everything through `index`: drop those
    /// entries and keep the snapshot in their place.
    ///
    /// # Panics
    /// When `index` has not been applied yet: a service can only snapshot
    /// what it has seen.
    pub(crate) fn snapshot(&mut self, index: Index, data: Vec<u8>, now: Instant) {
        self.now = now;
        if index <= self.log.snapshot_index() {
            return; // an older snapshot than the one held
        }
        assert!(
            index <= self.last_applied,
            "S{}: the service snapshotted index {index}, but only entries to {} were applied",
            self.me,
            self.last_applied
        );
        let term = self
            .log
            .term_at(index)
            .expect("applied entries past the snapshot are stored");
        self.log.compact_to(index, term);
        self.set_snapshot(data);
        self.effects.persist = true;
        event!(
            self,
            "SNAP",
            "snapshot to {index} ({} bytes)",
            self.snapshot.len()
        );
    }

    /// InstallSnapshot receiver (Figure 13).
    pub(crate) fn handle_install_snapshot(
        &mut self,
        args: &InstallSnapshotArgs,
        now: Instant,
    ) -> InstallSnapshotReply {
        self.now = now;
        // Rule 1: reply immediately if term < currentTerm.
        if args.term < self.current_term {
            return InstallSnapshotReply {
                term: self.current_term,
            };
        }
        self.observe_term(args.term, now);
        self.become_follower(args.term, now);
        self.reset_election_timer(now);
        // Everything the snapshot holds is committed here already: applying
        // it would move the service backwards.
        if args.last_included_index <= self.commit_index {
            return InstallSnapshotReply {
                term: self.current_term,
            };
        }
        // Rules 6 and 7: keep the entries that follow a matching last
        // included entry, else discard the whole log.
        self.log
            .compact_to(args.last_included_index, args.last_included_term);
        self.set_snapshot(args.data.clone());
        self.commit_index = args.last_included_index;
        self.last_applied = args.last_included_index;
        self.snapshot_pending = true;
        self.effects.persist = true;
        self.effects.apply = true;
        event!(
            self,
            "SNAP",
            "installs S{}'s snapshot to {}",
            args.leader_id,
            args.last_included_index
        );
        InstallSnapshotReply {
            term: self.current_term,
        }
    }

    /// An InstallSnapshot reply arrived, or `None` when none will.
    pub(crate) fn handle_install_snapshot_reply(
        &mut self,
        from: PeerId,
        args: &InstallSnapshotArgs,
        seq: u64,
        reply: Option<&InstallSnapshotReply>,
        now: Instant,
    ) {
        let last_index = self.log.last_index();
        let Some((progress, _)) =
            self.progress_after_reply(from, args.term, Some(seq), reply.map(|r| r.term), now)
        else {
            return;
        };
        if reply.is_none() {
            return; // sent again with the next heartbeat
        }
        progress.match_index = progress.match_index.max(args.last_included_index);
        progress.next_index = progress.next_index.max(progress.match_index + 1);
        if progress.pending || progress.next_index <= last_index {
            self.schedule_replication(from, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ApplyMsg;
    use crate::core::Message;
    use crate::core::tests::*;
    use crate::rpc::InstallSnapshotArgs;

    fn install(term: u64, index: u64, last_term: u64) -> InstallSnapshotArgs {
        InstallSnapshotArgs {
            term,
            leader_id: 1,
            last_included_index: index,
            last_included_term: last_term,
            data: b"snap".to_vec(),
        }
    }

    /// §7: the service's snapshot replaces the log prefix it covers.
    #[test]
    fn snapshot_compacts_applied_entries() {
        let mut core = follower(0, 3);
        push_entries(&mut core, &[1, 1, 1]);
        core.commit_index = 3;
        assert_eq!(core.take_apply_batch().len(), 3);
        core.snapshot(2, b"s".to_vec(), at(1));
        assert_eq!(core.log.snapshot_index(), 2);
        assert_eq!(core.log.last_index(), 3);
        assert!(core.take_effects().persist);
    }

    /// Figure 13, rule 6: entries after a matching last included entry stay.
    #[test]
    fn install_keeps_a_matching_suffix() {
        let mut core = follower(0, 3);
        push_entries(&mut core, &[1, 1, 1, 1]);
        core.handle_install_snapshot(&install(1, 2, 1), at(1));
        assert_eq!(core.log.last_index(), 4);
        assert_eq!(core.commit_index, 2);
        match core.take_apply_batch().as_slice() {
            [
                ApplyMsg::Snapshot {
                    index: 2,
                    term: 1,
                    data,
                },
            ] => assert_eq!(data, b"snap"),
            other => panic!("expected the snapshot first, got {other:?}"),
        }
    }

    /// Figure 13, rule 7: otherwise the log is discarded.
    #[test]
    fn install_discards_a_mismatched_log() {
        let mut core = follower(0, 3);
        push_entries(&mut core, &[1, 1]);
        core.handle_install_snapshot(&install(3, 5, 3), at(1));
        assert_eq!((core.log.last_index(), core.log.last_term()), (5, 3));
    }

    /// A snapshot older than the commit index is ignored: applying it would
    /// take the service back in time.
    #[test]
    fn install_ignores_a_stale_snapshot() {
        let mut core = follower(0, 3);
        push_entries(&mut core, &[1, 1, 1]);
        core.become_follower(1, at(0));
        core.commit_index = 3;
        core.take_effects();
        core.handle_install_snapshot(&install(1, 2, 1), at(1));
        assert_eq!(core.log.snapshot_index(), 0);
        assert!(!core.take_effects().persist);
    }

    /// §7: a leader sends its snapshot to a follower that needs compacted
    /// entries.
    #[test]
    fn a_leader_sends_the_snapshot_to_a_lagging_follower() {
        let mut core = leader(0, 3);
        for _ in 0..3 {
            core.start(b"x".to_vec(), at(2000));
        }
        core.commit_index = 3;
        core.take_apply_batch();
        core.snapshot(3, b"s".to_vec(), at(2001));
        core.take_effects();
        core.tick(at(2500)); // heartbeat: replication to both followers
        let effects = core.take_effects();
        let snapshots = effects
            .send
            .iter()
            .filter(|(_, m)| matches!(m, Message::InstallSnapshot { .. }))
            .count();
        assert_eq!(snapshots, 2);
    }
}
