//! corral-tools: the `corral` server binary, the `corral-cli` client and small shared helpers.
//!
//! - `cli`: `corral-cli`, a zkCli.sh-like command-line client (commands, output, session).
//! - `inspect`: `corral-inspect`, which reads a data directory's WAL and snapshots.
//! - `logging`: a dependency-free stderr logger for the `log` facade.

pub mod cli;
pub mod inspect;
pub mod logging;
