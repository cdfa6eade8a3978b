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
/// Lines the shell keeps for `history` and `redo`; older numbers are out of range.
pub const SHELL_HISTORY_MAX: usize = 1000;
/// Lines `history` lists: zkCli shows the latest ten and the `history` itself.
pub const HISTORY_LISTED: usize = 11;
/// Lines kept in the line editor's history and in `~/.corral_cli_history`.
pub const EDITOR_HISTORY_MAX: usize = 1000;
/// How long tab completion waits for the server's list of children before offering none.
pub const COMPLETION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);
/// Completions offered at once; a node with more children is not worth listing on a terminal.
pub const COMPLETIONS_MAX: usize = 1000;
