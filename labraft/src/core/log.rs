// handout: omit-file
//! The replicated log, with a prefix compacted into a snapshot.
//!
//! All index arithmetic for the snapshot offset lives here. Indices are the
//! paper's: the first entry has index 1, and index 0 is the empty prefix.

use std::fmt;

use super::invariant;
use crate::rpc::Entry;
use crate::{Index, Term};

/// What [`Log::maybe_append`] did with a leader's entries.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Appended {
    /// The log holds no entry at the leader's previous index with the
    /// leader's term there: nothing changed. The leader should go back to
    /// `conflict_index`, past every entry of `conflict_term` it does not hold.
    Conflict {
        /// The first index of the conflicting term, or one past the log's end
        /// when the log is too short.
        conflict_index: Index,
        /// The term this log holds at the leader's previous index, if any.
        conflict_term: Option<Term>,
    },
    /// The log matches the leader's through `match_index`.
    Match {
        /// The last index known to match the leader's log.
        match_index: Index,
        /// The first index this call wrote, if it wrote any: the log must be
        /// saved before the leader hears of them.
        written: Option<Index>,
    },
}

/// The log: entries after the snapshot, and the index and term of the last
/// entry the snapshot covers.
#[derive(Debug, Default)]
pub(crate) struct Log {
    /// Invariant: the entry at `snapshot_index` (0 without a snapshot) was
    /// committed and is no longer stored; `snapshot_term` is its term.
    snapshot_index: Index,
    snapshot_term: Term,
    /// `entries[i]` has index `snapshot_index + 1 + i`.
    entries: Vec<Entry>,
    /// A prefix of `entries`, encoded: persisting encodes only the entries
    /// added since, so saving a long log is a copy, not a re-encoding.
    encoded: Encoded,
}

/// Entries `0..ends.len()` of a log, each encoded on its own and concatenated.
#[derive(Default)]
struct Encoded {
    bytes: Vec<u8>,
    /// `ends[i]` is where entry `i`'s bytes end.
    ends: Vec<usize>,
    /// Invariant: the persister's Raft state begins with `bytes[..saved]`.
    /// A save writes only what follows.
    saved: usize,
}

impl Encoded {
    /// Forgets the entries from position `at` on.
    fn truncate(&mut self, at: usize) {
        if at < self.ends.len() {
            let end = if at == 0 { 0 } else { self.ends[at - 1] };
            self.bytes.truncate(end);
            self.ends.truncate(at);
            self.saved = self.saved.min(end);
        }
    }

    /// Forgets the first `count` entries. Every byte moves, so the next
    /// save writes them all again.
    fn drain_front(&mut self, count: usize) {
        if count == 0 {
            return;
        }
        if count > self.ends.len() {
            *self = Encoded::default();
            return;
        }
        let cut = self.ends[count - 1];
        self.bytes.drain(..cut);
        self.ends.drain(..count);
        self.ends.iter_mut().for_each(|end| *end -= cut);
        self.saved = 0;
    }
}

impl fmt::Debug for Encoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} entries in {} bytes",
            self.ends.len(),
            self.bytes.len()
        )
    }
}

/// Equal logs hold the same entries after the same snapshot point, whatever
/// each has encoded so far.
impl PartialEq for Log {
    fn eq(&self, other: &Log) -> bool {
        (self.snapshot_index, self.snapshot_term, &self.entries)
            == (other.snapshot_index, other.snapshot_term, &other.entries)
    }
}

impl Log {
    /// A log restored from the entries part of a saved state (the entries
    /// encoded one after another, `count` of them), which the persister
    /// holds: the next save keeps it in place.
    ///
    /// # Errors
    /// When `bytes` are not `count` encoded entries.
    pub(crate) fn from_saved(
        snapshot_index: Index,
        snapshot_term: Term,
        bytes: &[u8],
        count: u64,
    ) -> Result<Log, labrpc::codec::CodecError> {
        let mut entries = Vec::new();
        let mut ends = Vec::new();
        let mut at = 0;
        for _ in 0..count {
            let (entry, used) = labrpc::codec::decode_prefix::<Entry>(&bytes[at..])?;
            at += used;
            entries.push(entry);
            ends.push(at);
        }
        if at != bytes.len() {
            // Trailing bytes: decoding them as a whole reports them.
            labrpc::codec::decode::<()>(&bytes[at..])?;
        }
        Ok(Log {
            snapshot_index,
            snapshot_term,
            entries,
            encoded: Encoded {
                bytes: bytes.to_vec(),
                ends,
                saved: at,
            },
        })
    }

