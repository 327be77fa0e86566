// handout: omit-file
//! Log replication (§5.3), commitment (§5.4.2) and fast log backup.

use labrpc::rt::time::Instant;

use super::log::Appended;
use super::{
    COMMIT_NOTICE_DELAY, Core, FAST_FAILURE, HEARTBEAT_INTERVAL, Message, Role, event, invariant,
};
use crate::rpc::{AppendEntriesArgs, AppendEntriesReply, AppendOutcome, InstallSnapshotArgs};
use crate::{Index, PeerId};

impl Core {
    /// The leader must be heard from by `peer` now: nothing has been sent to
    /// it for a heartbeat interval (so a busy leader sends no heartbeats), or
    /// a commit is to be announced. Sends a full replication request when
    /// none is in flight (or the one in flight has been out a whole interval
    /// and is probably stuck), else an empty AppendEntries (a heartbeat)
    /// beside it.
    pub(super) fn keep_in_touch(&mut self, peer: PeerId, now: Instant) {
        let Role::Leader { progress } = &mut self.role else {
            return;
        };
        let idle = progress[peer]
            .in_flight
            .is_none_or(|(_, sent)| now.duration_since(sent) >= HEARTBEAT_INTERVAL);
        if idle {
            self.send_replication(peer, now);
        } else {
            progress[peer].heartbeat_due = now + HEARTBEAT_INTERVAL;
            let next_index = progress[peer].next_index.max(self.log.snapshot_index() + 1);
            let args = self.append_args(next_index, false);
            self.effects
                .send
                .push((peer, Message::AppendEntries { args, seq: None }));
        }
    }

    /// Replication to `peer` is wanted (a new entry, a new commit index, a
    /// rejected request): sends a request at once when none is in flight,
    /// else marks one to be sent when the one in flight returns.
    pub(super) fn schedule_replication(&mut self, peer: PeerId, now: Instant) {
        let Role::Leader { progress, .. } = &mut self.role else {
            return;
        };
        if progress[peer].in_flight.is_some() {
            progress[peer].pending = true;
        } else {
            self.send_replication(peer, now);
        }
    }

    fn is_in_flight(&self, peer: PeerId) -> bool {
        match &self.role {
            Role::Leader { progress, .. } => progress[peer].in_flight.is_some(),
            Role::Follower | Role::Candidate { .. } => false,
        }
    }

    /// Sends `peer` everything it lacks from its `next_index` on: entries,
    /// or the snapshot when those entries are gone (§7).
    fn send_replication(&mut self, peer: PeerId, now: Instant) {
        self.next_seq += 1;
        let seq = self.next_seq;
        let Role::Leader { progress, .. } = &mut self.role else {
            return;
        };
        let progress = &mut progress[peer];
        progress.in_flight = Some((seq, now));
        progress.pending = false;
        progress.heartbeat_due = now + HEARTBEAT_INTERVAL;
        let next_index = progress.next_index;
        let message = if next_index <= self.log.snapshot_index() {
            Message::InstallSnapshot {
                args: InstallSnapshotArgs {
                    term: self.current_term,
                    leader_id: self.me,
                    last_included_index: self.log.snapshot_index(),
                    last_included_term: self.log.snapshot_term(),
                    data: self.snapshot.clone(),
                },
                seq,
            }
        } else {
            Message::AppendEntries {
                args: self.append_args(next_index, true),
                seq: Some(seq),
            }
        };
        self.effects.send.push((peer, message));
    }

    /// AppendEntries for a follower whose next entry is `next_index`
    /// (stored, or just past the log).
    fn append_args(&self, next_index: Index, with_entries: bool) -> AppendEntriesArgs {
        let prev_log_index = next_index - 1;
        AppendEntriesArgs {
            term: self.current_term,
            leader_id: self.me,
            prev_log_index,
            prev_log_term: self
                .log
                .term_at(prev_log_index)
                .expect("next_index is past the snapshot, so its predecessor's term is known"),
            entries: if with_entries {
                self.log.entries_from(next_index).to_vec()
            } else {
                Vec::new()
            },
            leader_commit: self.commit_index,
        }
    }

