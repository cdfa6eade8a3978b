//! Server configuration: Apache ZooKeeper's zoo.cfg format and Corral's command-line flags.
//!
//! An operator should be able to swap ZooKeeper's binary for Corral and keep the zoo.cfg, so the
//! file is read the way ZooKeeper 3.8 reads it: as Java properties (`key=value`, `key: value` or
//! `key value`, `#`/`!` comment lines, backslash continuations and escapes, the last of repeated
//! keys wins, keys and values trimmed), with the same defaults and the same validation as
//! `QuorumPeerConfig`. Keys that ZooKeeper knows but a standalone Corral does not use, and keys
//! nobody knows, become warnings for the caller to log; they are never silently dropped.
//!
//! Flags (`--config`, `--port`, `--data-dir`, `--cores`) override the file whatever their order.

use std::collections::BTreeSet;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::fourlw::{KNOWN_WORDS, TELNET_CLOSE_NAME};
use crate::limits::{
    CORES_MAX, JUTE_MAX_BUFFER_CEILING, SNAP_COUNT_MIN, SNAP_RETAIN_COUNT_MIN, TICK_TIME_MS_MAX,
    ZOO_CFG_BYTES_MAX,
};

/// ZooKeeper's conventional client port.
pub const DEFAULT_CLIENT_PORT: u16 = 2181;
/// Where a Corral started with no arguments keeps its data.
pub const DEFAULT_DATA_DIR: &str = "./corral-data";
/// ZooKeeper's `ZooKeeperServer.DEFAULT_TICK_TIME`.
pub const DEFAULT_TICK_TIME_MS: u32 = 2000;
/// ZooKeeper's default limit of concurrent connections from one client address.
pub const DEFAULT_MAX_CLIENT_CNXNS: u32 = 60;
/// ZooKeeper's `jute.maxbuffer` default, 0xfffff: one byte short of 1 MiB.
pub const DEFAULT_JUTE_MAX_BUFFER: usize = 0xfffff;
/// ZooKeeper's `znode.container.checkIntervalMs` default: one minute.
pub const DEFAULT_CONTAINER_CHECK_INTERVAL_MS: u64 = 60_000;
/// The session timeout floor is this many ticks unless minSessionTimeout is set.
pub const MIN_SESSION_TIMEOUT_TICKS: i32 = 2;
/// The session timeout ceiling is this many ticks unless maxSessionTimeout is set.
pub const MAX_SESSION_TIMEOUT_TICKS: i32 = 20;
/// ZooKeeper's `snapCount` default: transactions between two snapshots.
pub const DEFAULT_SNAP_COUNT: u64 = 100_000;
/// ZooKeeper's `snapSizeLimitInKb` default (4 GiB): log bytes between two snapshots.
pub const DEFAULT_SNAP_SIZE_LIMIT_KIB: u64 = 4_194_304;
/// ZooKeeper's `autopurge.snapRetainCount` default.
pub const DEFAULT_SNAP_RETAIN_COUNT: usize = 3;
/// The word ZooKeeper always enables, because its own zkServer.sh status depends on it.
const ALWAYS_ENABLED_WORD: &str = "srvr";

/// Which four-letter words may run. ZooKeeper 3.8 enables only `srvr` unless
/// `4lw.commands.whitelist` says otherwise; `*` enables every word it knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FourLetterWhitelist {
    All,
    /// The enabled words; `srvr` is always among them, as in ZooKeeper.
    Only(BTreeSet<String>),
}

impl Default for FourLetterWhitelist {
    fn default() -> Self {
        FourLetterWhitelist::Only(BTreeSet::from([ALWAYS_ENABLED_WORD.to_owned()]))
    }
}

impl FourLetterWhitelist {
    /// Parses a `4lw.commands.whitelist` value the way ZooKeeper does: comma separated, each
    /// item trimmed, empty items skipped, any `*` item enabling everything. Also returns the
    /// listed words that are not four-letter words, which ZooKeeper accepts without a word.
    pub fn parse(value: &str) -> (FourLetterWhitelist, Vec<String>) {
        let items: Vec<&str> = value
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .collect();
        if items.contains(&"*") {
            return (FourLetterWhitelist::All, Vec::new());
        }
        let mut words = BTreeSet::from([ALWAYS_ENABLED_WORD.to_owned()]);
        let mut unknown = Vec::new();
        for item in items {
            if !is_known_command(item) {
                unknown.push(item.to_owned());
            }
            words.insert(item.to_owned());
        }
        (FourLetterWhitelist::Only(words), unknown)
    }