    /// Writes the stored entries, encoded one after another, at the front
    /// of `state`, the persister's Raft state, and cuts off what followed
    /// them. Encodes only the entries added since the last save, and copies
    /// only the bytes the persister does not hold yet.
    pub(crate) fn save_entries(&mut self, state: &mut Vec<u8>) {
        let Encoded { bytes, ends, saved } = &mut self.encoded;
        for entry in &self.entries[ends.len()..] {
            let one =
                labrpc::codec::encode(entry).expect("a log entry is plain data and always encodes");
            bytes.extend_from_slice(&one);
            ends.push(bytes.len());
        }
        let keep = (*saved).min(state.len());
        state.truncate(keep);
        state.extend_from_slice(&bytes[keep..]);
        *saved = bytes.len();
    }

    /// How many entries are stored (after the snapshot).
    pub(crate) fn stored_len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn snapshot_index(&self) -> Index {
        self.snapshot_index
    }

    pub(crate) fn snapshot_term(&self) -> Term {
        self.snapshot_term
    }

    pub(crate) fn last_index(&self) -> Index {
        self.snapshot_index + self.entries.len() as Index
    }

    pub(crate) fn last_term(&self) -> Term {
        self.entries.last().map_or(self.snapshot_term, |e| e.term)
    }

    /// Where `index` sits in `entries`, if it is stored.
    fn position(&self, index: Index) -> Option<usize> {
        if index <= self.snapshot_index || index > self.last_index() {
            return None;
        }
        usize::try_from(index - self.snapshot_index - 1).ok()
    }

    /// The term of the entry at `index`, if known: stored, or the last one the
    /// snapshot covers.
    pub(crate) fn term_at(&self, index: Index) -> Option<Term> {
        if index == self.snapshot_index {
            return Some(self.snapshot_term);
        }
        self.position(index).map(|at| self.entries[at].term)
    }

    /// The stored entries from `from` to the end; empty when `from` is past
    /// the end.
    ///
    /// # Panics
    /// When `from` is inside the snapshot: those entries are gone, and the
    /// caller should have sent the snapshot instead.
    pub(crate) fn entries_from(&self, from: Index) -> &[Entry] {
        assert!(
            from > self.snapshot_index,
            "entries from {from} requested, but the snapshot covers up to {}",
            self.snapshot_index
        );
        match self.position(from) {
            Some(at) => &self.entries[at..],
            None => &[],
        }
    }

    /// The entries from `from` through `to`, both inclusive and stored.
    pub(crate) fn slice(&self, from: Index, to: Index) -> &[Entry] {
        let (Some(start), Some(end)) = (self.position(from), self.position(to)) else {
            panic!(
                "entries {from}..={to} requested, but the log stores {}..={}",
                self.snapshot_index + 1,
                self.last_index()
            );
        };
        &self.entries[start..=end]
    }

    /// The first index holding `term`, among stored entries, searching back
    /// from `from`. Used for the conflict hint of a rejected AppendEntries.
    pub(crate) fn first_index_of_term(&self, term: Term, from: Index) -> Index {
        let mut index = from;
        while index > self.snapshot_index + 1 && self.term_at(index - 1) == Some(term) {
            index -= 1;
        }
        index
    }

    /// The last stored index holding `term`, if any.
    pub(crate) fn last_index_of_term(&self, term: Term) -> Option<Index> {
        let at = self.entries.iter().rposition(|e| e.term == term)?;
        Some(self.snapshot_index + 1 + at as Index)
    }