    /// Figure 2, AppendEntries receiver.
    pub(crate) fn handle_append_entries(
        &mut self,
        args: &AppendEntriesArgs,
        now: Instant,
    ) -> AppendEntriesReply {
        self.now = now;
        // Rule 1: reply false if term < currentTerm.
        if args.term < self.current_term {
            return self.append_reply(AppendOutcome::StaleTerm);
        }
        self.observe_term(args.term, now);
        invariant!(
            !self.is_leader(),
            "two leaders in term {} (S{} and S{}): election safety is broken",
            self.current_term,
            self.me,
            args.leader_id
        );
        // §5.2: a candidate that hears from a leader of its term steps down.
        self.become_follower(args.term, now);
        self.reset_election_timer(now);

        let match_index = match self.log.maybe_append(
            args.prev_log_index,
            args.prev_log_term,
            &args.entries,
            self.commit_index,
        ) {
            Appended::Conflict {
                conflict_index,
                conflict_term,
            } => {
                return self.append_reply(AppendOutcome::Conflict {
                    conflict_index,
                    conflict_term,
                });
            }
            Appended::Match {
                match_index,
                written,
            } => {
                if let Some(from) = written {
                    self.effects.persist = true;
                    event!(
                        self,
                        "APND",
                        "appends {from}..={} from S{}",
                        self.log.last_index(),
                        args.leader_id
                    );
                }
                match_index
            }
        };

        // Rule 5: commit up to leaderCommit, but only what is known to
        // match the leader's log.
        let new_commit = args.leader_commit.min(match_index);
        if new_commit > self.commit_index {
            self.commit_index = new_commit;
            self.effects.apply = true;
            event!(self, "CMIT", "commits to {new_commit}");
        }
        self.append_reply(AppendOutcome::Accepted { match_index })
    }

    fn append_reply(&self, outcome: AppendOutcome) -> AppendEntriesReply {
        AppendEntriesReply {
            term: self.current_term,
            outcome,
        }
    }

    /// An AppendEntries reply arrived, or `None` when none will.
    pub(crate) fn handle_append_entries_reply(
        &mut self,
        from: PeerId,
        args: &AppendEntriesArgs,
        seq: Option<u64>,
        reply: Option<&AppendEntriesReply>,
        now: Instant,
    ) {
        let last_index = self.log.last_index();
        let Some((progress, sent)) =
            self.progress_after_reply(from, args.term, seq, reply.map(|r| r.term), now)
        else {
            return;
        };
        let Some(reply) = reply else {
            // A tracked request lost this fast was dropped, not stuck on an
            // unreachable peer: send again now rather than at the next
            // heartbeat.
            if sent.is_some_and(|sent| now.duration_since(sent) < FAST_FAILURE) {
                self.schedule_replication(from, now);
            }
            return;
        };
        match reply.outcome {
            AppendOutcome::StaleTerm => {}
            AppendOutcome::Accepted { match_index } => {
                progress.match_index = progress.match_index.max(match_index);
                progress.next_index = progress.next_index.max(progress.match_index + 1);
                let wanted = progress.pending || progress.next_index <= last_index;
                // A new commit index goes out to every idle follower, this
                // one included, carrying whatever it still lacks.
                self.maybe_commit(now);
                if wanted && !self.is_in_flight(from) {
                    self.send_replication(from, now);
                }
            }
            AppendOutcome::Conflict {
                conflict_index,
                conflict_term,
            } => {
                // Fast backup: past the leader's last entry of the follower's
                // conflicting term if it has that term, else to the first
                // index of that term in the follower's log.
                let next = conflict_term
                    .and_then(|term| self.log.last_index_of_term(term))
                    .map_or(conflict_index, |index| index + 1);
                let Role::Leader { progress, .. } = &mut self.role else {
                    unreachable!("checked above")
                };
                let progress = &mut progress[from];
                progress.next_index = next.clamp(progress.match_index + 1, last_index + 1);
                event!(
                    self,
                    "APND",
                    "S{from} conflicts at {}: next index {next}",
                    args.prev_log_index
                );
                self.schedule_replication(from, now);
            }
        }
    }

    /// Figure 2, rules for leaders: advance the commit index to the highest
    /// index stored on a majority — but §5.4.2: only by counting replicas
    /// of an entry from the current term (Figure 8). Followers hear of the
    /// new commit index within [`COMMIT_NOTICE_DELAY`].
    pub(super) fn maybe_commit(&mut self, now: Instant) -> bool {
        let Role::Leader { progress, .. } = &self.role else {
            return false;
        };
        let mut matched: Vec<Index> = progress
            .iter()
            .enumerate()
            .map(|(peer, p)| {
                if peer == self.me {
                    self.log.last_index()
                } else {
                    p.match_index
                }
            })
            .collect();
        matched.sort_unstable_by(|a, b| b.cmp(a));
        // Stored on matched[0..=peers/2]: a majority.
        let index = matched[self.peers / 2];
        if index <= self.commit_index || self.log.term_at(index) != Some(self.current_term) {
            return false;
        }
        self.commit_index = index;
        self.effects.apply = true;
        event!(self, "CMIT", "commits to {index}");
        let notice = now + COMMIT_NOTICE_DELAY;
        if let Role::Leader { progress } = &mut self.role {
            for (peer, p) in progress.iter_mut().enumerate() {
                if peer != self.me && p.heartbeat_due > notice {
                    p.heartbeat_due = notice;
                }
            }
        }
        self.effects.reschedule = true;
        true
    }
}

