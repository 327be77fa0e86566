//! The suite's own Raft tests, beyond the course's: each aims at a bug the
//! course's tests let through (see `mutants/` and the README's "What the
//! suites catch"), and states the bound it checks and where the bound comes
//! from. Named with their part's suffix, so `cargo test 2a` runs them with
//! the course's, and graded like them.

use labrpc::rt::sync::atomic::{AtomicBool, Ordering};
use labrpc::rt::thread;
use labrpc::rt::time::{Duration, Instant};

use tests::raft::{Applier, Config, ELECTION_TIMEOUT, Retry};
use tests::support::{Net, run};

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
        let cfg = Config::new(3, Net::Reliable, Applier::Plain);
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
        let cfg = Config::new(servers, Net::Reliable, Applier::Plain);
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
/// a term it voted in before. At the end, the whole group agrees on five
/// more entries.
#[test]
fn vote_survives_a_restart_2c() {
    run(|| {
        let servers = 3;
        let late = 2;
        for _attempt in 0..3 {
            let cfg = Config::new(servers, Net::Reliable, Applier::Plain);
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
            // The restarted group still agrees, and its persisters hold
            // what it committed (the harness's check at the end).
            for _ in 0..5 {
                cfg.one(cfg.random_int(), servers, Retry::Resubmit);
            }
            cfg.end();
            return;
        }
        panic!(
            "three groups in a row split their first election; this scenario needs one that did not"
        );
    });
}

/// Figure 8 of the paper, played out step by step: a leader must not commit
/// an entry of an earlier term by counting replicas.
///
/// §5.4.2: "Raft never commits log entries from previous terms by counting
/// replicas"; Figure 8 shows how an entry of an earlier term, once on a
/// majority, can still be overwritten. The course's `figure_8_2c` hopes
/// random crashes reach that state; this test steers five peers there with
/// partitions, as the paper draws it: (a) the leader A, cut off with one
/// follower, logs an entry at index 2 that only they get; (b) the other
/// three elect B, which logs another entry at index 2 while cut off, and
/// crashes; (c) A wins a later term with the two peers that have neither
/// entry, and replicates its old entry to them: now on a majority, but not
/// committed, for no entry of A's new term is; (d) A crashes, B comes back
/// and wins with those two peers (its last term is newer), and overwrites
/// index 2 with its own entry, which commits. Had A counted replicas in (c),
/// peers would have applied two different commands at index 2.
#[test]
fn figure_8_by_hand_2c() {
    run(|| {
        let servers = 5;
        let cfg = Config::new(servers, Net::Reliable, Applier::Plain);
        cfg.begin("Test (2C, beyond the course): Figure 8, step by step");
        cfg.one(cfg.random_int(), servers, Retry::Resubmit);

        // (a) The leader and one follower on one side, the other three on
        // the other; the leader logs an entry only its side gets.
        let a = cfg.check_one_leader();
        let follower = (a + 1) % servers;
        let others: Vec<usize> = (0..servers).filter(|&i| i != a && i != follower).collect();
        for i in 0..servers {
            for j in 0..servers {
                let same_side = [a, follower].contains(&i) == [a, follower].contains(&j);
                cfg.set_link(i, j, same_side);
            }
        }
        if cfg.start(a, 101).is_none() {
            cfg.fail(format!("peer {a} stopped leading with no failure"));
        }
        thread::sleep(ELECTION_TIMEOUT);

        // (b) The other three elect a leader of a newer term, which logs
        // its own entry while cut off, then crashes.
        let b = cfg.check_one_leader();
        if !others.contains(&b) {
            cfg.fail(format!(
                "expected a leader among peers {others:?}, which hold a majority; got peer {b}"
            ));
        }
        cfg.disconnect(b);
        if cfg.start(b, 102).is_none() {
            cfg.fail(format!("peer {b} stopped leading with no failure"));
        }
        thread::sleep(ELECTION_TIMEOUT / 10);
        cfg.crash1(b);

        // (c) The old leader and the two peers with neither entry: only the
        // old leader's log is up to date enough to win, with both votes.
        let rest: Vec<usize> = others.iter().copied().filter(|&i| i != b).collect();
        for i in 0..servers {
            cfg.disconnect(i);
        }
        for &i in [a].iter().chain(&rest) {
            cfg.connect(i);
        }
        let leader = cfg.check_one_leader();
        if leader != a {
            cfg.fail(format!(
                "peer {leader} was elected with peers {a} and {rest:?} up, though peer {a}'s log \
                 is more up to date than its own (§5.4.1)"
            ));
        }
        thread::sleep(ELECTION_TIMEOUT);

        // (d) The old leader crashes; the leader of (b) comes back and wins
        // with the same two peers, overwrites index 2, and commits.
        cfg.crash1(a);
        cfg.start1(b);
        cfg.connect(b);
        let leader = cfg.check_one_leader();
        if leader != b {
            cfg.fail(format!(
                "peer {leader} was elected with peers {b} and {rest:?} up, though peer {b}'s log \
                 ends in a newer term than its own (§5.4.1)"
            ));
        }
        cfg.one(103, 3, Retry::Resubmit);

        // Everyone back: the whole group agrees.
        cfg.start1(a);
        cfg.connect(a);
        cfg.connect(follower);
        cfg.one(104, servers, Retry::Resubmit);
        cfg.end();
    });
}

