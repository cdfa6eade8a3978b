//! The raft-rs driver of the pipeline shard.
//!
//! `Consensus` wraps a `RawNode` over raft-rs's in-memory `Storage` and turns its asynchronous
//! `Ready` protocol into plain steps for the shell, which owns all I/O:
//!
//! 1. `propose` a batch (one log entry carrying many client writes), `tick` on a timer;
//! 2. `next_ready` hands out what must be made durable (entries and hard state, numbered)
//!    together with the entries already committed, which are durable and may be applied at
//!    once; it can be called again before the previous ready is durable, so the write of one
//!    ready overlaps the apply of the one before it;
//! 3. once the shell has written and synced a ready, `persisted` with its number lets raft
//!    commit it; the committed entries come out of a later `next_ready`. After applying, the
//!    shell calls `applied`.
//!
//! Ordering rule at this seam: the shell must persist readies in the order `next_ready` hands
//! them out, and must apply committed entries in the order they are returned. A standalone
//! server is a one-voter group, so the same code path serves it and an ensemble.

use std::collections::VecDeque;

use raft::eraftpb::{ConfState, Entry, EntryType, HardState as RaftHardState, Snapshot};
use raft::storage::{GetEntriesContext, MemStorage};
use raft::{Config, RawNode, StateRole, Storage};
use thiserror::Error;

use crate::limits::{
    ELECTION_TICKS, HEARTBEAT_TICKS, RAFT_INFLIGHT_MESSAGES_MAX, RAFT_MESSAGE_BYTES_MAX,
};

/// The raft id of a standalone server.
pub const STANDALONE_NODE_ID: u64 = 1;

#[derive(Debug, Error, PartialEq)]
pub enum ConsensusError {
    #[error("raft: {0}")]
    Raft(String),
    #[error("log entry {index} has unknown entry type {entry_type}")]
    UnknownEntryType { index: u64, entry_type: u8 },
    #[error("log entry {index} is empty: the entry type byte is missing")]
    EmptyPayload { index: u64 },
    #[error("this server is not the leader")]
    NotLeader,
    #[error("the log resumes at entry {first}, but the snapshot ends at entry {base}: entries are missing")]
    LogGap { base: u64, first: u64 },
}

impl From<raft::Error> for ConsensusError {
    fn from(error: raft::Error) -> Self {
        ConsensusError::Raft(error.to_string())
    }
}

/// Raft's durable vote state, as the log stores it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HardState {
    pub term: u64,
    pub vote: u64,
    pub commit: u64,
}

/// A log entry as the write-ahead log stores it: the payload is the entry type byte followed by
/// the entry data (the encoded batch). The raft context (routing information of this process)
/// is not durable on purpose: after a restart nobody waits for the entry's replies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    pub index: u64,
    pub term: u64,
    pub payload: Vec<u8>,
}

/// The raft position a snapshot holds the state of: the last entry applied to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotBase {
    pub index: u64,
    pub term: u64,
}

/// An entry raft has committed: apply it in the order given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    pub index: u64,
    pub term: u64,
    /// What the proposer attached to find the waiting clients; 0 when unknown (replayed).
    pub proposal_id: u64,
    /// The encoded batch; empty for raft's own entries (a new leader's empty entry).
    pub data: Vec<u8>,
}

/// One `Ready`: persist `entries` and `hard_state` (in this order, then sync) when `must_sync`,
/// then report `number` to `Consensus::persisted`. `committed` is durable already and may be
/// applied before the persist finishes. Without `must_sync` only the commit index moved, which
/// recovery does not need: nothing has to be written, but `persisted` is still reported in order.
pub struct PendingReady {
    pub number: u64,
    pub entries: Vec<LogRecord>,
    pub hard_state: Option<HardState>,
    pub must_sync: bool,
    pub committed: Vec<Committed>,
}

pub struct Consensus {
    node: RawNode<MemStorage>,
    /// The hard state of each ready handed out and not yet persisted, by ready number.
    in_flight: VecDeque<(u64, Option<RaftHardState>)>,
    /// The last hard state the shell made durable (or recovered).
    durable: RaftHardState,
}