    pub fn allows(&self, word: &str) -> bool {
        match self {
            FourLetterWhitelist::All => is_known_command(word),
            FourLetterWhitelist::Only(words) => words.contains(word),
        }
    }
}

/// ZooKeeper's command names: the four-letter words and `telnet close`.
fn is_known_command(name: &str) -> bool {
    KNOWN_WORDS.contains(&name) || name == TELNET_CLOSE_NAME
}

#[derive(Clone, Debug, PartialEq)]
pub struct ServerConfig {
    pub client_port: u16,
    pub client_port_address: IpAddr,
    pub data_dir: PathBuf,
    /// Equal to `data_dir` unless dataLogDir is given.
    pub data_log_dir: PathBuf,
    pub tick_time_ms: u32,
    /// 2 × tickTime unless minSessionTimeout is set.
    pub min_session_timeout_ms: i32,
    /// 20 × tickTime unless maxSessionTimeout is set.
    pub max_session_timeout_ms: i32,
    /// Concurrent connections allowed from one client address; 0 means unlimited.
    pub max_client_cnxns: u32,
    pub four_letter_words: FourLetterWhitelist,
    /// Whether TTL nodes may be created (ZooKeeper's `zookeeper.extendedTypesEnabled`).
    pub extended_types_enabled: bool,
    pub jute_max_buffer: usize,
    /// `user:base64(sha1(user:password))`; authenticating as it grants every permission.
    pub super_digest: Option<String>,
    pub cores: usize,
    pub container_check_interval_ms: u64,
    /// Size of a write-ahead log segment, from ZooKeeper's `preAllocSize` (in KiB there).
    pub wal_segment_bytes: u64,
    /// Transactions applied between two snapshots (`snapCount`, at least `SNAP_COUNT_MIN`).
    pub snap_count: u64,
    /// Log bytes appended between two snapshots (`snapSizeLimitInKb` × 1024); `None` when the
    /// key is zero or negative, which disables the byte threshold as in ZooKeeper.
    pub snap_size_limit_bytes: Option<u64>,
    /// Snapshots kept after each new one (`autopurge.snapRetainCount`, at least
    /// `SNAP_RETAIN_COUNT_MIN`); the log is kept from the oldest of them on.
    pub snap_retain_count: usize,
    /// fdatasync the log before acknowledging a write (`forceSync`). ZooKeeper turns it off
    /// only for the exact value `no`, and so does Corral; off, a power failure can lose
    /// acknowledged writes, so it exists to measure what durability costs.
    pub force_sync: bool,
    /// Ignored and unknown keys and other oddities, for the caller to log.
    pub warnings: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        let data_dir = PathBuf::from(DEFAULT_DATA_DIR);
        ServerConfig {
            client_port: DEFAULT_CLIENT_PORT,
            client_port_address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            data_log_dir: data_dir.clone(),
            data_dir,
            tick_time_ms: DEFAULT_TICK_TIME_MS,
            min_session_timeout_ms: MIN_SESSION_TIMEOUT_TICKS * DEFAULT_TICK_TIME_MS as i32,
            max_session_timeout_ms: MAX_SESSION_TIMEOUT_TICKS * DEFAULT_TICK_TIME_MS as i32,
            max_client_cnxns: DEFAULT_MAX_CLIENT_CNXNS,
            four_letter_words: FourLetterWhitelist::default(),
            extended_types_enabled: false,
            jute_max_buffer: DEFAULT_JUTE_MAX_BUFFER,
            super_digest: None,
            cores: online_cores(),
            container_check_interval_ms: DEFAULT_CONTAINER_CHECK_INTERVAL_MS,
            wal_segment_bytes: corral_wal::limits::SEGMENT_BYTES_DEFAULT,
            snap_count: DEFAULT_SNAP_COUNT,
            snap_size_limit_bytes: Some(DEFAULT_SNAP_SIZE_LIMIT_KIB * 1024),
            snap_retain_count: DEFAULT_SNAP_RETAIN_COUNT,
            force_sync: true,
            warnings: Vec::new(),
        }
    }
}

impl ServerConfig {
    pub fn four_letter_allowed(&self, word: &str) -> bool {
        self.four_letter_words.allows(word)
    }
}