/// A committed entry outlives its leader's loss right after the commit.
///
/// §5.4.3, Leader Completeness: an entry committed in a term is in the log
/// of every leader of a later term. Right after a commit the followers'
/// copies are least settled (entries just acknowledged, requests still in
/// flight and, on an unreliable network, arriving out of order), so this
/// test cuts the leader off the moment the first peer applies the last of a
/// burst of commands, lets the other two elect a leader and agree on a new
/// command, then reconnects it: the harness checks throughout that no two
/// peers apply different commands at an index. The course cuts leaders off
/// at moments of its own choosing, never right after a commit.
#[test]
fn partition_right_after_a_commit_2b() {
    run(|| {
        let servers = 3;
        let cfg = Config::new(servers, Net::Unreliable, Applier::Plain);
        cfg.begin("Test (2B, beyond the course): the leader cut off right after a commit");
        cfg.one(cfg.random_int(), servers, Retry::Resubmit);
        for _ in 0..10 {
            let leader = cfg.check_one_leader();
            // A burst of commands, so that requests overlap.
            let mut last = None;
            for _ in 0..5 {
                if let Some((index, _)) = cfg.start(leader, cfg.random_int()) {
                    last = Some(index);
                }
            }
            if let Some(index) = last {
                let t0 = Instant::now();
                while cfg.n_committed(index).0 == 0 && t0.elapsed() < 2 * ELECTION_TIMEOUT {
                    thread::sleep(Duration::from_millis(1));
                }
            }
            cfg.disconnect(leader);
            cfg.one(cfg.random_int(), servers - 1, Retry::Resubmit);
            cfg.connect(leader);
        }
        cfg.one(cfg.random_int(), servers, Retry::Resubmit);
        cfg.end();
    });
}

/// A vote granted for an earlier election of a candidate does not count
/// in a later one.
///
/// §5.2: a candidate wins with votes from a majority of the servers "for
/// the same term"; a vote granted for an earlier term says nothing of the
/// current one, and counting it can elect two leaders in a term.
/// `late_votes_do_not_count_2a` makes late votes likely; this test makes
/// one decide an election. Of three peers, B leads; A is cut off but for
/// its requests to V, whose replies the harness holds back; A stands, and
/// the moment V has answered (granting its vote: A's term is new to it),
/// A's later requests are lost too. V's reply to B's next heartbeat makes
/// B step down; B and V elect one of them in a later term, while A, alone,
/// stands again and again. When A is a candidate in the very term another
/// peer leads, the harness lets V's old grant reach it: a correct A ignores
/// it, an A that counts it leads that term beside the other leader, which
/// the harness's watch reports. A round in which A's term and the leader's
/// never meet judges nothing; rounds repeat until they have met three
/// times (at most ten rounds). The course's tests never deliver a vote
/// after its election.
#[test]
fn a_vote_from_an_earlier_election_does_not_count_2a() {
    run(|| {
        let servers = 3;
        let cfg = Config::new(servers, Net::Reliable, Applier::Plain);
        cfg.begin("Test (2A, beyond the course): a vote from an earlier election does not count");
        let mut met = 0;
        for _ in 0..10 {
            if met == 3 {
                break;
            }
            let b = cfg.check_one_leader();
            let (a, v) = ((b + 1) % servers, (b + 2) % servers);
            let (term, _) = cfg.state(b).expect("the leader runs");
            // A reaches V only, and V's replies to it wait; B's heartbeats
            // still reach V, so that V does not stand itself.
            cfg.hold_replies(a, v, true);
            for from in 0..servers {
                for to in 0..servers {
                    cfg.set_link(from, to, (from, to) == (a, v) || from != a && to != a);
                }
            }
            // A stands; its RequestVote takes V to A's new term, and V
            // grants it (A's log is as long as anyone's). From then on A's
            // requests are lost.
            cfg.wait_until(
                "the cut-off peer's RequestVote reaching the other follower",
                || cfg.state(v).is_some_and(|(t, _)| t > term),
            );
            cfg.block_requests(a, v, true);
            let (granted_term, _) = cfg.state(v).expect("peer V runs");
            // V's answer to B's next heartbeat makes B step down; B and V
            // elect a leader, while A stands alone, until A's term is one
            // that B or V leads, or has passed it.
            let t0 = Instant::now();
            let mut aligned = false;
            while t0.elapsed() < ELECTION_TIMEOUT * 5 {
                let (term, _) = cfg.state(a).expect("peer A runs");
                let led = [b, v]
                    .into_iter()
                    .filter_map(|i| cfg.state(i))
                    .find(|&(_, leads)| leads)
                    .map(|(t, _)| t);
                if let Some(led) = led
                    && led > granted_term
                {
                    aligned = term == led;
                    break;
                }
                thread::sleep(Duration::from_millis(1));
            }
            // V's grant for term `granted_term` reaches A.
            cfg.hold_replies(a, v, false);
            thread::sleep(ELECTION_TIMEOUT / 5);
            cfg.check_safety();
            if aligned {
                met += 1;
            }
            cfg.block_requests(a, v, false);
            for i in 0..servers {
                cfg.connect(i);
            }
        }
        println!("  ... A's term and the leader's met in {met} round(s)");
        cfg.one(cfg.random_int(), servers, Retry::Resubmit);
        cfg.end();
    });
}