    /// Figure 2's AppendEntries rules 2–4 on this log (as etcd's
    /// `raftLog.maybeAppend`): if it holds an entry at `prev_index` of term
    /// `prev_term`, deletes any entry that conflicts with one of `entries`
    /// (same index, another term) and all that follow it, and appends the
    /// entries not already there. An entry that matches is kept, so a delayed
    /// request never cuts off entries a later one added. Entries the snapshot
    /// covers are committed, so they match and are skipped.
    ///
    /// `commit_index` is the caller's: deleting an entry at or below it
    /// breaks the protocol, and is checked.
    pub(crate) fn maybe_append(
        &mut self,
        mut prev_index: Index,
        mut prev_term: Term,
        mut entries: &[Entry],
        commit_index: Index,
    ) -> Appended {
        let match_index = prev_index + entries.len() as Index;
        if prev_index < self.snapshot_index {
            let covered = usize::try_from(self.snapshot_index - prev_index).unwrap_or(usize::MAX);
            if covered >= entries.len() {
                return Appended::Match {
                    match_index,
                    written: None,
                };
            }
            entries = &entries[covered..];
            prev_index = self.snapshot_index;
            prev_term = self.snapshot_term;
        }

        // Rule 2: no entry at prevLogIndex whose term matches prevLogTerm.
        // The hint names the conflicting term's first index, so the leader
        // can skip the whole term.
        match self.term_at(prev_index) {
            None => {
                return Appended::Conflict {
                    conflict_index: self.last_index() + 1,
                    conflict_term: None,
                };
            }
            Some(term) if term != prev_term => {
                return Appended::Conflict {
                    conflict_index: self.first_index_of_term(term, prev_index),
                    conflict_term: Some(term),
                };
            }
            Some(_) => {}
        }

        // Rules 3 and 4.
        for (offset, entry) in entries.iter().enumerate() {
            let index = prev_index + 1 + offset as Index;
            match self.term_at(index) {
                Some(term) if term == entry.term => continue,
                Some(_) => {
                    invariant!(
                        index > commit_index,
                        "deleting committed entry {index} (commit index {commit_index})"
                    );
                    self.truncate_from(index);
                }
                None => {}
            }
            for entry in &entries[offset..] {
                self.push(entry.clone());
            }
            return Appended::Match {
                match_index,
                written: Some(index),
            };
        }
        Appended::Match {
            match_index,
            written: None,
        }
    }

    /// Appends one entry; returns its index.
    pub(crate) fn push(&mut self, entry: Entry) -> Index {
        self.entries.push(entry);
        self.last_index()
    }

    /// Removes the entry at `index` and all after it.
    ///
    /// # Panics
    /// When `index` is inside the snapshot: committed entries are never
    /// removed.
    pub(crate) fn truncate_from(&mut self, index: Index) {
        invariant!(
            index > self.snapshot_index,
            "truncating from {index} would remove entries the snapshot covers (to {})",
            self.snapshot_index
        );
        if let Some(at) = self.position(index) {
            self.entries.truncate(at);
            self.encoded.truncate(at);
        }
    }

