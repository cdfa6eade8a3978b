//! The raft-rs driver of the pipeline shard.
//!
//! `Consensus` wraps a `RawNode` over raft-rs's in-memory `Storage` and turns its `Ready`
//! protocol into three plain steps for the shell, which owns all I/O:
//!
//! 1. `propose` a batch (one log entry carrying many client writes), `tick` on a timer;
//! 2. `next_ready` hands out what must be made durable (entries and hard state) together with
//!    the entries already committed before it;
//! 3. once the shell has written and synced them, `persisted` returns the entries that the
//!    persist committed; after applying, the shell calls `applied`.
//!
//! Ordering rule at this seam: the shell must persist readies in the order `next_ready` hands
//! them out, and must apply committed entries in the order they are returned. A standalone
//! server is a one-voter group, so the same code path serves it and an ensemble.

use raft::eraftpb::{ConfState, Entry, EntryType, HardState as RaftHardState};
use raft::storage::MemStorage;
use raft::{Config, RawNode, Ready, StateRole, Storage};
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

/// One `Ready`: persist `entries` and `hard_state` (in this order, then sync), then hand the
/// value back to `Consensus::persisted`. `committed` may be applied before the persist finishes.
pub struct PendingReady {
    pub entries: Vec<LogRecord>,
    pub hard_state: Option<HardState>,
    pub committed: Vec<Committed>,
    ready: Ready,
    raw_entries: Vec<Entry>,
    raw_hard_state: Option<RaftHardState>,
}

pub struct Consensus {
    node: RawNode<MemStorage>,
}

impl Consensus {
    /// Rebuilds the node from what the log recovered. `applied` is the index the state machine
    /// already holds (0 until snapshots exist: every entry is applied again).
    pub fn open(
        records: &[LogRecord],
        hard_state: Option<HardState>,
    ) -> Result<Self, ConsensusError> {
        let storage =
            MemStorage::new_with_conf_state(ConfState::from((vec![STANDALONE_NODE_ID], vec![])));
        {
            let mut core = storage.wl();
            let entries = records
                .iter()
                .map(record_to_entry)
                .collect::<Result<Vec<_>, _>>()?;
            core.append(&entries)?;
            if let Some(hard_state) = hard_state {
                let last_index = records.last().map_or(0, |record| record.index);
                // A commit index beyond the recovered log would make raft panic; the log is the
                // truth for what survived.
                let raft_state = RaftHardState {
                    term: hard_state.term,
                    vote: hard_state.vote,
                    commit: hard_state.commit.min(last_index),
                    ..Default::default()
                };
                core.set_hardstate(raft_state);
            }
        }
        let config = Config {
            id: STANDALONE_NODE_ID,
            election_tick: ELECTION_TICKS,
            heartbeat_tick: HEARTBEAT_TICKS,
            max_size_per_msg: RAFT_MESSAGE_BYTES_MAX,
            max_inflight_msgs: RAFT_INFLIGHT_MESSAGES_MAX,
            applied: 0,
            ..Default::default()
        };
        config.validate()?;
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let node = RawNode::new(&config, storage, &logger)?;
        Ok(Consensus { node })
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

    pub fn next_ready(&mut self) -> Option<PendingReady> {
        if !self.node.has_ready() {
            return None;
        }
        let mut ready = self.node.ready();
        // A standalone node has no peers; the messages an ensemble would send are dropped here
        // until the peer transport exists.
        let _ = ready.take_messages();
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
        Some(PendingReady {
            entries,
            hard_state,
            committed,
            ready,
            raw_entries,
            raw_hard_state,
        })
    }

    /// The shell made `pending` durable: returns the entries committed as a result.
    pub fn persisted(&mut self, pending: PendingReady) -> Result<Vec<Committed>, ConsensusError> {
        let PendingReady {
            ready,
            raw_entries,
            raw_hard_state,
            ..
        } = pending;
        {
            let store = self.node.mut_store();
            let mut core = store.wl();
            core.append(&raw_entries)?;
            if let Some(state) = raw_hard_state {
                core.set_hardstate(state);
            }
        }
        let mut light = self.node.advance_append(ready);
        let _ = light.take_messages();
        if let Some(commit) = light.commit_index() {
            self.node.mut_store().wl().mut_hard_state().commit = commit;
        }
        Ok(light
            .take_committed_entries()
            .into_iter()
            .map(committed_from)
            .collect())
    }

    /// Everything up to `index` is applied: raft may forget those entries. Without snapshots the
    /// write-ahead log keeps them for recovery, so only the in-memory copy is released.
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
    let proposal_id = <[u8; 8]>::try_from(&entry.context[..]).map_or(0, u64::from_be_bytes);
    Committed {
        index: entry.index,
        term: entry.term,
        proposal_id,
        data: entry.data.to_vec(),
    }
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
    fn drive(
        consensus: &mut Consensus,
        log: &mut Vec<LogRecord>,
        hard: &mut Option<HardState>,
    ) -> Vec<Committed> {
        let mut applied = Vec::new();
        while let Some(mut pending) = consensus.next_ready() {
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
            applied.extend(consensus.persisted(pending).expect("persist"));
            if let Some(last) = applied.last() {
                consensus.applied(last.index).expect("applied");
            }
        }
        applied
    }

    #[test]
    fn single_voter_commits_proposals_after_persist_and_replays_them_after_restart() {
        let (mut log, mut hard) = (Vec::new(), None);
        let mut consensus = Consensus::open(&[], None).expect("open");
        consensus.campaign().expect("campaign");
        drive(&mut consensus, &mut log, &mut hard);
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
        let mut restarted = Consensus::open(&log, hard).expect("reopen");
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
            Consensus::open(&[record], None).err(),
            Some(ConsensusError::UnknownEntryType {
                index: 1,
                entry_type: 9
            })
        );
    }
}