/// Votes that come back after their election is over do not count.
///
/// §5.2: a candidate wins with votes from a majority "for the same term";
/// a vote granted for an earlier election says nothing about the current
/// one, and counting it can elect two leaders in one term. In this test the
/// three peers form a star: the two outer ones reach only the one in the
/// middle, so neither can keep the other from standing, and elections
/// follow one another, each won with the middle peer's vote; meanwhile most
/// replies are held back 200–2200 ms (the course's long reordering, which
/// only `figure_8_unreliable_2c` turns on), so votes come back after their
/// candidates have stood again. The harness watches for two leaders in a
/// term. Then all links are up, replies flow as usual, and one leader must
/// emerge within the usual 5 s.
#[test]
fn late_votes_do_not_count_2a() {
    run(|| {
        let servers = 3;
        let cfg = Config::new(servers, Net::Reliable, Applier::Plain);
        cfg.begin("Test (2A, beyond the course): elections with late votes");
        cfg.set_long_reordering(true);
        for round in 0..4 {
            let middle = round % servers;
            for i in 0..servers {
                for j in 0..servers {
                    cfg.set_link(i, j, i == middle || j == middle);
                }
            }
            thread::sleep(3 * ELECTION_TIMEOUT);
            cfg.check_safety();
        }
        cfg.set_long_reordering(false);
        for i in 0..servers {
            cfg.connect(i);
        }
        cfg.check_one_leader();
        cfg.end();
    });
}

/// Snapshots installed while the leader is busy, with requests arriving
/// late: a follower's service never goes back in time, and sees its
/// commands in order.
///
/// Figure 13 and the 2D rules: a follower installs a snapshot only if it
/// holds more than the follower has; Raft hands the service a snapshot or
/// commands, in index order, never a snapshot older than what the service
/// has applied. Here a stream of commands keeps the leader busy (it
/// snapshots every ten entries) while followers fall behind and catch up
/// by InstallSnapshot, and a third of requests are held back 200–2200 ms,
/// so an old InstallSnapshot can arrive after the entries that followed it.
/// The harness checks each peer's apply order, that no snapshot is older
/// than what its peer applied (beyond the course's checks), and agreement.
/// The course never delivers a request more than 27 ms late, nor installs
/// snapshots under a stream of commands.
#[test]
fn snapshots_under_load_with_late_requests_2d() {
    run(|| {
        let servers = 3;
        let cfg = Config::new(servers, Net::Reliable, Applier::Snapshot);
        cfg.begin("Test (2D, beyond the course): snapshots under load, requests late");
        cfg.one(cfg.random_int(), servers, Retry::Resubmit);
        cfg.set_late_requests(true);
        let done = AtomicBool::new(false);
        thread::scope(|s| {
            // The stream of commands: one every 5 ms to whoever leads.
            s.spawn(|| {
                while !done.load(Ordering::SeqCst) {
                    for i in 0..servers {
                        if cfg.start(i, cfg.random_int()).is_some() {
                            break;
                        }
                    }
                    thread::sleep(Duration::from_millis(5));
                }
            });
            for round in 0..6 {
                let behind = (round + 1) % servers;
                cfg.disconnect(behind);
                thread::sleep(ELECTION_TIMEOUT / 2);
                cfg.connect(behind);
                thread::sleep(ELECTION_TIMEOUT);
                cfg.check_safety();
            }
            done.store(true, Ordering::SeqCst);
        });
        cfg.set_late_requests(false);
        cfg.one(cfg.random_int(), servers, Retry::Resubmit);
        cfg.end();
    });
}

/// A snapshot arrives while the follower's service is busy: the service
/// sees the commands Raft was already handing it, in order, then the
/// snapshot, never the snapshot in the middle of them.
///
/// The 2D rules: Raft hands its service commands and snapshots on one
/// channel, in index order. A follower that installs a snapshot while its
/// applier is partway through a batch of commands must let that batch
/// finish first; an InstallSnapshot handler that sends the snapshot on the
/// channel itself races the batch. Here a follower's service stops reading
/// (the harness holds its applier) just as the follower learns of twenty
/// committed entries, so its applier blocks mid-batch; cut off, it misses
/// thirty more, which the others snapshot; back, it gets an
/// InstallSnapshot. Then its service reads again. The course's appliers
/// read at once, so the window never opens there.
#[test]
fn install_snapshot_while_the_service_is_busy_2d() {
    run(|| {
        let servers = 3;
        let cfg = Config::new(servers, Net::Reliable, Applier::Snapshot);
        cfg.begin("Test (2D, beyond the course): InstallSnapshot while the service is busy");
        cfg.one(cfg.random_int(), servers, Retry::Resubmit);
        let busy = (cfg.check_one_leader() + 1) % servers;

        // Twenty entries the follower receives, with their commitment, all
        // at once when it comes back, while its service is not reading.
        cfg.disconnect(busy);
        for _ in 0..20 {
            cfg.one(cfg.random_int(), servers - 1, Retry::Resubmit);
        }
        cfg.hold_applier(busy, true);
        cfg.connect(busy);
        thread::sleep(ELECTION_TIMEOUT);

        // Thirty more it misses, which the others snapshot; back again, it
        // is sent their snapshot.
        cfg.disconnect(busy);
        for _ in 0..30 {
            cfg.one(cfg.random_int(), servers - 1, Retry::Resubmit);
        }
        cfg.connect(busy);
        thread::sleep(ELECTION_TIMEOUT);

        // The service reads again, and must catch up in order.
        cfg.hold_applier(busy, false);
        cfg.one(cfg.random_int(), servers, Retry::Resubmit);
        cfg.end();
    });
}

