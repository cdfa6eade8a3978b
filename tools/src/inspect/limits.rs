//! Bounds of `corral-inspect`, each with the reason for its value.

/// Data bytes `tree --data` prints per node before eliding the rest: a line per node must stay
/// readable, and the full value is one `get` away on a running server.
pub const DATA_PRINT_BYTES_MAX: usize = 1024;
/// Ops of one multi listed by `wal --txns`; ZooKeeper multis are small, and a forged huge one
/// must not flood the terminal.
pub const MULTI_OPS_PRINT_MAX: usize = 1000;
/// Problems `verify` lists one by one before it only counts them: a disk of junk would otherwise
/// print a line per sector.
pub const PROBLEMS_PRINT_MAX: usize = 1000;
