//! The suite's own Raft tests, beyond the course's: each aims at a bug the
//! course's tests let through (see `mutants/` and the README's "What the
//! suites catch"), and states the bound it checks and where the bound comes
//! from. Named with their part's suffix, so `cargo test 2a` runs them with
//! the course's, and graded like them.

use labrpc::rt::thread;

use tests::raft::{Config, ELECTION_TIMEOUT};
use tests::support::run;

/// With no failures, the leader stays leader and the term stays put.
///
/// Figure 2: a follower becomes a candidate only when it hears nothing
/// from a current leader for an election timeout, and the leader sends
/// heartbeats when idle; the lab's rules set heartbeats at most ten a
/// second and election timeouts well above them. So on a healthy network
/// nobody times out. The course's `initial_election_2a` checks the same but
/// only prints a warning; this test fails, over ten times as long: 10 s.
#[test]
fn steady_leader_2a() {
    run(|| {
        let cfg = Config::new(3, false, false);
        cfg.begin("Test (2A, beyond the course): a steady leader with no failures");
        let leader = cfg.check_one_leader();
        let term = cfg.check_terms().unwrap_or(0);
        for second in 1..=10 {
            thread::sleep(ELECTION_TIMEOUT);
            let now = cfg.check_terms().unwrap_or(0);
            if now != term {
                cfg.fail(format!(
                    "the term went from {term} to {now} within {second} s, with no failure and \
                     a reliable network: someone timed out although the leader (peer {leader}) \
                     was up (a follower must reset its election timer when it hears from the \
                     leader, and heartbeats must come well within the election timeout)"
                ));
            }
        }
        if cfg.check_one_leader() != leader {
            cfg.fail("the leader changed with no failure");
        }
        cfg.end();
    });
}

/// A leader that learns of a higher term from a reply steps down.
///
/// Figure 2, rules for all servers: "If RPC request or response contains
/// term T > currentTerm: set currentTerm = T, convert to follower". Here a
/// follower cut off for a while (its elections fail, its term grows) comes
/// back able to answer the leader but not to reach anyone itself, so the
/// leader can learn its term only from its replies. Heartbeats go out at
/// least every 100 ms (the lab's rules), so within one election timeout
/// (1 s) the leader must have heard a reply and left its term.
#[test]
fn leader_steps_down_on_a_higher_term_in_a_reply_2a() {
    run(|| {
        let servers = 3;
        let cfg = Config::new(servers, false, false);
        cfg.begin("Test (2A, beyond the course): a leader steps down on a higher term in a reply");
        let leader = cfg.check_one_leader();
        let (term, _) = cfg.state(leader).expect("the leader runs");
        let follower = (leader + 1) % servers;

        // Cut off, the follower's elections fail and its term grows.
        cfg.disconnect(follower);
        thread::sleep(2 * ELECTION_TIMEOUT);
        let (cut_off_term, _) = cfg.state(follower).expect("the follower runs");
        if cut_off_term <= term {
            cfg.fail(format!(
                "peer {follower} stayed in term {cut_off_term} for 2 s with nobody to hear from; \
                 it should have started elections"
            ));
        }

        // Now the leader's requests reach it (and its replies come back),
        // but nothing it sends itself does.
        cfg.set_link(leader, follower, true);
        thread::sleep(ELECTION_TIMEOUT);
        let (leader_term, _) = cfg.state(leader).expect("the leader runs");
        if leader_term <= term {
            cfg.fail(format!(
                "peer {leader}, leader in term {term}, is still in term {leader_term} 1 s after \
                 its requests reached peer {follower}, in term {cut_off_term} or later: a reply \
                 carrying a higher term must make it adopt that term and step down (Figure 2)"
            ));
        }

        cfg.connect(follower);
        cfg.check_one_leader();
        cfg.end();
    });
}

/// A vote survives a restart: a peer that voted in a term and restarts must
/// not vote again in that term.
///
/// Figure 2: `votedFor` is persistent state, "updated on stable storage
/// before responding to RPCs"; a voter that forgets it can vote twice in a
/// term and elect two leaders in it (§5.2, election safety). The scenario:
/// peer 2 is down from the start, so the first leader is elected in term 1
/// with the vote of the only other peer up; that voter restarts; then
/// peer 2 comes back in term 0, able to reach the voter but not the
/// leader, and its election timer takes it to term 1, where it asks the
/// voter for its vote. The voter must refuse: it already voted in term 1.
/// The course's persistence tests never ask a restarted peer for a vote in
/// a term it voted in before.
#[test]
fn vote_survives_a_restart_2c() {
    run(|| {
        let servers = 3;
        let late = 2;
        for _attempt in 0..3 {
            let cfg = Config::new(servers, false, false);
            cfg.begin("Test (2C, beyond the course): a vote survives a restart");
            cfg.crash1(late);
            let leader = cfg.check_one_leader();
            let (term, _) = cfg.state(leader).expect("the leader runs");
            if term != 1 {
                // The first election was split (both peers up stood at
                // once), so the late peer's election cannot land in the
                // leader's term: start over.
                continue;
            }
            // The leader needed the other peer's vote to win term 1.
            let voter = (0..servers)
                .find(|&i| i != leader && i != late)
                .expect("three peers");
            cfg.crash1(voter);
            cfg.start1(voter);
            cfg.connect(voter);
            // Back in term 0, the late peer reaches the voter only.
            cfg.start1(late);
            cfg.set_link(late, voter, true);
            cfg.set_link(voter, late, true);
            thread::sleep(2 * ELECTION_TIMEOUT);
            if let Some((1, true)) = cfg.state(late) {
                cfg.fail(format!(
                    "peer {late} was elected in term 1, which peer {leader} won with the vote of \
                     peer {voter}: peer {voter} voted twice in term 1, forgetting across its \
                     restart that it had voted (votedFor must be saved before the vote is sent, \
                     Figure 2)"
                ));
            }
            cfg.check_safety();
            cfg.connect(late);
            cfg.check_one_leader();
            cfg.end();
            return;
        }
        panic!(
            "three groups in a row split their first election; this scenario needs one that did not"
        );
    });
}