#[cfg(test)]
mod tests {
    use crate::core::Message;
    use crate::core::tests::*;
    use crate::rpc::{AppendEntriesArgs, AppendEntriesReply, AppendOutcome};

    fn args(term: u64, prev: (u64, u64), entries: &[u64], commit: u64) -> AppendEntriesArgs {
        AppendEntriesArgs {
            term,
            leader_id: 1,
            prev_log_index: prev.0,
            prev_log_term: prev.1,
            entries: entries.iter().map(|&t| entry(t)).collect(),
            leader_commit: commit,
        }
    }

    /// Figure 2, AppendEntries receiver rule 1.
    #[test]
    fn stale_leaders_are_refused() {
        let mut core = follower(0, 3);
        core.observe_term(3, at(0));
        let reply = core.handle_append_entries(&args(2, (0, 0), &[2], 0), at(1));
        assert_eq!(reply.outcome, AppendOutcome::StaleTerm);
        assert_eq!(reply.term, 3);
        assert_eq!(core.log.last_index(), 0);
    }

    /// Figure 2, AppendEntries receiver rule 2, with the hint for a log that
    /// is too short.
    #[test]
    fn a_missing_prev_entry_is_a_conflict_past_the_end() {
        let mut core = follower(0, 3);
        push_entries(&mut core, &[1]);
        let reply = core.handle_append_entries(&args(2, (5, 2), &[2], 0), at(1));
        assert_eq!(
            reply.outcome,
            AppendOutcome::Conflict {
                conflict_index: 2,
                conflict_term: None
            }
        );
    }

    /// Figure 2, AppendEntries receiver rule 2, with the hint naming the
    /// conflicting term's first index.
    #[test]
    fn a_mismatched_prev_term_names_its_first_index() {
        let mut core = follower(0, 3);
        push_entries(&mut core, &[1, 2, 2, 2]);
        let reply = core.handle_append_entries(&args(3, (4, 3), &[], 0), at(1));
        assert_eq!(
            reply.outcome,
            AppendOutcome::Conflict {
                conflict_index: 2,
                conflict_term: Some(2)
            }
        );
    }

    /// Figure 2, AppendEntries receiver rules 3 and 4: conflicting entries
    /// and all that follow are replaced.
    #[test]
    fn conflicting_entries_are_replaced() {
        let mut core = follower(0, 3);
        push_entries(&mut core, &[1, 1, 1]);
        let reply = core.handle_append_entries(&args(2, (1, 1), &[2], 0), at(1));
        assert_eq!(reply.outcome, AppendOutcome::Accepted { match_index: 2 });
        assert_eq!(core.log.last_index(), 2);
        assert_eq!(core.log.term_at(2), Some(2));
        assert!(core.take_effects().persist);
    }

    /// Rule 3 deletes only on conflict: a delayed, shorter request must not
    /// cut off entries a later one appended.
    #[test]
    fn a_stale_request_does_not_truncate() {
        let mut core = follower(0, 3);
        core.handle_append_entries(&args(1, (0, 0), &[1, 1, 1], 0), at(1));
        let reply = core.handle_append_entries(&args(1, (0, 0), &[1], 0), at(2));
        assert_eq!(reply.outcome, AppendOutcome::Accepted { match_index: 1 });
        assert_eq!(core.log.last_index(), 3);
    }

    /// Figure 2, AppendEntries receiver rule 5: commit to
    /// min(leaderCommit, index of last new entry).
    #[test]
    fn commit_index_follows_the_leader_within_what_matches() {
        let mut core = follower(0, 3);
        core.handle_append_entries(&args(1, (0, 0), &[1, 1], 5), at(1));
        assert_eq!(core.commit_index, 2);
        assert!(core.take_effects().apply);
    }

    /// §5.3: a leader backs up over a conflicting term in one round trip.
    #[test]
    fn fast_backup_skips_a_whole_term() {
        let mut core = leader_with_log(0, 3, &[1, 1, 1, 1]);
        let effects = core.take_effects();
        let Some((_, Message::AppendEntries { args, seq })) =
            effects.send.iter().find(|(to, _)| *to == 1)
        else {
            panic!("a new leader sends peer 1 a heartbeat")
        };
        assert_eq!(args.prev_log_index, 4);
        // The follower has term 3 from index 2 on; the leader has no term 3.
        let reply = AppendEntriesReply {
            term: core.term(),
            outcome: AppendOutcome::Conflict {
                conflict_index: 2,
                conflict_term: Some(3),
            },
        };
        core.handle_append_entries_reply(1, args, *seq, Some(&reply), at(1001));
        let resent = append_requests(&core.take_effects());
        assert_eq!(resent.len(), 1);
        assert_eq!(
            resent[0].prev_log_index, 1,
            "backs up to before the follower's term 3"
        );
        assert_eq!(resent[0].entries.len(), 3);
    }

