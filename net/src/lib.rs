//! corral-net: the client protocol and the server shell around the engine.
//!
//! - `jute`: ZooKeeper's client records — request decoding, response and event encoding.
//! - `config`: zoo.cfg and command-line configuration.
//! - `fourlw`: the four-letter words' output.
//! - `server`: glommio shards, connections, sessions, watches and the write pipeline.
//! - `limits`: every bound this crate enforces.

pub mod config;
pub mod fourlw;
pub mod jute;
pub mod limits;
pub mod server;
