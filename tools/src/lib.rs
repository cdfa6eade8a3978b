//! corral-tools: the `corral` server binary, the `corral-cli` client and small shared helpers.
//!
//! - `cli`: `corral-cli`, a zkCli.sh-like command-line client (commands, output, session).
//! - `logging`: a dependency-free stderr logger for the `log` facade.

pub mod cli;
pub mod logging;