    /// §5.4.2 (Figure 8): entries from an earlier term are not committed by
    /// counting replicas; a current-term entry commits them with it.
    #[test]
    fn only_current_term_entries_commit_by_counting() {
        let mut core = follower(0, 3);
        push_entries(&mut core, &[1]); // left over from term 1
        core.become_follower(2, at(0));
        core.tick(at(1000)); // term 3
        let vote = vote_requests(&core.take_effects())[0].clone();
        let yes = crate::rpc::RequestVoteReply {
            term: core.term(),
            vote_granted: true,
        };
        core.handle_request_vote_reply(1, &vote, Some(&yes), at(1001));
        assert!(core.is_leader());
        let accepted = |match_index| AppendEntriesReply {
            term: 3,
            outcome: AppendOutcome::Accepted { match_index },
        };
        let heartbeat = args(3, (1, 1), &[], 0);
        core.handle_append_entries_reply(1, &heartbeat, None, Some(&accepted(1)), at(1002));
        assert_eq!(
            core.commit_index, 0,
            "entry 1 is from term 1: not committed by counting"
        );
        core.start(b"x".to_vec(), at(1003));
        core.handle_append_entries_reply(1, &heartbeat, None, Some(&accepted(2)), at(1004));
        assert_eq!(
            core.commit_index, 2,
            "entry 2 is from term 3 and commits entry 1 too"
        );
    }

    /// Replication starts when `start` is called, not at the next heartbeat,
    /// and at most one request with entries is in flight per follower.
    #[test]
    fn start_replicates_at_once_one_request_at_a_time() {
        let mut core = leader(0, 3);
        let heartbeats = core.take_effects();
        assert!(settle(&mut core, heartbeats, at(1001)).send.is_empty());
        core.start(b"a".to_vec(), at(2000));
        let first = core.take_effects();
        assert!(
            first.persist,
            "the new entry must be saved before it is sent"
        );
        assert_eq!(append_requests(&first).len(), 2);
        core.start(b"b".to_vec(), at(2001));
        assert!(
            append_requests(&core.take_effects()).is_empty(),
            "requests are in flight: the new entry waits for their replies"
        );
        // A reply to peer 1 sends it the waiting entry.
        let Some((_, Message::AppendEntries { args, seq })) =
            first.send.iter().find(|(to, _)| *to == 1)
        else {
            panic!("no request to peer 1")
        };
        let reply = AppendEntriesReply {
            term: core.term(),
            outcome: AppendOutcome::Accepted { match_index: 1 },
        };
        core.handle_append_entries_reply(1, args, *seq, Some(&reply), at(2002));
        // Entry 1 is now on a majority: peer 1 gets entry 2 with the new
        // commit index; peer 2's request is still out, so it waits.
        let effects = core.take_effects();
        let sent = append_requests(&effects);
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!((sent[0].prev_log_index, sent[0].entries.len()), (1, 1));
        assert_eq!(sent[0].leader_commit, 1);
    }

    /// At most ten heartbeats a second: an idle leader sends one to each
    /// follower every interval, no more.
    #[test]
    fn an_idle_leader_heartbeats_once_an_interval() {
        let mut core = leader(0, 3);
        let heartbeats = core.take_effects();
        assert!(settle(&mut core, heartbeats, at(1000)).send.is_empty());
        core.tick(at(1099));
        assert!(
            core.take_effects().send.is_empty(),
            "a heartbeat before 100 ms"
        );
        core.tick(at(1100));
        assert_eq!(append_requests(&core.take_effects()).len(), 2);
    }

    /// A follower that was just sent entries needs no heartbeat; it hears
    /// of the commit soon after, without waiting a whole interval.
    #[test]
    fn replication_replaces_heartbeats_and_commits_are_announced_soon() {
        let mut core = leader(0, 3);
        let heartbeats = core.take_effects();
        settle(&mut core, heartbeats, at(1000));
        core.start(b"x".to_vec(), at(1050));
        let sent = core.take_effects();
        let after_replies = settle(&mut core, sent, at(1051));
        assert_eq!(core.commit_index, 1);
        assert!(
            after_replies.send.is_empty(),
            "the commit is not announced at once"
        );
        assert!(
            after_replies.reschedule,
            "the ticker must wake for the notice"
        );
        assert!(core.next_wakeup() <= at(1061));
        core.tick(at(1061));
        let notices = append_requests(&core.take_effects());
        assert_eq!(notices.len(), 2);
        assert!(
            notices
                .iter()
                .all(|a| a.leader_commit == 1 && a.entries.is_empty())
        );
        core.tick(at(1150));
        assert!(
            core.take_effects().send.is_empty(),
            "the notices count as heartbeats: the next is due at 1161"
        );
    }
}