impl Consensus {
    /// Rebuilds the node from a snapshot (if any) and what the log recovered after it. `base`
    /// is the raft position the state machine already holds: raft starts with it as applied and
    /// committed, and log records at or before it are skipped. The records after the base must
    /// continue it without a gap (`LogGap` otherwise). Without a base every entry is applied.
    pub fn open(
        records: &[LogRecord],
        hard_state: Option<HardState>,
        base: Option<SnapshotBase>,
    ) -> Result<Self, ConsensusError> {
        let storage =
            MemStorage::new_with_conf_state(ConfState::from((vec![STANDALONE_NODE_ID], vec![])));
        let base_index = base.map_or(0, |base| base.index);
        {
            let mut core = storage.wl();
            if let Some(base) = base {
                let mut snapshot = Snapshot::default();
                let metadata = snapshot.mut_metadata();
                metadata.index = base.index;
                metadata.term = base.term;
                metadata.set_conf_state(ConfState::from((vec![STANDALONE_NODE_ID], vec![])));
                core.apply_snapshot(snapshot)?;
            }
            let after: Vec<&LogRecord> = records
                .iter()
                .filter(|record| record.index > base_index)
                .collect();
            if let Some(first) = after.first() {
                if first.index != base_index + 1 {
                    return Err(ConsensusError::LogGap {
                        base: base_index,
                        first: first.index,
                    });
                }
            }
            let entries = after
                .into_iter()
                .map(record_to_entry)
                .collect::<Result<Vec<_>, _>>()?;
            core.append(&entries)?;
            let last_index = entries.last().map_or(base_index, |entry| entry.index);
            let base_term = base.map_or(0, |base| base.term);
            let raft_state = match hard_state {
                // A commit index beyond the recovered log would make raft panic; the log is the
                // truth for what survived. The snapshot holds only committed entries, so the
                // commit index is at least its index.
                Some(hard_state) => RaftHardState {
                    term: hard_state.term.max(base_term),
                    vote: hard_state.vote,
                    commit: hard_state.commit.min(last_index).max(base_index),
                    ..Default::default()
                },
                None => RaftHardState {
                    term: base_term,
                    commit: base_index,
                    ..Default::default()
                },
            };
            core.set_hardstate(raft_state);
        }
        Self::start(storage, base_index)
    }

    /// A `RawNode` over `storage`, whose entries up to `applied` the state machine holds.
    fn start(storage: MemStorage, applied: u64) -> Result<Self, ConsensusError> {
        let config = Config {
            id: STANDALONE_NODE_ID,
            election_tick: ELECTION_TICKS,
            heartbeat_tick: HEARTBEAT_TICKS,
            max_size_per_msg: RAFT_MESSAGE_BYTES_MAX,
            max_inflight_msgs: RAFT_INFLIGHT_MESSAGES_MAX,
            applied,
            ..Default::default()
        };
        config.validate()?;
        let durable = storage.initial_state()?.hard_state;
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let node = RawNode::new(&config, storage, &logger)?;
        Ok(Consensus {
            node,
            in_flight: VecDeque::new(),
            durable,
        })
    }

    /// After a failed persist: forgets every entry and hard state that was not persisted (the
    /// failed ready and every ready handed out after it) by rebuilding the node from a storage
    /// holding only the durable entries. Returns the proposal ids of the dropped entries, whose
    /// writers are to be told that their writes failed. The node comes back as a follower of
    /// the last persisted term: `campaign` makes it lead again (in a new term), and its new
    /// entries reuse the indexes of the dropped ones. Ready numbers start again from 1.
    pub fn reset_to_persisted(&mut self) -> Result<Vec<u64>, ConsensusError> {
        let persisted = self.node.raft.raft_log.persisted;
        let store = self.node.store();
        let last_stored = store.last_index()?;
        let mut dropped: Vec<u64> = Vec::new();
        if last_stored > persisted {
            let lost = store.entries(
                persisted + 1,
                last_stored + 1,
                None,
                GetEntriesContext::empty(false),
            )?;
            dropped.extend(lost.iter().map(|entry| proposal_id_of(&entry.context)));
        }
        let unstable = &self.node.raft.raft_log.unstable.entries;
        dropped.extend(unstable.iter().map(|entry| proposal_id_of(&entry.context)));
        dropped.retain(|&id| id != 0);
        let applied = self.applied_index();
        let storage = self.durable_storage(persisted)?;
        *self = Self::start(storage, applied)?;
        assert_eq!(self.applied_index(), applied);
        assert_eq!(self.last_index(), persisted);
        Ok(dropped)
    }

