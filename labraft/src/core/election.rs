// handout: omit-file
//! Leader election (§5.2) and the election restriction (§5.4.1).

use labrpc::rt::time::Instant;

use super::{Core, Message, Progress, Role, event};
use crate::PeerId;
use crate::rpc::{RequestVoteArgs, RequestVoteReply};

impl Core {
    /// Figure 2, rules for followers and candidates: on election timeout,
    /// start an election — a new term, a vote for self, RequestVote to all.
    pub(super) fn become_candidate(&mut self, now: Instant) {
        self.current_term += 1;
        self.voted_for = Some(self.me);
        self.effects.persist = true;
        let mut votes = vec![false; self.peers];
        votes[self.me] = true;
        self.role = Role::Candidate { votes };
        self.reset_election_timer(now);
        event!(self, "VOTE", "election timeout: starts an election");
        if self.is_majority(1) {
            self.become_leader(now);
            return;
        }
        let args = RequestVoteArgs {
            term: self.current_term,
            candidate_id: self.me,
            last_log_index: self.log.last_index(),
            last_log_term: self.log.last_term(),
        };
        for peer in self.others() {
            self.effects
                .send
                .push((peer, Message::RequestVote(args.clone())));
        }
    }

    /// Figure 2, RequestVote receiver.
    pub(crate) fn handle_request_vote(
        &mut self,
        args: &RequestVoteArgs,
        now: Instant,
    ) -> RequestVoteReply {
        self.now = now;
        // Rule 1: reply false if term < currentTerm.
        if args.term < self.current_term {
            return self.vote_reply(false);
        }
        self.observe_term(args.term, now);
        // Rule 2: grant if votedFor is null or candidateId, and the
        // candidate's log is at least as up-to-date as ours (§5.4.1: compare
        // last terms, then lengths).
        let free = self.voted_for.is_none_or(|v| v == args.candidate_id);
        let up_to_date = (args.last_log_term, args.last_log_index)
            >= (self.log.last_term(), self.log.last_index());
        if !(free && up_to_date) {
            event!(
                self,
                "VOTE",
                "denies S{} (voted for {:?}, its log up to date: {up_to_date})",
                args.candidate_id,
                self.voted_for
            );
            return self.vote_reply(false);
        }
        if self.voted_for.is_none() {
            self.voted_for = Some(args.candidate_id);
            self.effects.persist = true;
        }
        // Granting a vote resets the election timer (Figure 2, followers).
        self.reset_election_timer(now);
        event!(self, "VOTE", "votes for S{}", args.candidate_id);
        self.vote_reply(true)
    }

    fn vote_reply(&self, vote_granted: bool) -> RequestVoteReply {
        RequestVoteReply {
            term: self.current_term,
            vote_granted,
        }
    }

    /// A RequestVote reply arrived, or `None` when none will.
    pub(crate) fn handle_request_vote_reply(
        &mut self,
        from: PeerId,
        args: &RequestVoteArgs,
        reply: Option<&RequestVoteReply>,
        now: Instant,
    ) {
        self.now = now;
        let Some(reply) = reply else { return };
        self.observe_term(reply.term, now);
        // Re-check after the round trip: the election may be over.
        if args.term != self.current_term || !reply.vote_granted {
            return;
        }
        let Role::Candidate { votes } = &mut self.role else {
            return;
        };
        votes[from] = true;
        let granted = votes.iter().filter(|&&v| v).count();
        event!(self, "VOTE", "got the vote of S{from} ({granted} votes)");
        if self.is_majority(granted) {
            self.become_leader(now);
        }
    }

