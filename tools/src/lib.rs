//! corral-tools: the `corral` server binary and its small shared helpers.
//!
//! - `logging`: a dependency-free stderr logger for the `log` facade.

pub mod logging;
