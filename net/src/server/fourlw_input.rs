//! Gathers what the four-letter words print from the running server. This reads every shard's
//! counters and watch tables, which is fine for an operator's command and is never on the
//! request path.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::fourlw::{
    corral_full_version, environment, file_descriptor_counts, last_op_name, not_whitelisted_reply,
    render, word_needs, ConfInfo, ConnectionInfo, EnvironmentFacts, FourLetterInput, Latency,
    ServerStats,
};

use super::shard::Shard;
use super::stats::{self, ConnectionStats};
use super::{lock, Shared};

pub fn render_word(shard: &Shard, word: &str) -> String {
    let shared = &shard.shared;
    if !shared.config.four_letter_allowed(word) {
        return not_whitelisted_reply(word);
    }
    match word {
        "crst" => {
            for connection in connections(shared) {
                connection.reset();
            }
            return "Connection stats reset.\n".to_owned();
        }
        "srst" => {
            shared.stats.reset();
            return "Server stats reset.\n".to_owned();
        }
        _ => {}
    }
    let input = gather(shard, word);
    render(word, &input).unwrap_or_default()
}

fn connections(shared: &Shared) -> Vec<Arc<ConnectionStats>> {
    lock(&shared.connections).values().cloned().collect()
}

fn latency(latency: &stats::Latency) -> Latency {
    let (count, total_ms, min_ms, max_ms) = latency.raw();
    Latency {
        count,
        total_ms,
        min_ms,
        max_ms,
    }
}

fn gather(shard: &Shard, word: &str) -> FourLetterInput {
    let shared = &shard.shared;
    let state = shard.state();
    let needs = word_needs(word);
    let all_connections = connections(shared);
    let (open_fds, max_fds) = file_descriptor_counts();
    let watch_count: usize = shared
        .watches
        .iter()
        .map(|watches| lock(watches).count())
        .sum();
    let stats = ServerStats {
        server_state: "standalone".to_owned(),
        latency: latency(&shared.stats.latency),
        packets_received: shared.stats.packets_received.load(Ordering::Relaxed),
        packets_sent: shared.stats.packets_sent.load(Ordering::Relaxed),
        alive_connections: all_connections.len() as u64,
        outstanding_requests: shared.stats.outstanding.load(Ordering::Relaxed).max(0) as u64,
        last_processed_zxid: state.last_zxid(),
        node_count: state.node_count() as u64,
        watch_count: watch_count as u64,
        ephemerals_count: state.ephemeral_count() as u64,
        approximate_data_size: state.approximate_data_size(),
        global_sessions: state.sessions().count() as u64,
        local_sessions: 0,
        uptime_ms: shared.started.elapsed().as_millis() as u64,
        open_file_descriptors: open_fds,
        max_file_descriptors: max_fds,
        ..ServerStats::default()
    };
    let (data_dir_size, data_log_size) = if word == "dirs" {
        (
            directory_bytes(&shared.config.data_dir),
            directory_bytes(&shared.config.data_log_dir),
        )
    } else {
        (0, 0)
    };
    let mut conf = ConfInfo::from_config(&shared.config, data_dir_size, data_log_size);
    conf.client_port = shared.client_port();
    let mut input = FourLetterInput {
        serving: true,
        read_only: false,
        version: corral_full_version(),
        stats,
        conf,
        ..FourLetterInput::default()
    };
    if needs.connections {
        input.connections = all_connections
            .iter()
            .map(|connection| connection_info(connection))
            .collect();
    }
    if needs.data_watches {
        let mut pairs = Vec::new();
        let sessions = session_of_connection(shard);
        for watches in &shared.watches {
            let watches = lock(watches);
            for (conn_id, path) in watches.pairs() {
                let session = sessions.get(&conn_id).copied().unwrap_or(0);
                pairs.push((session, path));
            }
        }
        input.data_watches = pairs;
    }
    if needs.sessions_and_ephemerals {
        input.ephemerals = state
            .sessions()
            .map(|(session_id, _)| (session_id, state.session_ephemerals(session_id)))
            .filter(|(_, paths)| !paths.is_empty())
            .collect();
    }
    if needs.environment {
        input.environment = environment(&environment_facts());
    }
    input
}

/// Connection id → session id, from the registry every shard maintains.
fn session_of_connection(shard: &Shard) -> HashMap<u64, i64> {
    lock(&shard.shared.connections)
        .iter()
        .map(|(&conn_id, stats)| (conn_id, stats.session_id.load(Ordering::Relaxed)))
        .collect()
}

fn connection_info(connection: &ConnectionStats) -> ConnectionInfo {
    let opcode = connection.last_opcode.load(Ordering::Relaxed);
    ConnectionInfo {
        remote: connection.peer,
        interest_ops: 1,
        queued: connection.queued.load(Ordering::Relaxed),
        packets_received: connection.received.load(Ordering::Relaxed),
        packets_sent: connection.sent.load(Ordering::Relaxed),
        session_id: connection.session_id.load(Ordering::Relaxed),
        last_op: if opcode == -1 {
            "NA"
        } else {
            last_op_name(opcode)
        },
        established_ms: connection.established_ms,
        session_timeout_ms: connection.timeout_ms.load(Ordering::Relaxed),
        last_cxid: connection.last_cxid.load(Ordering::Relaxed),
        last_zxid: connection.last_zxid.load(Ordering::Relaxed),
        last_response_ms: connection.last_response_ms.load(Ordering::Relaxed),
        last_latency_ms: connection.last_latency_ms.load(Ordering::Relaxed),
        latency: latency(&connection.latency),
    }
}

fn environment_facts() -> EnvironmentFacts {
    let variable = |name: &str| std::env::var(name).unwrap_or_default();
    EnvironmentFacts {
        version: corral_full_version(),
        host_name: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|name| name.trim().to_owned())
            .unwrap_or_default(),
        os_version: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|release| release.trim().to_owned())
            .unwrap_or_default(),
        user_name: variable("USER"),
        user_home: variable("HOME"),
        working_dir: std::env::current_dir()
            .map(|dir| dir.display().to_string())
            .unwrap_or_default(),
        memory_free_mb: 0,
        memory_max_mb: 0,
        memory_total_mb: 0,
    }
}

/// Bytes of the files under `dir`, as `dirs` reports them; unreadable entries count as empty.
fn directory_bytes(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(metadata) if metadata.is_dir() => directory_bytes(&entry.path()),
            Ok(metadata) => metadata.len(),
            Err(_) => 0,
        })
        .sum()
}