/// The cores this process may run on (its affinity mask and cgroup quota respected).
pub fn online_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("invalid value for {key}: `{value}` ({reason})")]
    InvalidValue {
        key: String,
        value: String,
        reason: String,
    },
    #[error("minSessionTimeout={min_ms} must not be larger than maxSessionTimeout={max_ms}")]
    SessionTimeoutRange { min_ms: i32, max_ms: i32 },
    #[error("config line {line}: {reason}")]
    Syntax { line: usize, reason: String },
    #[error("cannot read config file {}: {reason}", path.display())]
    Io { path: PathBuf, reason: String },
    #[error("unknown flag `{0}` (try --help)")]
    UnknownFlag(String),
    #[error("flag {0} needs a value (try --help)")]
    MissingValue(String),
    #[error("unexpected argument `{0}`: only one config file may be given")]
    UnexpectedArgument(String),
    /// `--help` was given; the payload is the usage text, to print to stdout before exiting 0.
    #[error("{0}")]
    HelpRequested(String),
}

/// The `--help` text.
pub fn usage() -> String {
    format!(
        "Usage: corral [OPTIONS] [ZOO_CFG]\n\
         \n\
         A ZooKeeper-compatible coordination server.\n\
         \n\
         Options:\n\
         \x20 --config FILE    read an Apache ZooKeeper zoo.cfg (also accepted as the only argument)\n\
         \x20 --port N         client port (default {DEFAULT_CLIENT_PORT}; 0 picks a free port)\n\
         \x20 --data-dir DIR   data directory (default {DEFAULT_DATA_DIR})\n\
         \x20 --cores N        shards, one per core (default: all cores this process may use)\n\
         \x20 --help           print this text\n\
         \n\
         Flags override the config file whatever their order. Flags also take the --flag=value form.\n"
    )
}

/// Flags as given on the command line, before the config file is read.
#[derive(Default)]
struct Flags {
    config: Option<PathBuf>,
    port: Option<u16>,
    data_dir: Option<PathBuf>,
    cores: Option<usize>,
}

/// Parses the command line (without argv\[0\]), reads the config file it names, and applies the
/// flags over the file.
pub fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Result<ServerConfig, ConfigError> {
    let flags = parse_flags(args)?;
    let mut config = match &flags.config {
        Some(path) => parse_zoo_cfg(&read_config_file(path)?, ServerConfig::default())?,
        None => ServerConfig::default(),
    };
    if let Some(port) = flags.port {
        config.client_port = port;
    }
    if let Some(data_dir) = flags.data_dir {
        // The transaction log follows the data directory unless the file put it elsewhere.
        if config.data_log_dir == config.data_dir {
            config.data_log_dir = data_dir.clone();
        }
        config.data_dir = data_dir;
    }
    if let Some(cores) = flags.cores {
        config.cores = cores;
    }
    Ok(config)
}

fn parse_flags<I: IntoIterator<Item = String>>(args: I) -> Result<Flags, ConfigError> {
    let mut flags = Flags::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--help" || arg == "-h" {
            return Err(ConfigError::HelpRequested(usage()));
        }
        if !arg.starts_with("--") {
            if flags.config.is_some() {
                return Err(ConfigError::UnexpectedArgument(arg));
            }
            // ZooKeeper's own launcher passes the config file as the only argument.
            flags.config = Some(PathBuf::from(arg));
            continue;
        }
        let (name, inline_value) = match arg.split_once('=') {
            Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
            None => (arg.clone(), None),
        };
        if !matches!(
            name.as_str(),
            "--config" | "--port" | "--data-dir" | "--cores"
        ) {
            return Err(ConfigError::UnknownFlag(arg));
        }
        let value = match inline_value.or_else(|| args.next()) {
            Some(value) => value,
            None => return Err(ConfigError::MissingValue(name)),
        };
        match name.as_str() {
            "--config" => flags.config = Some(PathBuf::from(value)),
            "--port" => flags.port = Some(parse_port(&name, &value)?),
            "--data-dir" => flags.data_dir = Some(parse_dir(&name, &value)?),
            _ => flags.cores = Some(parse_cores(&name, &value)?),
        }
    }
    Ok(flags)
}

fn parse_cores(key: &str, value: &str) -> Result<usize, ConfigError> {
    let cores: usize = value
        .parse()
        .map_err(|_| invalid(key, value, "expected a whole number"))?;
    if cores == 0 || cores > CORES_MAX {
        return Err(invalid(key, value, &format!("expected 1..={CORES_MAX}")));
    }
    Ok(cores)
}