/// A peer that grants its vote waits a whole election timeout before it
/// stands itself.
///
/// Figure 2, rules for followers: "If election timeout elapses without
/// receiving AppendEntries RPC from current leader or granting vote to
/// candidate: convert to candidate". Granting a vote restarts the timer, as
/// a heartbeat does. The lab allows at most ten heartbeats a second, so they
/// are at least 100 ms apart, and an election timeout must be longer than
/// that, or followers would stand between heartbeats (`steady_leader_2a`):
/// so no peer stands within 100 ms of granting a vote. A voter that keeps
/// its old timer stands when that runs out, often just after it voted, and
/// unseats the leader it has just elected. Here the leader of three peers
/// is cut off; of the two left, one stands and the other votes for it; the
/// moment the vote is on its way the harness cuts the new leader's link to
/// the voter, so no heartbeat restarts the voter's timer, and times how
/// long the voter waits before it stands. A round counts only if the
/// candidate did win (so the voter granted its vote), and fails if the
/// voter stood within 80 ms of its reply (100 ms, less 20 for the harness's
/// own reactions in real time). Twelve rounds.
#[test]
fn a_vote_restarts_the_election_timer_2a() {
    run(|| {
        const BOUND: Duration = Duration::from_millis(80);
        let servers = 3;
        let cfg = Config::new(servers, Net::Reliable, Applier::Plain);
        cfg.begin("Test (2A, beyond the course): granting a vote restarts the election timer");
        let mut waits = Vec::new();
        for round in 1..=12 {
            let leader = cfg.check_one_leader();
            cfg.disconnect(leader);
            let replies = cfg.watch_replies();
            // The first reply either peer left sends is its answer to the
            // other's RequestVote: nobody else can reach them.
            let (voter, voted_at) = loop {
                let Ok(replied) = replies.recv_timeout(ELECTION_TIMEOUT * 5) else {
                    cfg.fail(format!(
                        "round {round}: no peer answered anyone within 5 s of the leader \
                         (peer {leader}) being cut off"
                    ));
                };
                if let Some(peer) = (0..servers)
                    .find(|&i| i != leader && replied.server == tests::cluster::server_name(i))
                {
                    break (peer, Instant::now());
                }
            };
            let candidate = (0..servers)
                .find(|&i| i != leader && i != voter)
                .expect("three peers");
            cfg.set_link(candidate, voter, false);
            // Watch until the voter stands (its term passes the one the
            // candidate won), for at most 5 s.
            let mut won = None;
            let mut stood = None;
            while voted_at.elapsed() < ELECTION_TIMEOUT * 5 {
                if let Some((term, true)) = cfg.state(candidate) {
                    won.get_or_insert(term);
                }
                if let (Some(won), Some((term, _))) = (won, cfg.state(voter))
                    && term > won
                {
                    stood = Some(voted_at.elapsed());
                    break;
                }
                thread::sleep(Duration::from_millis(1));
            }
            if let Some(after) = stood {
                waits.push(after);
                if after < BOUND {
                    cfg.fail(format!(
                        "round {round}: peer {voter} voted for peer {candidate}, which won, then \
                         stood itself {} ms later, having heard nothing since; granting a vote \
                         must restart the election timer (Figure 2), and an election timeout \
                         is longer than the 100 ms between heartbeats",
                        after.as_millis()
                    ));
                }
            }
            cfg.set_link(candidate, voter, true);
            cfg.connect(leader);
        }
        let shortest = waits.iter().min().map_or(0, Duration::as_millis);
        println!(
            "  ... {} of 12 rounds timed; the shortest wait was {shortest} ms",
            waits.len()
        );
        cfg.check_one_leader();
        cfg.end();
    });
}

