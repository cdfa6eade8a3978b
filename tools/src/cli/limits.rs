//! Bounds of the command-line client, each with the reason for its value.

use std::time::Duration;

/// How long to wait for a session before giving up: a CLI should fail, not hang, on a dead server.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Session timeout asked for; zkCli asks for 30 s too.
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `quit` waits for the server to confirm the session close, so ephemerals go at once.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest input line accepted; ZooKeeper's default jute.maxbuffer (1 MiB) bounds useful data.
pub const LINE_BYTES_MAX: usize = 1024 * 1024;
/// Input lines read ahead of the command being executed.
pub const LINES_QUEUED_MAX: usize = 64;
/// Watches left set by `get -w`, `ls -w` and `stat -w` that have not fired yet.
pub const WATCHES_PENDING_MAX: usize = 4096;
/// Nodes visited by `ls -R` and `deleteall`; past it they stop with an error, not a huge walk.
pub const SUBTREE_NODES_MAX: usize = 1_000_000;