/// Reads at most `ZOO_CFG_BYTES_MAX` bytes. Java reads properties files as ISO-8859-1; Corral
/// takes UTF-8 and falls back to ISO-8859-1 (every byte one character) like Java when the file
/// is not valid UTF-8.
fn read_config_file(path: &Path) -> Result<String, ConfigError> {
    let io_error = |reason: String| ConfigError::Io {
        path: path.to_owned(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| io_error(e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(ZOO_CFG_BYTES_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(e.to_string()))?;
    if bytes.len() as u64 > ZOO_CFG_BYTES_MAX {
        return Err(io_error(format!(
            "larger than {ZOO_CFG_BYTES_MAX} bytes; not a config file"
        )));
    }
    Ok(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => e.into_bytes().iter().map(|&b| char::from(b)).collect(),
    })
}

/// Which values the file set explicitly, so that derived defaults are computed after every key
/// is read (ZooKeeper derives the session timeouts from the final tickTime, whatever the order).
#[derive(Default)]
struct Explicit {
    min_session_timeout_ms: Option<i32>,
    max_session_timeout_ms: Option<i32>,
    data_log_dir: bool,
}

/// Applies a zoo.cfg's text over `base`. Session timeouts left unset are derived from the final
/// tickTime; a `base` whose timeouts differ from its own tick-derived defaults keeps them.
pub fn parse_zoo_cfg(text: &str, base: ServerConfig) -> Result<ServerConfig, ConfigError> {
    let properties = parse_properties(text)?;
    let base_min_derived = base.min_session_timeout_ms == ticks(MIN_SESSION_TIMEOUT_TICKS, &base);
    let base_max_derived = base.max_session_timeout_ms == ticks(MAX_SESSION_TIMEOUT_TICKS, &base);
    let base_log_follows = base.data_log_dir == base.data_dir;
    let mut config = base;
    let mut explicit = Explicit::default();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for property in &properties {
        if !seen.insert(&property.key) {
            config.warnings.push(format!(
                "line {}: {} is set more than once; the last value wins",
                property.line, property.key
            ));
        }
        apply_key(&mut config, &mut explicit, &property.key, &property.value)?;
    }
    if !explicit.data_log_dir && base_log_follows {
        config.data_log_dir = config.data_dir.clone();
    }
    resolve_session_timeouts(&mut config, &explicit, base_min_derived, base_max_derived)?;
    Ok(config)
}

fn ticks(count: i32, config: &ServerConfig) -> i32 {
    // TICK_TIME_MS_MAX keeps 20 × tickTime within an i32.
    count * config.tick_time_ms as i32
}

/// ZooKeeper's rule: -1 (or unset) means "derive from tickTime"; then min must not exceed max.
fn resolve_session_timeouts(
    config: &mut ServerConfig,
    explicit: &Explicit,
    base_min_derived: bool,
    base_max_derived: bool,
) -> Result<(), ConfigError> {
    let min_default = ticks(MIN_SESSION_TIMEOUT_TICKS, config);
    let max_default = ticks(MAX_SESSION_TIMEOUT_TICKS, config);
    config.min_session_timeout_ms = match explicit.min_session_timeout_ms {
        Some(-1) => min_default,
        Some(value) => value,
        None if base_min_derived => min_default,
        None => config.min_session_timeout_ms,
    };
    config.max_session_timeout_ms = match explicit.max_session_timeout_ms {
        Some(-1) => max_default,
        Some(value) => value,
        None if base_max_derived => max_default,
        None => config.max_session_timeout_ms,
    };
    if config.min_session_timeout_ms > config.max_session_timeout_ms {
        return Err(ConfigError::SessionTimeoutRange {
            min_ms: config.min_session_timeout_ms,
            max_ms: config.max_session_timeout_ms,
        });
    }
    Ok(())
}

fn apply_key(
    config: &mut ServerConfig,
    explicit: &mut Explicit,
    key: &str,
    value: &str,
) -> Result<(), ConfigError> {
    match key {
        "clientPort" => config.client_port = parse_port(key, value)?,
        "clientPortAddress" => config.client_port_address = parse_address(key, value)?,
        "dataDir" => config.data_dir = parse_dir(key, value)?,
        "dataLogDir" => {
            config.data_log_dir = parse_dir(key, value)?;
            explicit.data_log_dir = true;
        }
        "tickTime" => config.tick_time_ms = parse_tick_time(key, value)?,
        "minSessionTimeout" => explicit.min_session_timeout_ms = Some(parse_i32(key, value)?),
        "maxSessionTimeout" => explicit.max_session_timeout_ms = Some(parse_i32(key, value)?),
        "maxClientCnxns" => config.max_client_cnxns = parse_max_client_cnxns(key, value)?,
        "4lw.commands.whitelist" => {
            let (whitelist, unknown) = FourLetterWhitelist::parse(value);
            for word in unknown {
                config.warnings.push(format!(
                    "{key}: `{word}` is not a four-letter word ZooKeeper knows"
                ));
            }
            config.four_letter_words = whitelist;
        }
        "extendedTypesEnabled" => config.extended_types_enabled = parse_bool(key, value)?,
        "jute.maxbuffer" => config.jute_max_buffer = parse_jute_max_buffer(key, value)?,
        "superDigest"
        | "DigestAuthenticationProvider.superDigest"
        | "zookeeper.DigestAuthenticationProvider.superDigest" => {
            config.super_digest = Some(parse_super_digest(config, key, value)?);
        }
        "znode.container.checkIntervalMs" => {
            config.container_check_interval_ms = parse_interval_ms(key, value)?;
        }
        "preAllocSize" => config.wal_segment_bytes = parse_pre_alloc_size(key, value)?,
        "snapCount" => config.snap_count = parse_snap_count(config, key, value),
        "snapSizeLimitInKb" => {
            config.snap_size_limit_bytes = parse_snap_size_limit(config, key, value);
        }
        "autopurge.snapRetainCount" => {
            config.snap_retain_count = parse_snap_retain_count(config, key, value)?;
        }
        "forceSync" => {
            config.force_sync = value != "no";
            if !config.force_sync {
                config.warnings.push(format!(
                    "{key}=no: writes are acknowledged before they are synced to disk; \
                     a power failure can lose them"
                ));
            }
        }
        "autopurge.purgeInterval" => config.warnings.push(format!(
            "{key} is ignored: Corral purges old snapshots after every snapshot it writes"
        )),
        _ => config.warnings.push(unused_key_warning(key)),
    }
    Ok(())
}

/// `preAllocSize` is in KiB, as in ZooKeeper; Corral preallocates whole log segments of that
/// size, rounded up to whole sectors.
fn parse_pre_alloc_size(key: &str, value: &str) -> Result<u64, ConfigError> {
    use corral_wal::limits::{SECTOR_BYTES, SEGMENT_BYTES_MAX, SEGMENT_BYTES_MIN};
    let reason = format!(
        "expected KiB in {}..={}",
        SEGMENT_BYTES_MIN / 1024,
        SEGMENT_BYTES_MAX / 1024
    );
    let kib: u64 = value.parse().map_err(|_| invalid(key, value, &reason))?;
    let bytes = kib
        .checked_mul(1024)
        .map(|bytes| bytes.div_ceil(SECTOR_BYTES) * SECTOR_BYTES)
        .filter(|bytes| (SEGMENT_BYTES_MIN..=SEGMENT_BYTES_MAX).contains(bytes))
        .ok_or_else(|| invalid(key, value, &reason))?;
    Ok(bytes)
}

/// ZooKeeper reads `snapCount` with `Integer.getInteger`, which falls back to the default for
/// a value that is not an int, and raises anything below 2 to 2 with a warning; so does Corral.
fn parse_snap_count(config: &mut ServerConfig, key: &str, value: &str) -> u64 {
    match value.parse::<i32>() {
        Ok(count) if i64::from(count) >= SNAP_COUNT_MIN as i64 => count as u64,
        Ok(count) => {
            config.warnings.push(format!(
                "{key}={count} is below {SNAP_COUNT_MIN}; using {SNAP_COUNT_MIN}"
            ));
            SNAP_COUNT_MIN
        }
        Err(_) => {
            config.warnings.push(format!(
                "{key}=`{value}` is not a 32-bit integer; using the default {DEFAULT_SNAP_COUNT}"
            ));
            DEFAULT_SNAP_COUNT
        }
    }
}

/// ZooKeeper reads `snapSizeLimitInKb` with `Long.getLong` (default on a value that is not a
/// long); zero or less disables the byte threshold.
fn parse_snap_size_limit(config: &mut ServerConfig, key: &str, value: &str) -> Option<u64> {
    let default = Some(DEFAULT_SNAP_SIZE_LIMIT_KIB * 1024);
    match value.parse::<i64>() {
        Ok(kib) if kib <= 0 => None,
        // Beyond 16 EiB no log ever reaches the threshold: the same as disabled.
        Ok(kib) => (kib as u64).checked_mul(1024),
        Err(_) => {
            config.warnings.push(format!(
                "{key}=`{value}` is not a 64-bit integer; using the default \
                 {DEFAULT_SNAP_SIZE_LIMIT_KIB}"
            ));
            default
        }
    }
}

/// ZooKeeper parses `autopurge.snapRetainCount` with `Integer.parseInt` (a bad value is a
/// config error) and raises a count below 3 to 3 with a warning.
fn parse_snap_retain_count(
    config: &mut ServerConfig,
    key: &str,
    value: &str,
) -> Result<usize, ConfigError> {
    let count: i32 = parse_i32(key, value)?;
    match usize::try_from(count) {
        Ok(count) if count >= SNAP_RETAIN_COUNT_MIN => Ok(count),
        _ => {
            config.warnings.push(format!(
                "{key}={count} is below {SNAP_RETAIN_COUNT_MIN}; keeping {SNAP_RETAIN_COUNT_MIN}"
            ));
            Ok(SNAP_RETAIN_COUNT_MIN)
        }
    }
}

/// Keys of Apache ZooKeeper 3.8 that a standalone Corral has no use for.
const IGNORED_KEYS: &[&str] = &[
    "initLimit",
    "syncLimit",
    "connectToLearnerMasterLimit",
    "electionAlg",
    "peerType",
    "syncEnabled",
    "dynamicConfigFile",
    "standaloneEnabled",
    "reconfigEnabled",
    "sslQuorum",
    "portUnification",
    "sslQuorumReloadCertFiles",
    "quorumListenOnAllIPs",
    "localSessionsEnabled",
    "localSessionsUpgradingEnabled",
    "secureClientPort",
    "secureClientPortAddress",
    "observerMasterPort",
    "clientPortListenBacklog",
    "oraclePath",
    "globalOutstandingLimit",
    "commitLogCount",
    "txnLogSizeLimitInKb",
    "fsync.warningthresholdms",
    "maxCnxns",
    "serverCnxnFactory",
    "skipACL",
    "readonlymode.enabled",
    "digest.enabled",
    "leaderServes",
    "cnxTimeout",
    "electionPortBindRetry",
    "audit.enable",
    "enforceQuota",
    "flushDelay",
    "maxWriteQueuePollTime",
    "maxBatchSize",
    "requestThrottleLimit",
    "requestThrottleStallTime",
    "requestThrottleDropStale",
    "requestStaleLatencyCheck",
    "requestStaleConnectionCheck",
    "throttledOpWaitTime",
    "maxResponseCacheSize",
    "maxGetChildrenResponseCacheSize",
    "closeSessionTxn.enabled",
    "sessionRequireClientSASLAuth",
    "jute.maxbuffer.extrasize",
    "znode.container.maxPerMinute",
    "znode.container.maxNeverUsedIntervalMs",
    "serializeLastProcessedZxid.enabled",
    "clientCnxnSocket",
];

/// Families of ZooKeeper keys (ensemble members, admin server, purging, TLS, SASL, metrics...)
/// that a standalone Corral has no use for.
const IGNORED_KEY_PREFIXES: &[&str] = &[
    "server.",
    "group.",
    "weight.",
    "admin.",
    "autopurge.",
    "ssl.",
    "quorum.",
    "authProvider.",
    "metricsProvider.",
    "multiAddress.",
    "jvm.pause.",
    "netty.",
    "learner.",
    "connection_throttle_",
    "enforce.auth.",
    "zookeeper.",
];

fn unused_key_warning(key: &str) -> String {
    let known = IGNORED_KEYS.contains(&key)
        || IGNORED_KEY_PREFIXES
            .iter()
            .any(|prefix| key.starts_with(prefix));
    if known {
        format!("{key} is an Apache ZooKeeper setting a standalone Corral does not use; ignored")
    } else {
        format!("{key} is not a known setting; ignored")
    }
}

fn invalid(key: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError::InvalidValue {
        key: key.to_owned(),
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

fn parse_i32(key: &str, value: &str) -> Result<i32, ConfigError> {
    value
        .parse()
        .map_err(|_| invalid(key, value, "expected a 32-bit integer"))
}

fn parse_port(key: &str, value: &str) -> Result<u16, ConfigError> {
    value
        .parse()
        .map_err(|_| invalid(key, value, "expected a port number 0..=65535"))
}

fn parse_dir(key: &str, value: &str) -> Result<PathBuf, ConfigError> {
    if value.is_empty() {
        return Err(invalid(key, value, "expected a directory path"));
    }
    Ok(PathBuf::from(value))
}

fn parse_tick_time(key: &str, value: &str) -> Result<u32, ConfigError> {
    let reason = format!("expected milliseconds 1..={TICK_TIME_MS_MAX}");
    let tick_time: u32 = value.parse().map_err(|_| invalid(key, value, &reason))?;
    if tick_time == 0 || tick_time > TICK_TIME_MS_MAX {
        return Err(invalid(key, value, &reason));
    }
    Ok(tick_time)
}

fn parse_max_client_cnxns(key: &str, value: &str) -> Result<u32, ConfigError> {
    value
        .parse()
        .map_err(|_| invalid(key, value, "expected a count, 0 for unlimited"))
}

/// Like ZooKeeper's `parseBoolean`: `true` or `false` in any case, nothing else.
fn parse_bool(key: &str, value: &str) -> Result<bool, ConfigError> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(invalid(key, value, "expected true or false"))
    }
}

fn parse_jute_max_buffer(key: &str, value: &str) -> Result<usize, ConfigError> {
    let reason = format!("expected bytes 1..={JUTE_MAX_BUFFER_CEILING}");
    let bytes: i64 = value.parse().map_err(|_| invalid(key, value, &reason))?;
    match usize::try_from(bytes) {
        Ok(bytes) if bytes > 0 && bytes <= JUTE_MAX_BUFFER_CEILING => Ok(bytes),
        _ => Err(invalid(key, value, &reason)),
    }
}

fn parse_interval_ms(key: &str, value: &str) -> Result<u64, ConfigError> {
    // ZooKeeper reads this one as an int, and a timer period must be positive.
    let reason = "expected milliseconds 1..=2147483647";
    let interval: i32 = value.parse().map_err(|_| invalid(key, value, reason))?;
    match u64::try_from(interval) {
        Ok(interval) if interval > 0 => Ok(interval),
        _ => Err(invalid(key, value, reason)),
    }
}

/// Length of base64(sha1(...)): 20 bytes make 28 characters with padding.
const SUPER_DIGEST_HASH_CHARS: usize = 28;

fn parse_super_digest(
    config: &mut ServerConfig,
    key: &str,
    value: &str,
) -> Result<String, ConfigError> {
    match value.split_once(':') {
        Some((user, hash)) if !user.is_empty() && !hash.is_empty() => {
            if hash.len() != SUPER_DIGEST_HASH_CHARS {
                config.warnings.push(format!(
                    "{key}: the digest after `{user}:` is not {SUPER_DIGEST_HASH_CHARS} \
                     characters of base64 SHA-1, so no password can match it"
                ));
            }
            Ok(value.to_owned())
        }
        // The value is a credential: never echo it into an error that ends up in logs.
        _ => Err(invalid(
            key,
            "<hidden>",
            "expected user:base64(sha1(user:password))",
        )),
    }
}

/// An IP literal (IPv6 with or without brackets) or a host name resolved now, as ZooKeeper's
/// `InetAddress.getByName` does.
fn parse_address(key: &str, value: &str) -> Result<IpAddr, ConfigError> {
    let literal = value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(value);
    if let Ok(address) = literal.parse::<IpAddr>() {
        return Ok(address);
    }
    let resolved = (value, 0u16)
        .to_socket_addrs()
        .map_err(|e| invalid(key, value, &format!("not an address: {e}")))?
        .next();
    match resolved {
        Some(address) => Ok(address.ip()),
        None => Err(invalid(key, value, "host name has no address")),
    }
}

/// One `key=value` pair of a properties file, keys and values unescaped and trimmed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Property {
    /// 1-based line where the pair starts.
    pub line: usize,
    pub key: String,
    pub value: String,
}

/// Splits Java properties text into pairs, in file order (repeated keys are all returned).
pub fn parse_properties(text: &str) -> Result<Vec<Property>, ConfigError> {
    let lines: Vec<&str> = split_natural_lines(text);
    let mut properties = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let start_line = index + 1;
        let first = trim_properties_whitespace(lines[index]);
        index += 1;
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        let mut logical = String::from(first);
        while ends_with_odd_backslashes(&logical) {
            logical.pop();
            match lines.get(index) {
                Some(next) => logical.push_str(trim_properties_whitespace(next)),
                None => break,
            }
            index += 1;
        }
        let (raw_key, raw_value) = split_key_value(&logical);
        let key = unescape(raw_key, start_line)?;
        let value = unescape(raw_value, start_line)?;
        properties.push(Property {
            line: start_line,
            key: java_trim(&key).to_owned(),
            value: java_trim(&value).to_owned(),
        });
    }
    Ok(properties)
}