/// A leader does not count a reply to a request it sent in an earlier term
/// of its own.
///
/// Figure 2 and §5.3: the leader tracks `matchIndex` for its current term,
/// and commits an entry of that term once a majority holds it. A success
/// reply to an AppendEntries of an earlier term speaks of the log as the
/// leader had it then; if another leader has since rewritten those indices,
/// counting it makes the leader believe a follower holds entries it never
/// received, and commit them on a minority. Here (five peers) the leader L
/// of a term sends entries 2–4 to F alone, whose replies the harness holds
/// back (`Config::hold_replies`). The three others elect a leader X, which
/// commits another entry at index 2 and rewrites L's log with it. L, no
/// longer hearing X, wins a later term and appends an entry at index 3,
/// which H takes and F refuses (its log differs at 2):
/// two of five hold it, so it must not be committed. Then the link from L
/// to F fails one way (`Config::block_requests`): F's held replies, the
/// old term's among them, arrive, and F hears nothing more. Last, F, G and
/// I, which never had L's entry at 3, commit a command there: if L
/// committed its own, the two disagree. The course's tests never deliver a
/// reply from an earlier term of a peer that leads again.
#[test]
fn a_reply_from_an_earlier_term_does_not_count_2c() {
    run(|| {
        let servers = 5;
        let cfg = Config::new(servers, Net::Reliable, Applier::Plain);
        cfg.begin("Test (2C, beyond the course): a reply from an earlier term does not count");
        cfg.one(cfg.random_int(), servers, Retry::Resubmit);
        let l = cfg.check_one_leader();
        let [f, g, h, i] = [1, 2, 3, 4].map(|k| (l + k) % servers);
        // Exactly these one-way links up.
        let only = |links: &[(usize, usize)]| {
            for from in 0..servers {
                for to in (0..servers).filter(|&to| to != from) {
                    cfg.set_link(from, to, links.contains(&(from, to)));
                }
            }
        };
        let among = |peers: &[usize]| -> Vec<(usize, usize)> {
            peers
                .iter()
                .flat_map(|&a| peers.iter().filter(move |&&b| b != a).map(move |&b| (a, b)))
                .collect()
        };
        // The peer of `peers` that leads a term after `after`.
        let leader_among = |peers: &[usize], after: u64| {
            let t0 = Instant::now();
            loop {
                let leader = peers.iter().copied().find(|&p| {
                    cfg.state(p)
                        .is_some_and(|(term, leads)| leads && term > after)
                });
                if let Some(p) = leader {
                    return p;
                }
                if t0.elapsed() > ELECTION_TIMEOUT * 5 {
                    cfg.fail(format!("none of peers {peers:?} was elected within 5 s"));
                }
                thread::sleep(Duration::from_millis(10));
            }
        };
        let term_of = |p: usize| cfg.state(p).map_or(0, |(term, _)| term);

        // L sends entries 2-4 to F alone; F's replies are held.
        cfg.hold_replies(l, f, true);
        let mut links = vec![(l, f), (f, l)];
        links.extend(among(&[g, h, i]));
        only(&links);
        for index in 2..=4 {
            start_at(&cfg, l, index);
        }
        thread::sleep(ELECTION_TIMEOUT / 2);

        // G, H and I elect X, which commits another entry at 2 and rewrites
        // L's log with it.
        let x = leader_among(&[g, h, i], term_of(l));
        start_at(&cfg, x, 2);
        cfg.wait_until("G, H and I committing index 2", || {
            cfg.n_committed(2).0 >= 3
        });
        links.push((x, l));
        only(&links);
        cfg.wait_until("L taking X's entry at index 2", || {
            cfg.n_committed(2).0 >= 4
        });

        // X's heartbeats no longer reach L, which stands and wins a later
        // term; its entry at 3 reaches H, and F, which refuses it.
        let mut links = vec![(l, f), (l, g), (l, h), (l, i)];
        links.extend(among(&[g, h, i]));
        only(&links);
        leader_among(&[l], term_of(x));
        only(&[(l, f), (l, h)]);
        start_at(&cfg, l, 3);
        thread::sleep(ELECTION_TIMEOUT / 2);

        // F hears nothing more from L; its held replies arrive.
        cfg.block_requests(l, f, true);
        cfg.hold_replies(l, f, false);
        thread::sleep(ELECTION_TIMEOUT / 2);

        // F, G and I commit a command at 3 without L and H.
        only(&among(&[f, g, i]));
        let y = leader_among(&[f, g, i], term_of(l).max(term_of(x)));
        start_at(&cfg, y, 3);
        cfg.wait_until("F, G and I committing index 3", || {
            cfg.n_committed(3).0 >= 3
        });

        cfg.block_requests(l, f, false);
        for p in 0..servers {
            cfg.connect(p);
        }
        cfg.one(cfg.random_int(), servers, Retry::Resubmit);
        cfg.end();
    });
}