    /// Figure 2, rules for candidates: votes from a majority make a leader,
    /// which announces itself with heartbeats at once.
    pub(super) fn become_leader(&mut self, now: Instant) {
        let next_index = self.log.last_index() + 1;
        self.role = Role::Leader {
            progress: vec![
                Progress {
                    next_index,
                    match_index: 0,
                    in_flight: None,
                    pending: false,
                    heartbeat_due: now,
                };
                self.peers
            ],
        };
        event!(self, "LEAD", "becomes leader (log to {})", next_index - 1);
        self.effects.reschedule = true;
        // Announce the leadership at once.
        for peer in self.others() {
            self.keep_in_touch(peer, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::core::tests::*;

    /// §5.2: a follower that hears nothing starts an election in a new term,
    /// voting for itself.
    #[test]
    fn election_timeout_starts_an_election() {
        let mut core = follower(0, 3);
        core.tick(at(1000));
        assert_eq!(core.term(), 1);
        let effects = core.take_effects();
        assert!(effects.persist, "term and vote must be saved before asking");
        assert_eq!(vote_requests(&effects).len(), 2);
    }

    /// §5.2: a timeout is drawn anew each time, within the configured range.
    #[test]
    fn no_election_before_the_timeout() {
        let mut core = follower(0, 3);
        core.tick(at(299));
        assert_eq!(core.term(), 0);
        assert!(core.take_effects().send.is_empty());
    }

    /// Figure 2, RequestVote receiver rule 1: a stale term is refused.
    #[test]
    fn stale_candidates_are_refused() {
        let mut core = follower(0, 3);
        core.observe_term(5, at(0));
        let reply = core.handle_request_vote(&vote_args(1, 4, 0, 0), at(1));
        assert!(!reply.vote_granted);
        assert_eq!(reply.term, 5);
    }

    /// Figure 2, RequestVote receiver rule 2: one vote per term.
    #[test]
    fn one_vote_per_term() {
        let mut core = follower(0, 3);
        assert!(
            core.handle_request_vote(&vote_args(1, 1, 0, 0), at(1))
                .vote_granted
        );
        assert!(core.take_effects().persist, "the vote must be saved");
        assert!(
            !core
                .handle_request_vote(&vote_args(2, 1, 0, 0), at(2))
                .vote_granted
        );
        assert!(
            core.handle_request_vote(&vote_args(1, 1, 0, 0), at(3))
                .vote_granted,
            "a repeated request from the same candidate is granted again"
        );
    }

    /// §5.4.1: a vote goes only to a candidate whose log is at least as
    /// up-to-date: a higher last term wins, then a longer log.
    #[test]
    fn election_restriction() {
        let mut core = follower(0, 3);
        core.become_follower(2, at(0));
        push_entries(&mut core, &[1, 2]);
        // Last term 1 < 2: refused, however long.
        assert!(
            !core
                .handle_request_vote(&vote_args(1, 3, 9, 1), at(1))
                .vote_granted
        );
        // Same last term, shorter log: refused.
        assert!(
            !core
                .handle_request_vote(&vote_args(1, 3, 1, 2), at(1))
                .vote_granted
        );
        // Same last term, as long: granted.
        assert!(
            core.handle_request_vote(&vote_args(1, 3, 2, 2), at(1))
                .vote_granted
        );
    }

    /// Figure 2, rules for all servers: a higher term in a request makes the
    /// receiver a follower of that term, with no vote yet.
    #[test]
    fn a_higher_term_demotes_a_leader() {
        let mut core = leader(0, 3);
        let reply = core.handle_request_vote(&vote_args(1, 7, 0, 0), at(2000));
        assert!(!core.is_leader());
        assert_eq!(core.term(), 7);
        assert!(reply.vote_granted);
    }

    /// §5.2: votes from a majority make a leader, which sends heartbeats at
    /// once; a duplicate vote counts once.
    #[test]
    fn majority_of_votes_makes_a_leader() {
        let mut core = follower(0, 5);
        core.tick(at(1000));
        let effects = core.take_effects();
        let args = vote_requests(&effects)[0].clone();
        let yes = crate::rpc::RequestVoteReply {
            term: 1,
            vote_granted: true,
        };
        core.handle_request_vote_reply(1, &args, Some(&yes), at(1001));
        core.handle_request_vote_reply(1, &args, Some(&yes), at(1001));
        assert!(!core.is_leader(), "two votes of five are not a majority");
        core.handle_request_vote_reply(2, &args, Some(&yes), at(1002));
        assert!(core.is_leader());
        assert_eq!(append_requests(&core.take_effects()).len(), 4);
    }

    /// A vote for an election that is over does not count.
    #[test]
    fn stale_votes_do_not_count() {
        let mut core = follower(0, 3);
        core.tick(at(1000));
        let args = vote_requests(&core.take_effects())[0].clone();
        core.tick(at(3000)); // a second election, term 2
        let yes = crate::rpc::RequestVoteReply {
            term: 1,
            vote_granted: true,
        };
        core.handle_request_vote_reply(1, &args, Some(&yes), at(3001));
        assert!(!core.is_leader());
    }
}