/// Java ends a line at `\n`, `\r` or `\r\n`.
fn split_natural_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find(['\n', '\r']) {
            Some(end) => {
                lines.push(&rest[..end]);
                let skip = if rest[end..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = &rest[end + skip..];
            }
            None => {
                lines.push(rest);
                rest = "";
            }
        }
    }
    lines
}

/// Properties whitespace is space, tab and form feed only.
fn is_properties_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0c')
}

fn trim_properties_whitespace(line: &str) -> &str {
    line.trim_start_matches(is_properties_whitespace)
}

/// Java's `String.trim`, which ZooKeeper applies to every key and value: it removes every
/// character up to and including the space.
fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

fn ends_with_odd_backslashes(s: &str) -> bool {
    s.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
}

/// The key ends at the first unescaped `=`, `:` or whitespace; whitespace and at most one `=` or
/// `:` separate it from the value.
fn split_key_value(line: &str) -> (&str, &str) {
    let mut escaped = false;
    let mut key_end = line.len();
    for (at, c) in line.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '=' || c == ':' || is_properties_whitespace(c) {
            key_end = at;
            break;
        }
    }
    let key = &line[..key_end];
    let mut rest = line[key_end..].trim_start_matches(is_properties_whitespace);
    if let Some(stripped) = rest.strip_prefix(['=', ':']) {
        rest = stripped.trim_start_matches(is_properties_whitespace);
    }
    (key, rest)
}