/// A follower that installs a snapshot keeps the entries that follow it.
///
/// Figure 13, InstallSnapshot receiver, step 6: "If existing log entry has
/// same index and term as snapshot's last included entry, retain log
/// entries following it". Those entries may be what made the leader commit
/// them: a follower that drops them loses committed commands. Here the
/// leader L of three peers sends entries 2–9 to F and G, then 10–12 to F
/// alone, and hears nothing back yet (the harness holds their replies;
/// G, which hears nothing more, is kept from disturbing anyone). G's
/// replies arrive: L commits 2–9 and its service snapshots at 9. F,
/// whose commit index is still 1, is sent that snapshot and installs it
/// while holding 10–12. Then F hears nothing more from L (the link fails
/// one way), and its replies arrive: L counts F's acknowledgement of 12 and
/// commits 10–12 on the two of them. Last L is cut off; F and G must elect
/// a leader that holds 10–12, since they are committed. The course's tests
/// never deliver a snapshot to a follower that holds entries beyond it.
#[test]
fn a_snapshot_keeps_the_entries_after_it_2d() {
    run(|| {
        let servers = 3;
        let cfg = Config::new(servers, Net::Reliable, Applier::Snapshot);
        cfg.begin("Test (2D, beyond the course): a snapshot keeps the entries after it");
        cfg.one(cfg.random_int(), servers, Retry::Resubmit);
        let l = cfg.check_one_leader();
        let (f, g) = ((l + 1) % servers, (l + 2) % servers);

        // Entries 2-9 to F and G, 10-12 to F alone; no replies yet.
        cfg.hold_replies(l, f, true);
        cfg.hold_replies(l, g, true);
        for index in 2..=9 {
            start_at(&cfg, l, index);
        }
        thread::sleep(ELECTION_TIMEOUT / 3);
        // G hears nothing more from L (and, not hearing from L, it will
        // stand, but cannot reach anyone).
        cfg.block_requests(l, g, true);
        cfg.set_link(g, l, false);
        cfg.set_link(g, f, false);
        for index in 10..=12 {
            start_at(&cfg, l, index);
        }
        thread::sleep(ELECTION_TIMEOUT / 3);
        cfg.block_requests(l, f, true);

        // G's replies: L commits 2-9, and snapshots at 9.
        cfg.hold_replies(l, g, false);
        cfg.wait_until("the leader applying index 9", || cfg.n_committed(9).0 >= 1);
        thread::sleep(ELECTION_TIMEOUT / 10);
        // F is sent the snapshot.
        cfg.block_requests(l, f, false);
        thread::sleep(ELECTION_TIMEOUT / 3);

        // F hears nothing more; its replies arrive: L commits 10-12.
        cfg.block_requests(l, f, true);
        cfg.hold_replies(l, f, false);
        cfg.wait_until("the leader applying index 12", || {
            cfg.n_committed(12).0 >= 1
        });

        // Without L, F and G go on from what was committed.
        cfg.disconnect(l);
        cfg.block_requests(l, f, false);
        cfg.block_requests(l, g, false);
        cfg.connect(g);
        cfg.one(cfg.random_int(), servers - 1, Retry::Resubmit);
        cfg.connect(l);
        cfg.one(cfg.random_int(), servers, Retry::Resubmit);
        cfg.end();
    });
}

/// An entry a follower acknowledged survives the follower's crash right
/// after its reply.
///
/// Figure 2: persistent state is "updated on stable storage before
/// responding to RPCs". A leader commits an entry once a majority holds it
/// (§5.3), counting each success reply as a copy on that follower's stable
/// storage; a follower that saves later (on a timer, with its next
/// heartbeat) and crashes in between comes back without an entry that was
/// committed on its word, and a new leader can write another command at its
/// index. The course's tests crash peers at random moments, so they see
/// this only when a crash falls in the gap (about once in 200 runs of the
/// churn tests); `vote_survives_a_restart_2c` crashes its voter 450 ms or
/// more after the vote. Here, of three peers, the leader L is cut off from
/// G and submits a command, and the harness crashes the follower F the
/// moment the network announces a reply from it (`Config::watch_replies`):
/// the reply is on its way and L commits on it, F's disk is what F had
/// saved when it answered. Then L crashes for good, F restarts, and F and G
/// must commit the same command at that index as L did: G never had it, so
/// F must still hold it. A round judges something only when the reply was
/// the acknowledgement of the command (L committed it); rounds repeat until
/// three have (at most ten), and the test prints how many did.
#[test]
fn an_acknowledged_entry_survives_a_crash_2c() {
    run(|| {
        let servers = 3;
        let cfg = Config::new(servers, Net::Reliable, Applier::Plain);
        cfg.begin(
            "Test (2C, beyond the course): an acknowledged entry survives a crash right after \
             the reply",
        );
        cfg.one(cfg.random_int(), servers, Retry::Resubmit);
        let (mut judged, mut rounds) = (0, 0);
        while judged < 3 && rounds < 10 {
            rounds += 1;
            let leader = cfg.check_one_leader();
            let others: Vec<usize> = (0..servers).filter(|&i| i != leader).collect();
            let (follower, cut_off) = (others[0], others[1]);
            cfg.disconnect(cut_off);
            let replies = cfg.watch_replies();
            let Some((index, _)) = cfg.start(leader, cfg.random_int()) else {
                // The leader lost its term meanwhile: try again.
                cfg.connect(cut_off);
                continue;
            };
            // F's next reply: to the AppendEntries that carries the
            // command, unless a heartbeat's was on its way already.
            let deadline = Instant::now() + ELECTION_TIMEOUT;
            loop {
                let Ok(replied) = replies.recv_timeout(deadline - Instant::now()) else {
                    cfg.fail(format!(
                        "round {rounds}: peer {follower} answered nothing within 1 s of its \
                         leader (peer {leader}) taking a command"
                    ));
                };
                if replied.server == tests::cluster::server_name(follower) {
                    break;
                }
            }
            cfg.crash1(follower);
            let committed = (0..50).any(|_| {
                thread::sleep(Duration::from_millis(20));
                cfg.n_committed(index).0 > 0
            });
            if committed {
                judged += 1;
                // L is gone for good; G never had the command, so only F's
                // disk still holds it.
                cfg.crash1(leader);
                cfg.start1(follower);
                cfg.connect(follower);
                cfg.connect(cut_off);
                cfg.one(cfg.random_int(), servers - 1, Retry::Resubmit);
                // The agreement check compares what F and G apply at `index`
                // with what L applied there; both must have applied it.
                cfg.wait(index, servers - 1, None);
                cfg.start1(leader);
                cfg.connect(leader);
            } else {
                cfg.start1(follower);
                cfg.connect(follower);
                cfg.connect(cut_off);
            }
            cfg.one(cfg.random_int(), servers, Retry::Resubmit);
        }
        println!(
            "  ... {judged} of {rounds} rounds crashed the follower right after it acknowledged the command"
        );
        cfg.end();
    });
}