    /// A new storage with the entries up to `persisted` (from the first one still held) and
    /// the durable hard state, committed as far as this node had committed.
    fn durable_storage(&self, persisted: u64) -> Result<MemStorage, ConsensusError> {
        let old = self.node.store();
        let first = old.first_index()?;
        // The entry before the first one held stands in as the snapshot; when its term was
        // compacted away the first held entry does (it is applied, so raft never reads it).
        let (base_index, base_term) = match old.term(first - 1) {
            Ok(term) => (first - 1, term),
            Err(_) => (first, old.term(first)?),
        };
        assert!(
            base_index <= persisted,
            "compaction never passes the durable log"
        );
        let conf_state = ConfState::from((vec![STANDALONE_NODE_ID], vec![]));
        let storage = MemStorage::new_with_conf_state(conf_state.clone());
        {
            let mut core = storage.wl();
            if base_index > 0 {
                let mut snapshot = Snapshot::default();
                let metadata = snapshot.mut_metadata();
                metadata.index = base_index;
                metadata.term = base_term;
                metadata.set_conf_state(conf_state);
                core.apply_snapshot(snapshot)?;
            }
            if persisted > base_index {
                let entries = old.entries(
                    base_index + 1,
                    persisted + 1,
                    None,
                    GetEntriesContext::empty(false),
                )?;
                core.append(&entries)?;
            }
            core.set_hardstate(RaftHardState {
                term: self.durable.term.max(base_term),
                vote: self.durable.vote,
                commit: self.committed_index().min(persisted).max(base_index),
                ..Default::default()
            });
        }
        Ok(storage)
    }

    /// A lone voter elects itself at once; in a standalone server this is called at start-up.
    pub fn campaign(&mut self) -> Result<(), ConsensusError> {
        self.node.campaign()?;
        Ok(())
    }

    pub fn is_leader(&self) -> bool {
        self.node.raft.state == StateRole::Leader
    }

    pub fn tick(&mut self) {
        self.node.tick();
    }

    pub fn last_index(&self) -> u64 {
        self.node.raft.raft_log.last_index()
    }

    pub fn applied_index(&self) -> u64 {
        self.node.raft.raft_log.applied
    }

    pub fn committed_index(&self) -> u64 {
        self.node.raft.raft_log.committed
    }

    pub fn propose(&mut self, proposal_id: u64, data: Vec<u8>) -> Result<(), ConsensusError> {
        if !self.is_leader() {
            return Err(ConsensusError::NotLeader);
        }
        self.node
            .propose(proposal_id.to_be_bytes().to_vec(), data)?;
        Ok(())
    }

    pub fn has_ready(&self) -> bool {
        self.node.has_ready()
    }

    /// The next ready, if raft has one. Its entries join raft's in-memory log at once (raft
    /// reads them from there), but count as durable only once `persisted` is told.
    pub fn next_ready(&mut self) -> Result<Option<PendingReady>, ConsensusError> {
        if !self.node.has_ready() {
            return Ok(None);
        }
        let mut ready = self.node.ready();
        // A standalone node has no peers; the messages an ensemble would send are dropped here
        // until the peer transport exists.
        let _ = ready.take_messages();
        let _ = ready.take_persisted_messages();
        let committed = ready
            .take_committed_entries()
            .into_iter()
            .map(committed_from)
            .collect();
        let raw_entries = ready.take_entries();
        let raw_hard_state = ready.hs().cloned();
        let entries = raw_entries.iter().map(entry_to_record).collect();
        let hard_state = raw_hard_state.as_ref().map(|state| HardState {
            term: state.term,
            vote: state.vote,
            commit: state.commit,
        });
        let number = ready.number();
        let must_sync = ready.must_sync();
        self.node.mut_store().wl().append(&raw_entries)?;
        self.node.advance_append_async(ready);
        self.in_flight.push_back((number, raw_hard_state));
        Ok(Some(PendingReady {
            number,
            entries,
            hard_state,
            must_sync,
            committed,
        }))
    }

    /// The ready `number`, and every one handed out before it, is durable: raft may commit its
    /// entries, which a later `next_ready` returns.
    pub fn persisted(&mut self, number: u64) {
        while self
            .in_flight
            .front()
            .is_some_and(|(front, _)| *front <= number)
        {
            if let Some((_, Some(hard_state))) = self.in_flight.pop_front() {
                self.durable = hard_state;
            }
        }
        self.node.on_persist_ready(number);
    }

    /// Everything up to `index` is applied: raft may forget those entries. The write-ahead log
    /// keeps them until a snapshot covers them, so only the in-memory copy is released.
    pub fn applied(&mut self, index: u64) -> Result<(), ConsensusError> {
        self.node.advance_apply_to(index);
        let first = self.node.store().first_index()?;
        if index >= first {
            self.node.mut_store().wl().compact(index)?;
        }
        Ok(())
    }
}