fn unescape(raw: &str, line: usize) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let code = u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 4);
                match code.and_then(char::from_u32) {
                    Some(decoded) => out.push(decoded),
                    None => {
                        return Err(ConfigError::Syntax {
                            line,
                            reason: format!("malformed \\uxxxx escape `\\u{hex}`"),
                        })
                    }
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> ServerConfig {
        parse_zoo_cfg(text, ServerConfig::default()).expect("valid zoo.cfg")
    }

    #[test]
    fn snapshot_keys_have_zookeepers_defaults() {
        let config = ServerConfig::default();
        assert_eq!(config.snap_count, 100_000);
        assert_eq!(config.snap_size_limit_bytes, Some(4 * 1024 * 1024 * 1024));
        assert_eq!(config.snap_retain_count, 3);
    }

    #[test]
    fn snap_count_is_raised_to_two_and_falls_back_on_junk() {
        let config = cfg("snapCount=500\n");
        assert_eq!((config.snap_count, config.warnings.len()), (500, 0));
        let config = cfg("snapCount=1\n");
        assert_eq!(config.snap_count, 2);
        assert_eq!(config.warnings, ["snapCount=1 is below 2; using 2"]);
        let config = cfg("snapCount=lots\n");
        assert_eq!(config.snap_count, DEFAULT_SNAP_COUNT);
        assert_eq!(config.warnings.len(), 1);
    }

    #[test]
    fn snap_size_limit_is_in_kib_and_disabled_by_zero_or_less() {
        assert_eq!(
            cfg("snapSizeLimitInKb=8\n").snap_size_limit_bytes,
            Some(8192)
        );
        assert_eq!(cfg("snapSizeLimitInKb=0\n").snap_size_limit_bytes, None);
        assert_eq!(cfg("snapSizeLimitInKb=-5\n").snap_size_limit_bytes, None);
        let config = cfg("snapSizeLimitInKb=x\n");
        assert_eq!(config.snap_size_limit_bytes, Some(4_194_304 * 1024));
        assert_eq!(config.warnings.len(), 1);
    }

    #[test]
    fn retain_count_is_at_least_three_and_purge_interval_is_ignored() {
        assert_eq!(cfg("autopurge.snapRetainCount=7\n").snap_retain_count, 7);
        let config = cfg("autopurge.snapRetainCount=1\n");
        assert_eq!(config.snap_retain_count, 3);
        assert_eq!(
            config.warnings,
            ["autopurge.snapRetainCount=1 is below 3; keeping 3"]
        );
        assert!(matches!(
            parse_zoo_cfg("autopurge.snapRetainCount=x\n", ServerConfig::default()),
            Err(ConfigError::InvalidValue { key, .. }) if key == "autopurge.snapRetainCount"
        ));
        let config = cfg("autopurge.purgeInterval=24\n");
        assert_eq!(
            config.warnings,
            [
                "autopurge.purgeInterval is ignored: Corral purges old snapshots after every \
              snapshot it writes"
            ]
        );
    }
}