/// A follower refuses an InstallSnapshot older than what it has committed,
/// even when the snapshot is newer than its own.
///
/// Figure 13 installs a snapshot only when it holds something the follower
/// lacks, and since 2022 Raft must never hand its service a snapshot older
/// than what the service has been handed already (the harness checks it,
/// beyond the course): everything up to the commit index is on its way to
/// the service, so a snapshot at or below the commit index must be
/// ignored. A follower that compares the snapshot with its own last
/// snapshot instead accepts one that falls between the two, and its
/// service goes back in time. The course's tests never open that window:
/// every service snapshots at the same indices (each tenth), so a follower
/// that has committed past the leader's snapshot has nearly always
/// snapshotted there itself. Here the window is opened on purpose. Of three
/// peers, the leader L's service and the follower F's service are held
/// (they read nothing), and F is cut off while L and G commit entries 2–12
/// (briefly, so that F stays a follower).
/// F comes back: L sends it 2–12 with commit index 12, F's Raft commits
/// them and starts handing them to its held service, and F's replies are
/// held, so L still thinks F needs entry 2. Then L's service reads, and
/// snapshots at index 9; L's next request to F is that snapshot, older than
/// F's commit index (12) and newer than F's own snapshot (none). F must
/// refuse it: when its service reads again, it applies 2–12 and must not
/// then be handed a snapshot through 9.
#[test]
fn a_snapshot_older_than_the_commit_index_is_refused_2d() {
    run(|| {
        let servers = 3;
        let cfg = Config::new(servers, Net::Reliable, Applier::Snapshot);
        cfg.begin(
            "Test (2D, beyond the course): a snapshot older than the commit index is refused",
        );
        let first = cfg.one(cfg.random_int(), servers, Retry::Resubmit);
        let l = cfg.check_one_leader();
        let f = (l + 1) % servers;

        // L and G commit 2-12; L's service does not see them yet. Quickly:
        // F must not stand for election meanwhile.
        cfg.disconnect(f);
        cfg.hold_applier(l, true);
        let last = first + 11;
        for index in first + 1..=last {
            start_at(&cfg, l, index);
        }
        let g = (l + 2) % servers;
        cfg.wait_until(&format!("peer {g} applying entry {last}"), || {
            cfg.n_committed(last).0 >= 1
        });

        // F gets them all, and their commitment, in one request; its
        // service is held and its replies are too.
        cfg.hold_applier(f, true);
        cfg.hold_replies(l, f, true);
        cfg.connect(f);
        thread::sleep(ELECTION_TIMEOUT / 4);

        // L's service reads and snapshots at 9; L sends F that snapshot.
        cfg.hold_applier(l, false);
        cfg.wait_until("the leader applying every entry", || {
            cfg.n_committed(last).0 >= 2
        });
        thread::sleep(ELECTION_TIMEOUT / 4);

        // F's service reads again: 2-12 in order, and no snapshot after.
        cfg.hold_applier(f, false);
        cfg.hold_replies(l, f, false);
        cfg.one(cfg.random_int(), servers, Retry::Resubmit);
        cfg.end();
    });
}

