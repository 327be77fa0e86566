//! What a world says when it dies (a deadlock, its time limit) or stalls:
//! every thread, its node and handler, where and for how long it waits,
//! and who holds the lock it waits for.

use std::fmt::Write as _;
use std::panic::Location;

use super::Tid;
use super::clock::{Virtual, VirtualTime};
use super::watchdog::STALL;
use super::world::{Op, State, Status, ThreadRec, World};

/// One line of a report: thread `tid` and what it does.
pub(super) fn describe(tid: Tid, rec: &ThreadRec, now: VirtualTime) -> String {
    match &rec.status {
        Status::Blocked(b) => format!(
            "thread '{}' (#{tid}, {}): blocked in {} at {} for {}{}",
            rec.name,
            whereabouts(rec),
            b.op,
            rec.site,
            Virtual(now.since(b.since)),
            match b.deadline {
                Some(deadline) => format!(", until {deadline}"),
                None => String::new(),
            }
        ),
        Status::Runnable => format!(
            "thread '{}' (#{tid}, {}): runnable, last at {}",
            rec.name,
            whereabouts(rec),
            rec.site
        ),
    }
}

/// A thread's node, and the handler it runs if it runs one.
pub(super) fn whereabouts(rec: &ThreadRec) -> String {
    match rec.serving {
        Some(method) => format!("{}, in the handler of {method}", rec.node),
        None => rec.node.to_string(),
    }
}

/// Threads of a report that differ only in number and age: the first (the
/// longest waiting) and how many more.
struct Group<'a> {
    tid: Tid,
    rec: &'a ThreadRec,
    /// For a thread waiting for a lock: who holds it, taken where.
    holder: Option<(Tid, &'static Location<'static>)>,
    more: usize,
}

impl Group<'_> {
    fn is_like(&self, rec: &ThreadRec, holder: Option<(Tid, &'static Location<'static>)>) -> bool {
        let first = self.rec;
        first.name == rec.name
            && first.node == rec.node
            && first.serving == rec.serving
            && first.site == rec.site
            && self.holder.map(|(h, _)| h) == holder.map(|(h, _)| h)
            && match (&first.status, &rec.status) {
                (Status::Blocked(a), Status::Blocked(b)) => {
                    a.op == b.op && a.deadline.is_some() == b.deadline.is_some()
                }
                (Status::Runnable, Status::Runnable) => true,
                _ => false,
            }
    }
}

impl State {
    pub(super) fn deadlock_report(&self) -> String {
        let mut report = format!(
            "deadlock at {}: no thread can run and no timer is pending.\n",
            self.now
        );
        self.describe_threads(&mut report);
        report
    }

    pub(super) fn limit_report(&self) -> String {
        let mut report = format!(
            "test took longer than {} s of virtual time.\n",
            self.limit.whole_seconds()
        );
        self.describe_threads(&mut report);
        report
    }

    /// Thread `tid` ran past the end of its coroutine's stack.
    pub(super) fn overflow_report(&self, tid: Tid, stack_bytes: usize) -> String {
        let mut report = format!(
            "thread '{}' (#{tid}, {}) has overflowed its stack ({} KiB), last at {}: deep or \
             endless recursion, or a large value on the stack. A thread that needs more asks \
             for it with thread::Builder::stack_size.\n",
            self.thread(tid).name,
            whereabouts(self.thread(tid)),
            stack_bytes / 1024,
            self.thread(tid).site
        );
        self.describe_threads(&mut report);
        report
    }

    /// Every live thread, those waiting without a deadline the longest
    /// first (in a deadlock, the threads that cause it), each with where it
    /// waits and, for a lock, who holds it and since where.
    pub(super) fn describe_threads(&self, report: &mut String) {
        let mut threads: Vec<(Tid, &ThreadRec)> = self
            .threads
            .iter()
            .enumerate()
            .filter_map(|(tid, rec)| Some((tid, rec.as_ref()?)))
            .collect();
        threads.sort_by_key(|&(tid, rec)| match &rec.status {
            Status::Blocked(b) if b.deadline.is_none() => (0, b.since, tid),
            Status::Blocked(b) => (1, b.since, tid),
            Status::Runnable => (2, VirtualTime::START, tid),
        });
        let _ = writeln!(
            report,
            "threads (those waiting with no deadline the longest first):"
        );
        // Threads with the same name, node and state (a handler thread per
        // request, all waiting for one lock) are one line and a count.
        let mut groups: Vec<Group<'_>> = Vec::new();
        for (tid, rec) in threads {
            let holder = match &rec.status {
                Status::Blocked(b) if b.op == Op::Lock => {
                    b.objects.first().and_then(|o| self.holders.get(o).copied())
                }
                _ => None,
            };
            match groups.iter_mut().find(|g| g.is_like(rec, holder)) {
                Some(group) => group.more += 1,
                None => groups.push(Group {
                    tid,
                    rec,
                    holder,
                    more: 0,
                }),
            }
        }
        for Group {
            tid,
            rec,
            holder,
            more,
        } in groups
        {
            let _ = write!(report, "  {}", describe(tid, rec, self.now));
            if let Some((holder, site)) = holder {
                let name = self.threads[holder]
                    .as_ref()
                    .map_or("a finished thread", |h| h.name.as_str());
                let _ = write!(
                    report,
                    "; the lock is held by '{name}' (#{holder}), taken at {site}"
                );
            }
            if more > 0 {
                let _ = write!(
                    report,
                    "\n    (and {more} more threads like it, for less long)"
                );
            }
            let _ = writeln!(report);
        }
    }
}

impl World {
    /// A report of every thread, for the stall watchdog.
    pub(super) fn stall_report(&self) -> String {
        let state = self.state.lock();
        let running = state.thread(state.running);
        let mut report = format!(
            "simulation stalled: thread '{}' ({}) has run for more than {} s of wall time \
             without a facade call. It is blocked in something the simulation cannot see \
             (std::thread::sleep, a std or parking_lot lock, I/O) or it is spinning. Its last \
             facade call was at {}.\n",
            running.name,
            whereabouts(running),
            STALL.as_secs(),
            running.site
        );
        state.describe_threads(&mut report);
        report
    }
}