    /// Drops the entries up to and including `index`, now covered by a
    /// snapshot. Entries after `index` stay when their prefix matches: when
    /// the entry at `index` is stored with term `term`. Otherwise the whole
    /// log is replaced by the snapshot.
    pub(crate) fn compact_to(&mut self, index: Index, term: Term) {
        if index <= self.snapshot_index {
            return;
        }
        if self.term_at(index) == Some(term) {
            let keep_from = self.position(index).expect("stored: its term is known") + 1;
            self.entries.drain(..keep_from);
            self.encoded.drain_front(keep_from);
        } else {
            self.entries.clear();
            self.encoded = Encoded::default();
        }
        self.snapshot_index = index;
        self.snapshot_term = term;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_of_terms(terms: &[Term]) -> Log {
        let mut log = Log::default();
        for &term in terms {
            log.push(Entry {
                term,
                command: vec![],
            });
        }
        log
    }

    fn entries(terms: &[Term]) -> Vec<Entry> {
        log_of_terms(terms).entries
    }

    fn terms(log: &Log) -> Vec<Term> {
        log.entries.iter().map(|e| e.term).collect()
    }

    #[test]
    fn appending_rejects_a_log_that_does_not_match_before_the_entries() {
        let mut log = log_of_terms(&[1, 1, 2, 2]);
        assert_eq!(
            log.maybe_append(6, 2, &entries(&[3]), 0),
            Appended::Conflict {
                conflict_index: 5,
                conflict_term: None
            },
            "too short: go back to the end"
        );
        assert_eq!(
            log.maybe_append(4, 3, &entries(&[3]), 0),
            Appended::Conflict {
                conflict_index: 3,
                conflict_term: Some(2)
            },
            "another term there: go back past all of it"
        );
        assert_eq!(terms(&log), [1, 1, 2, 2], "nothing changed");
    }

    #[test]
    fn appending_replaces_a_conflicting_suffix_and_keeps_a_matching_one() {
        let mut log = log_of_terms(&[1, 1, 2, 2]);
        assert_eq!(
            log.maybe_append(2, 1, &entries(&[3]), 2),
            Appended::Match {
                match_index: 3,
                written: Some(3)
            }
        );
        assert_eq!(terms(&log), [1, 1, 3]);
        log.maybe_append(3, 3, &entries(&[3, 3]), 2);
        assert_eq!(
            log.maybe_append(2, 1, &entries(&[3]), 2),
            Appended::Match {
                match_index: 3,
                written: None
            },
            "a delayed request whose entries match keeps what followed them"
        );
        assert_eq!(terms(&log), [1, 1, 3, 3, 3]);
        assert_eq!(
            log.maybe_append(5, 3, &[], 2),
            Appended::Match {
                match_index: 5,
                written: None
            },
            "a heartbeat matches through its previous index"
        );
    }

    #[test]
    fn appending_skips_what_the_snapshot_covers() {
        let mut log = log_of_terms(&[1, 1, 2, 2]);
        log.compact_to(3, 2);
        assert_eq!(
            log.maybe_append(1, 1, &entries(&[1, 2]), 3),
            Appended::Match {
                match_index: 3,
                written: None
            },
            "every entry is inside the snapshot"
        );
        assert_eq!(
            log.maybe_append(1, 1, &entries(&[1, 2, 2, 4]), 3),
            Appended::Match {
                match_index: 5,
                written: Some(5)
            }
        );
        assert_eq!(terms(&log), [2, 4]);
        assert_eq!(log.last_index(), 5);
    }

    #[test]
    fn empty_log_has_index_zero_term_zero() {
        let log = Log::default();
        assert_eq!((log.last_index(), log.last_term()), (0, 0));
        assert_eq!(log.term_at(0), Some(0));
        assert_eq!(log.term_at(1), None);
    }

    #[test]
    fn indices_start_at_one() {
        let log = log_of_terms(&[1, 1, 2]);
        assert_eq!(log.last_index(), 3);
        assert_eq!(log.term_at(3), Some(2));
        assert_eq!(log.entries_from(2).len(), 2);
        assert_eq!(log.entries_from(4).len(), 0);
    }

    #[test]
    fn compaction_keeps_a_matching_suffix() {
        let mut log = log_of_terms(&[1, 1, 2, 3]);
        log.compact_to(2, 1);
        assert_eq!((log.snapshot_index(), log.snapshot_term()), (2, 1));
        assert_eq!(log.last_index(), 4);
        assert_eq!(log.term_at(2), Some(1));
        assert_eq!(log.term_at(1), None, "compacted entries are unknown");
        assert_eq!(log.term_at(3), Some(2));
        assert_eq!(log.slice(3, 4).len(), 2);
    }

    #[test]
    fn compaction_past_a_mismatch_discards_the_log() {
        let mut log = log_of_terms(&[1, 1, 2]);
        log.compact_to(5, 4);
        assert_eq!((log.last_index(), log.last_term()), (5, 4));
        assert!(log.entries_from(6).is_empty());
        let mut log = log_of_terms(&[1, 1, 2]);
        log.compact_to(3, 3);
        assert_eq!(log.last_index(), 3, "term differs: the snapshot wins");
    }

    #[test]
    fn term_searches() {
        let log = log_of_terms(&[1, 2, 2, 2, 3]);
        assert_eq!(log.first_index_of_term(2, 4), 2);
        assert_eq!(log.last_index_of_term(2), Some(4));
        assert_eq!(log.last_index_of_term(9), None);
    }

    #[test]
    #[should_panic(expected = "snapshot covers")]
    fn committed_entries_are_never_truncated() {
        let mut log = log_of_terms(&[1, 1]);
        log.compact_to(1, 1);
        log.truncate_from(1);
    }
}