/// A success reply vouches only for the entries its request checked.
///
/// Figure 2: a follower that accepts an AppendEntries knows that its log
/// matches the leader's through the request's last entry (`prevLogIndex`
/// plus the entries sent), nothing more; entries it holds beyond them may
/// be stale ones from an earlier term. A follower that reports its own last
/// index instead vouches for those, and a leader that believes it counts a
/// replica it does not have: it commits on a false majority (§5.3), and a
/// later leader overwrites the entry. The course's tests do not steer a
/// follower with a stale suffix into answering a leader that then writes
/// other entries at those indices, and let such a follower through (with a
/// leader that backs `nextIndex` up to the follower's hint, 50 seeds of
/// each 2B and 2C test pass). Here, of five peers: the leader A, cut
/// off with one follower F, logs three entries only F gets; the other three
/// elect B. A is cut off, and B's heartbeat reaches F (which matches it up
/// to the last shared entry) while F's replies to B are held.
/// B then writes three entries of its own at the same indices, on itself
/// and one more peer C only, and F's held replies reach it: two copies of
/// five, so B must not commit them. Then A, F and the fifth peer D go on
/// without B and C: they commit A's entries at those indices, and the
/// harness checks that no peer applied anything else there.
#[test]
fn a_success_reply_vouches_only_for_what_the_request_checked_2b() {
    run(|| {
        let servers = 5;
        let cfg = Config::new(servers, Net::Reliable, Applier::Plain);
        cfg.begin(
            "Test (2B, beyond the course): a success reply vouches only for what was checked",
        );
        let shared = cfg.one(cfg.random_int(), servers, Retry::Resubmit);
        let a = cfg.check_one_leader();
        let f = (a + 1) % servers;
        let others: Vec<usize> = (0..servers).filter(|&i| i != a && i != f).collect();

        // A and F on one side, the others on the other: three entries only
        // F gets, which the others then elect B without.
        for i in 0..servers {
            for j in 0..servers {
                cfg.set_link(i, j, [a, f].contains(&i) == [a, f].contains(&j));
            }
        }
        for index in shared + 1..=shared + 3 {
            start_at(&cfg, a, index);
        }
        cfg.wait_until("the three peers apart from the leader electing one", || {
            others
                .iter()
                .any(|&i| matches!(cfg.state(i), Some((_, true))))
        });
        let b = *others
            .iter()
            .find(|&&i| matches!(cfg.state(i), Some((_, true))))
            .expect("one leads");
        let (c, d) = {
            let rest: Vec<usize> = others.iter().copied().filter(|&i| i != b).collect();
            (rest[0], rest[1])
        };

        // A leaves; B reaches F, whose replies are held.
        cfg.disconnect(a);
        cfg.hold_replies(b, f, true);
        cfg.set_link(b, f, true);
        thread::sleep(ELECTION_TIMEOUT / 4);
        cfg.block_requests(b, f, true);

        // B writes its own three entries on B and C; then F's replies come.
        cfg.disconnect(d);
        for index in shared + 1..=shared + 3 {
            start_at(&cfg, b, index);
        }
        thread::sleep(ELECTION_TIMEOUT / 5);
        cfg.hold_replies(b, f, false);
        thread::sleep(ELECTION_TIMEOUT / 5);

        // A, F and D go on without B and C: A's entries are the ones
        // committed at those indices.
        for i in 0..servers {
            cfg.disconnect(i);
        }
        cfg.block_requests(b, f, false);
        for i in [a, f, d] {
            cfg.connect(i);
        }
        cfg.one(cfg.random_int(), servers - 2, Retry::Resubmit);
        cfg.wait(shared + 3, servers - 2, None);
        for i in [b, c] {
            cfg.connect(i);
        }
        cfg.one(cfg.random_int(), servers, Retry::Resubmit);
        cfg.end();
    });
}

/// A restarted peer takes nothing for committed: it learns its commit
/// index from a leader.
///
/// Figure 2: `commitIndex` and `lastApplied` are volatile state,
/// "initialized to 0" (to the snapshot's last index, with one, §7): what a
/// peer saved may hold entries that never commit, and another leader may
/// have written other entries at their indices since. A peer that restarts
/// believing its whole saved log committed applies those, and its service
/// sees commands the group never chose. The course's tests see it only when
/// their churn happens to restart a peer that holds an uncommitted suffix
/// (`unreliable_churn_2c` caught the planted bug at the eighth seed, and
/// later at the twentieth). Here, of three peers, the leader L is cut off
/// and logs three commands only it has; the other two commit three others
/// at the same indices; L restarts, still cut off, and waits an election
/// timeout, then rejoins and the group agrees on one more entry. The
/// appliers' check judges: every command a peer applies at an index must
/// be the one the others applied there, so L may apply nothing past the
/// first entry until the new leader tells it what is committed.
#[test]
fn a_restarted_peer_takes_nothing_for_committed_2c() {
    run(|| {
        let servers = 3;
        let cfg = Config::new(servers, Net::Reliable, Applier::Plain);
        cfg.begin("Test (2C, beyond the course): a restarted peer takes nothing for committed");
        let first = cfg.one(cfg.random_int(), servers, Retry::Resubmit);
        let leader = cfg.check_one_leader();

        // L logs three commands alone; the others commit three of theirs.
        cfg.disconnect(leader);
        for index in first + 1..=first + 3 {
            start_at(&cfg, leader, index);
        }
        for _ in 0..3 {
            cfg.one(cfg.random_int(), servers - 1, Retry::Resubmit);
        }

        // L restarts alone, with its three in its saved log.
        cfg.crash1(leader);
        cfg.start1(leader);
        thread::sleep(ELECTION_TIMEOUT);

        cfg.connect(leader);
        cfg.one(cfg.random_int(), servers, Retry::Resubmit);
        cfg.end();
    });
}

/// Submits a fresh command to peer `peer`, which must place it at index
/// `expected`: the scenario has steered the logs there, and a test that
/// goes on from anywhere else would check nothing.
fn start_at(cfg: &Config, peer: usize, expected: u64) {
    let placed = cfg.start(peer, cfg.random_int()).map(|(index, _)| index);
    if placed != Some(expected) {
        cfg.fail(format!(
            "peer {peer} placed a command at {placed:?}, expected index {expected}"
        ));
    }
}