fn committed_from(entry: Entry) -> Committed {
    let proposal_id = proposal_id_of(&entry.context);
    Committed {
        index: entry.index,
        term: entry.term,
        proposal_id,
        data: entry.data.to_vec(),
    }
}

/// The proposal id a proposer attached as an entry's context; 0 when there is none.
fn proposal_id_of(context: &[u8]) -> u64 {
    <[u8; 8]>::try_from(context).map_or(0, u64::from_be_bytes)
}

fn entry_to_record(entry: &Entry) -> LogRecord {
    let mut payload = Vec::with_capacity(1 + entry.data.len());
    payload.push(entry.get_entry_type() as u8);
    payload.extend_from_slice(&entry.data);
    LogRecord {
        index: entry.index,
        term: entry.term,
        payload,
    }
}

fn record_to_entry(record: &LogRecord) -> Result<Entry, ConsensusError> {
    let (&entry_type, data) = record
        .payload
        .split_first()
        .ok_or(ConsensusError::EmptyPayload {
            index: record.index,
        })?;
    let entry_type = match entry_type {
        0 => EntryType::EntryNormal,
        1 => EntryType::EntryConfChange,
        2 => EntryType::EntryConfChangeV2,
        other => {
            return Err(ConsensusError::UnknownEntryType {
                index: record.index,
                entry_type: other,
            })
        }
    };
    let mut entry = Entry::default();
    entry.set_entry_type(entry_type);
    entry.index = record.index;
    entry.term = record.term;
    entry.data = data.to_vec().into();
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives every ready to completion as a shell with a perfect disk would, collecting the
    /// committed data and what was persisted.
    /// A new, empty node that has won its election, with its log as persisted so far.
    fn fresh_leader() -> (Consensus, Vec<LogRecord>, Option<HardState>) {
        let (mut log, mut hard) = (Vec::new(), None);
        let mut consensus = Consensus::open(&[], None, None).expect("open");
        consensus.campaign().expect("campaign");
        drive(&mut consensus, &mut log, &mut hard);
        (consensus, log, hard)
    }

    fn drive(
        consensus: &mut Consensus,
        log: &mut Vec<LogRecord>,
        hard: &mut Option<HardState>,
    ) -> Vec<Committed> {
        let mut applied = Vec::new();
        while let Some(mut pending) = consensus.next_ready().expect("ready") {
            applied.append(&mut pending.committed);
            log.retain(|record| {
                pending
                    .entries
                    .first()
                    .is_none_or(|first| record.index < first.index)
            });
            log.extend(pending.entries.iter().cloned());
            if pending.hard_state.is_some() {
                *hard = pending.hard_state;
            }
            consensus.persisted(pending.number);
            if let Some(last) = applied.last() {
                consensus.applied(last.index).expect("applied");
            }
        }
        applied
    }

    #[test]
    fn single_voter_commits_proposals_after_persist_and_replays_them_after_restart() {
        let (mut consensus, mut log, mut hard) = fresh_leader();
        assert!(consensus.is_leader());
        consensus.propose(7, b"batch-1".to_vec()).expect("propose");
        consensus.propose(8, b"batch-2".to_vec()).expect("propose");
        let committed = drive(&mut consensus, &mut log, &mut hard);
        let data: Vec<_> = committed
            .iter()
            .filter(|c| !c.data.is_empty())
            .map(|c| (c.proposal_id, c.data.clone()))
            .collect();
        assert_eq!(
            data,
            vec![(7, b"batch-1".to_vec()), (8, b"batch-2".to_vec())]
        );

        // Restart from the persisted log: both batches come back, without proposal ids.
        let mut restarted = Consensus::open(&log, hard, None).expect("reopen");
        restarted.campaign().expect("campaign");
        let replayed = drive(&mut restarted, &mut log, &mut hard);
        let data: Vec<_> = replayed
            .iter()
            .filter(|c| !c.data.is_empty())
            .map(|c| (c.proposal_id, c.data.clone()))
            .collect();
        assert_eq!(
            data,
            vec![(0, b"batch-1".to_vec()), (0, b"batch-2".to_vec())]
        );
        assert_eq!(restarted.applied_index(), restarted.last_index());
    }

    #[test]
    fn corrupt_entry_type_is_an_error() {
        let record = LogRecord {
            index: 1,
            term: 1,
            payload: vec![9, 1, 2],
        };
        assert_eq!(
            Consensus::open(&[record], None, None).err(),
            Some(ConsensusError::UnknownEntryType {
                index: 1,
                entry_type: 9
            })
        );
    }

    fn data_of(committed: &[Committed]) -> Vec<(u64, Vec<u8>)> {
        committed
            .iter()
            .filter(|c| !c.data.is_empty())
            .map(|c| (c.proposal_id, c.data.clone()))
            .collect()
    }

    /// Builds a persisted log of `count` batches (a leader's empty entry at index 1, then the
    /// batches at 2..), returning the log and hard state.
    fn persisted_log(count: u64) -> (Vec<LogRecord>, Option<HardState>) {
        let (mut consensus, mut log, mut hard) = fresh_leader();
        for id in 1..=count {
            consensus
                .propose(id, format!("batch-{id}").into_bytes())
                .expect("propose");
            drive(&mut consensus, &mut log, &mut hard);
        }
        (log, hard)
    }

    #[test]
    fn open_from_a_snapshot_applies_only_the_entries_after_it() {
        let (log, hard) = persisted_log(4);
        assert_eq!(log.last().map(|r| (r.index, r.term)), Some((5, 1)));
        // The snapshot holds entries 1..=3 (batches 1 and 2); the log still holds them all.
        let base = SnapshotBase { index: 3, term: 1 };
        let mut restarted = Consensus::open(&log, hard, Some(base)).expect("open");
        assert_eq!(restarted.applied_index(), 3);
        restarted.campaign().expect("campaign");
        let (mut log_after, mut hard_after) = (log.clone(), hard);
        let replayed = drive(&mut restarted, &mut log_after, &mut hard_after);
        assert_eq!(
            data_of(&replayed),
            vec![(0, b"batch-3".to_vec()), (0, b"batch-4".to_vec())]
        );
        assert_eq!(replayed.first().map(|c| c.index), Some(4));
        assert_eq!(restarted.applied_index(), restarted.last_index());
        assert_eq!(restarted.last_index(), 6, "the new leader's empty entry");

        // The same with the log released before the snapshot: only entries 4 and 5 left.
        let tail: Vec<LogRecord> = log.iter().filter(|r| r.index >= 4).cloned().collect();
        let mut restarted = Consensus::open(&tail, hard, Some(base)).expect("open tail");
        restarted.campaign().expect("campaign");
        let (mut log_after, mut hard_after) = (tail.clone(), hard);
        let replayed = drive(&mut restarted, &mut log_after, &mut hard_after);
        assert_eq!(
            data_of(&replayed),
            vec![(0, b"batch-3".to_vec()), (0, b"batch-4".to_vec())]
        );

        // A snapshot covering the whole log, with an empty log after release: nothing to apply.
        let all = SnapshotBase { index: 5, term: 1 };
        let mut restarted = Consensus::open(&[], hard, Some(all)).expect("open empty");
        restarted.campaign().expect("campaign");
        let (mut log_after, mut hard_after) = (Vec::new(), hard);
        let replayed = drive(&mut restarted, &mut log_after, &mut hard_after);
        assert_eq!(data_of(&replayed), vec![]);
        assert_eq!(restarted.applied_index(), 6);
    }

    #[test]
    fn open_refuses_a_log_that_does_not_continue_the_snapshot() {
        let (log, hard) = persisted_log(4);
        let tail: Vec<LogRecord> = log.iter().filter(|r| r.index >= 5).cloned().collect();
        let base = SnapshotBase { index: 3, term: 1 };
        assert_eq!(
            Consensus::open(&tail, hard, Some(base)).err(),
            Some(ConsensusError::LogGap { base: 3, first: 5 })
        );
    }

    #[test]
    fn reset_to_persisted_drops_the_unpersisted_entries_and_leads_again() {
        let (mut consensus, mut log, mut hard) = fresh_leader();
        consensus.propose(1, b"kept".to_vec()).expect("propose");
        drive(&mut consensus, &mut log, &mut hard);
        let term_before = consensus.node.raft.term;

        // The disk fails this ready: it is never handed back as persisted.
        consensus.propose(2, b"lost-a".to_vec()).expect("propose");
        consensus.propose(3, b"lost-b".to_vec()).expect("propose");
        let failed = consensus
            .next_ready()
            .expect("ready")
            .expect("a ready to persist");
        assert_eq!(failed.entries.len(), 2);
        drop(failed);
        assert_eq!(consensus.reset_to_persisted().expect("reset"), vec![2, 3]);
        assert!(!consensus.is_leader());
        assert_eq!(consensus.last_index(), 2);
        assert_eq!(consensus.applied_index(), 2);

        consensus.campaign().expect("campaign");
        assert!(consensus.is_leader());
        assert_eq!(consensus.node.raft.term, term_before + 1);
        consensus.propose(4, b"after".to_vec()).expect("propose");
        let committed = drive(&mut consensus, &mut log, &mut hard);
        assert_eq!(data_of(&committed), vec![(4, b"after".to_vec())]);
        // The new entries took the indexes of the failed ones: 3 (empty) and 4.
        assert_eq!(
            log.iter().map(|r| r.index).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );

        // What was persisted replays without the failed writes.
        let mut restarted = Consensus::open(&log, hard, None).expect("reopen");
        restarted.campaign().expect("campaign");
        let replayed = drive(&mut restarted, &mut log, &mut hard);
        assert_eq!(
            data_of(&replayed),
            vec![(0, b"kept".to_vec()), (0, b"after".to_vec())]
        );
    }

    /// Proposes `data` as `id` and hands out the ready holding it, without persisting it.
    fn hand_out(consensus: &mut Consensus, id: u64, data: &[u8]) -> PendingReady {
        consensus.propose(id, data.to_vec()).expect("propose");
        consensus
            .next_ready()
            .expect("ready")
            .expect("a ready to persist")
    }

    #[test]
    fn a_second_ready_is_handed_out_before_the_first_is_durable() {
        let (mut consensus, mut log, mut hard) = fresh_leader();
        let first = hand_out(&mut consensus, 1, b"first");
        let second = hand_out(&mut consensus, 2, b"second");
        assert_eq!(
            first.entries.iter().map(|r| r.index).collect::<Vec<_>>(),
            [2]
        );
        assert_eq!(
            second.entries.iter().map(|r| r.index).collect::<Vec<_>>(),
            [3]
        );
        assert!(first.must_sync && second.must_sync);
        assert_eq!(
            consensus.committed_index(),
            1,
            "nothing commits before it is durable"
        );

        // The first is durable: it commits and comes out of the next ready, while the second is
        // still being written.
        consensus.persisted(first.number);
        let third = consensus.next_ready().expect("ready").expect("commit");
        assert_eq!(data_of(&third.committed), vec![(1, b"first".to_vec())]);
        assert!(third.entries.is_empty());
        assert!(!third.must_sync, "only the commit index moved");
        consensus.applied(2).expect("applied");

        // The second fails: only its write is dropped, and raft leads again.
        assert_eq!(consensus.reset_to_persisted().expect("reset"), vec![2]);
        assert_eq!(consensus.last_index(), 2);
        assert_eq!(consensus.applied_index(), 2);
        consensus.campaign().expect("campaign");
        consensus.propose(3, b"third".to_vec()).expect("propose");
        let committed = drive(&mut consensus, &mut log, &mut hard);
        assert_eq!(data_of(&committed), vec![(3, b"third".to_vec())]);
    }

    #[test]
    fn a_failed_ready_drops_every_ready_handed_out_after_it() {
        let (mut consensus, mut log, mut hard) = fresh_leader();
        consensus.propose(1, b"kept".to_vec()).expect("propose");
        drive(&mut consensus, &mut log, &mut hard);
        let _failed = hand_out(&mut consensus, 2, b"failed");
        let _later = hand_out(&mut consensus, 3, b"later");
        consensus
            .propose(4, b"not-yet-handed-out".to_vec())
            .expect("propose");
        assert_eq!(
            consensus.reset_to_persisted().expect("reset"),
            vec![2, 3, 4]
        );
        assert_eq!(consensus.last_index(), 2);
        consensus.campaign().expect("campaign");
        consensus.propose(5, b"after".to_vec()).expect("propose");
        let committed = drive(&mut consensus, &mut log, &mut hard);
        assert_eq!(data_of(&committed), vec![(5, b"after".to_vec())]);
        let mut restarted = Consensus::open(&log, hard, None).expect("reopen");
        restarted.campaign().expect("campaign");
        let replayed = drive(&mut restarted, &mut log, &mut hard);
        assert_eq!(
            data_of(&replayed),
            vec![(0, b"kept".to_vec()), (0, b"after".to_vec())]
        );
    }
}
