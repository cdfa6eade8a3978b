//! The four-letter words (`ruok`, `srvr`, `mntr`, ...), rendered byte for byte in the shape
//! Apache ZooKeeper 3.8 prints them, so that zkServer.sh, monitoring agents and kazoo's
//! `server_version` parse Corral's answers as they parse ZooKeeper's.
//!
//! A connection whose first four bytes spell a known word gets that word's text and is closed.
//! The server gathers a plain [`FourLetterInput`] (only the parts [`word_needs`] asks for) and
//! calls [`render`]; this module does no I/O and reads no clocks.
//!
//! Where ZooKeeper prints in hash-map order (watches, ephemerals, mntr's metrics), Corral prints
//! in a fixed order: sessions and paths sorted, mntr in the order a 3.8.0 standalone printed it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use crate::config::ServerConfig;

/// Every word ZooKeeper 3.8 recognises at the start of a connection (`*` in the whitelist
/// enables them all). `hash` prints the digest log, which Corral does not keep: it prints
/// nothing, as ZooKeeper does with digests disabled.
pub const KNOWN_WORDS: [&str; 18] = [
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk", "srvr", "srst", "stat",
    "wchc", "wchp", "wchs", "mntr", "isro", "hash",
];

/// Telnet's "interrupt process" sequence: ZooKeeper recognises it as a command named
/// `telnet close` that only closes the connection.
pub const TELNET_CLOSE_BYTES: [u8; 4] = [0xff, 0xf4, 0xff, 0xfd];
/// The name ZooKeeper gives [`TELNET_CLOSE_BYTES`], used in the not-whitelisted reply.
pub const TELNET_CLOSE_NAME: &str = "telnet close";

/// What the word commands print while the server is not yet (or no longer) serving.
pub const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

/// ZooKeeper's default text trace mask, what `gtmk` prints until `stmk` changes it.
pub const DEFAULT_TRACE_MASK: i64 = 306;

/// The ZooKeeper release whose wire protocol and word formats Corral follows. Clients (kazoo's
/// `server_version`, for one) take the version from the digits before the first `-`.
pub const ZOOKEEPER_COMPATIBLE_VERSION: &str = "3.8.0";

/// `Zookeeper version:` text: ZooKeeper's `<version>-<revision>, built on <date>` shape with
/// Corral's version in the revision's place. The build date comes from `CORRAL_BUILD_DATE` at
/// compile time when the build sets it.
pub fn corral_full_version() -> String {
    let built_on = option_env!("CORRAL_BUILD_DATE").unwrap_or("unknown date");
    format!(
        "{ZOOKEEPER_COMPATIBLE_VERSION}-corral-{}, built on {built_on}",
        env!("CARGO_PKG_VERSION")
    )
}

/// The command named by a connection's first four bytes, if any.
pub fn four_letter_word(first_four_bytes: [u8; 4]) -> Option<&'static str> {
    if first_four_bytes == TELNET_CLOSE_BYTES {
        return Some(TELNET_CLOSE_NAME);
    }
    KNOWN_WORDS
        .iter()
        .copied()
        .find(|word| word.as_bytes() == first_four_bytes)
}

/// Whether a connection's first four bytes are a command rather than a packet length. Every
/// such value is far above any jute.maxbuffer, so no real packet is mistaken for one.
pub fn is_four_letter_word(first_four_bytes: [u8; 4]) -> bool {
    four_letter_word(first_four_bytes).is_some()
}

/// ZooKeeper's answer to a known word that the whitelist does not enable.
pub fn not_whitelisted_reply(word: &str) -> String {
    format!("{word} is not executed because it is not in the whitelist.\n")
}

/// The complete reply to a connection that opened with `first_four_bytes`: `None` when they
/// are not a command (read them as a packet length) or for `telnet close` (just close).
/// `stmk` must be handled by the caller, which reads its 8-byte mask first: see
/// [`render_set_trace_mask`].
pub fn respond(
    first_four_bytes: [u8; 4],
    config: &ServerConfig,
    input: &FourLetterInput,
) -> Option<String> {
    let word = four_letter_word(first_four_bytes)?;
    if !config.four_letter_allowed(word) {
        return Some(not_whitelisted_reply(word));
    }
    render(word, input)
}

/// `stmk` prints the mask it was sent (8 bytes, big-endian, after the word).
pub fn render_set_trace_mask(mask: i64) -> String {
    mask.to_string()
}

/// Request latencies in whole milliseconds, as ZooKeeper's AvgMinMaxCounter keeps them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Latency {
    pub count: u64,
    pub total_ms: u64,
    /// Ignored while `count` is 0 (printed as 0).
    pub min_ms: u64,
    pub max_ms: u64,
}

impl Latency {
    pub fn min_ms(&self) -> u64 {
        if self.count == 0 {
            0
        } else {
            self.min_ms
        }
    }

    /// The server-wide average: total / count rounded half up to 4 decimals, as a double.
    pub fn avg_ms_rounded(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let count = u128::from(self.count);
        // Half-up rounding of total/count to 1/10000, done exactly in integers.
        let scaled = (u128::from(self.total_ms) * 20_000 + count) / (2 * count);
        scaled as f64 / 10_000.0
    }

    /// A connection's average: integer division, as ServerCnxn computes it.
    pub fn avg_ms_truncated(&self) -> u64 {
        self.total_ms.checked_div(self.count).unwrap_or(0)
    }
}

/// Server-wide numbers printed by `srvr`, `stat` and `mntr`.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerStats {
    /// ZooKeeper's `server_state`: `standalone`, `leader`, `follower` or `observer`.
    pub server_state: String,
    pub latency: Latency,
    pub packets_received: u64,
    pub packets_sent: u64,
    pub alive_connections: u64,
    pub outstanding_requests: u64,
    pub last_processed_zxid: i64,
    /// ZooKeeper counts its system nodes too: an empty 3.8 tree reports 5.
    pub node_count: u64,
    /// Data and child watch registrations together (`zk_watch_count`).
    pub watch_count: u64,
    pub ephemerals_count: u64,
    /// Sum of path lengths and data lengths over all nodes.
    pub approximate_data_size: u64,
    pub global_sessions: u64,
    pub local_sessions: u64,
    pub uptime_ms: u64,
    pub open_file_descriptors: u64,
    pub max_file_descriptors: u64,
    /// Sizes of responses sent, in bytes; -1 until the first response, as in ZooKeeper.
    pub last_client_response_size: i64,
    pub min_client_response_size: i64,
    pub max_client_response_size: i64,
    pub auth_failed_count: u64,
}

impl Default for ServerStats {
    fn default() -> Self {
        ServerStats {
            server_state: "standalone".to_owned(),
            latency: Latency::default(),
            packets_received: 0,
            packets_sent: 0,
            alive_connections: 0,
            outstanding_requests: 0,
            last_processed_zxid: 0,
            node_count: 0,
            watch_count: 0,
            ephemerals_count: 0,
            approximate_data_size: 0,
            global_sessions: 0,
            local_sessions: 0,
            uptime_ms: 0,
            open_file_descriptors: 0,
            max_file_descriptors: 0,
            last_client_response_size: -1,
            min_client_response_size: -1,
            max_client_response_size: -1,
            auth_failed_count: 0,
        }
    }
}

/// One client connection, as `stat` and `cons` print it.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectionInfo {
    pub remote: SocketAddr,
    /// Java selector interest ops: 1 while reading, 5 with a write pending, 0 while suspended
    /// (ZooKeeper shows 0 for the connection asking the word itself).
    pub interest_ops: u32,
    pub queued: u64,
    pub packets_received: u64,
    pub packets_sent: u64,
    /// 0 until the session is established; then `cons` prints the details below.
    pub session_id: i64,
    /// ZooKeeper's abbreviation of the last operation ([`last_op_name`]); `NA` before any.
    pub last_op: &'static str,
    /// When the connection was accepted, milliseconds since the Unix epoch.
    pub established_ms: i64,
    pub session_timeout_ms: i32,
    /// -1 before the first request with a non-negative xid.
    pub last_cxid: i64,
    /// -1 before the first response.
    pub last_zxid: i64,
    /// A monotonic milliseconds clock reading (ZooKeeper's `Time.currentElapsedTime`).
    pub last_response_ms: i64,
    pub last_latency_ms: u64,
    pub latency: Latency,
}

/// A group of sessions or connections expiring at the same time (ZooKeeper's ExpiryQueue).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExpiryBucket<T> {
    /// Milliseconds since the Unix epoch.
    pub expire_at_ms: i64,
    pub members: Vec<T>,
}

/// What `conf` and `dirs` print.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfInfo {
    pub client_port: u16,
    /// -1: Corral has no TLS port.
    pub secure_client_port: i32,
    pub data_dir: PathBuf,
    pub data_dir_size: u64,
    pub data_log_dir: PathBuf,
    pub data_log_size: u64,
    pub tick_time_ms: u32,
    pub max_client_cnxns: u32,
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    /// -1: the operating system's default backlog.
    pub client_port_listen_backlog: i32,
    pub server_id: i64,
}

impl ConfInfo {
    /// `conf` for a standalone server; the directory sizes are measured by the caller.
    pub fn from_config(config: &ServerConfig, data_dir_size: u64, data_log_size: u64) -> Self {
        ConfInfo {
            client_port: config.client_port,
            secure_client_port: -1,
            data_dir: config.data_dir.clone(),
            data_dir_size,
            data_log_dir: config.data_log_dir.clone(),
            data_log_size,
            tick_time_ms: config.tick_time_ms,
            max_client_cnxns: config.max_client_cnxns,
            min_session_timeout_ms: config.min_session_timeout_ms,
            max_session_timeout_ms: config.max_session_timeout_ms,
            client_port_listen_backlog: -1,
            server_id: 0,
        }
    }
}

/// Everything the words print. Fields a word does not use may be left empty ([`word_needs`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FourLetterInput {
    /// False while the server is starting or stopping: most words then print [`NOT_SERVING`].
    pub serving: bool,
    pub read_only: bool,
    /// [`corral_full_version`] unless a test wants a fixed text.
    pub version: String,
    pub stats: ServerStats,
    pub connections: Vec<ConnectionInfo>,
    pub conf: ConfInfo,
    /// Data watches (exists and getData) as (session, path) pairs; ZooKeeper's wchs, wchc and
    /// wchp leave child watches out.
    pub data_watches: Vec<(i64, String)>,
    pub session_expiry: Vec<ExpiryBucket<i64>>,
    /// Session ids and the paths of their ephemeral nodes.
    pub ephemerals: Vec<(i64, Vec<String>)>,
    /// Connections by expiry time, each with its remote address and session id (0 if none).
    pub connection_expiry: Vec<ExpiryBucket<(SocketAddr, i64)>>,
    /// `envi`'s key=value lines in order; see [`environment`].
    pub environment: Vec<(String, String)>,
    pub trace_mask: i64,
}

/// Which costly parts of [`FourLetterInput`] a word reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InputNeeds {
    pub connections: bool,
    pub data_watches: bool,
    pub sessions_and_ephemerals: bool,
    pub environment: bool,
}

pub fn word_needs(word: &str) -> InputNeeds {
    InputNeeds {
        connections: matches!(word, "stat" | "cons"),
        data_watches: matches!(word, "wchs" | "wchc" | "wchp"),
        sessions_and_ephemerals: word == "dump",
        environment: word == "envi",
    }
}

/// ZooKeeper's four-letter abbreviation of an opcode, shown as `lop=` by `cons`.
pub fn last_op_name(opcode: i32) -> &'static str {
    match opcode {
        11 => "PING",
        -10 => "SESS",
        14 => "MULT",
        22 => "MLTR",
        1 | 15 | 19 | 21 => "CREA",
        2 | 20 => "DELE",
        5 => "SETD",
        16 => "RECO",
        7 => "SETA",
        -11 => "CLOS",
        9 => "SYNC",
        13 => "CHEC",
        3 => "EXIS",
        4 => "GETD",
        101 => "SETW",
        105 => "STW2",
        106 => "ADDW",
        6 => "GETA",
        8 | 12 => "GETC",
        104 => "GETACN",
        17 => "CHKW",
        18 => "REMW",
        107 => "HOMI",
        103 => "GETE",
        _ => "NA",
    }
}

/// The text of a known, enabled word; `None` for anything else, including `telnet close`
/// (which only closes) and `stmk` (see [`render_set_trace_mask`]).
pub fn render(word: &str, input: &FourLetterInput) -> Option<String> {
    let text = match word {
        "ruok" => "imok".to_owned(),
        "isro" => render_isro(input),
        "envi" => render_envi(input),
        "gtmk" => input.trace_mask.to_string(),
        "hash" => String::new(),
        _ if !KNOWN_WORDS.contains(&word) || word == "stmk" => return None,
        _ if !input.serving => format!("{NOT_SERVING}\n"),
        "srvr" | "stat" => render_stat(input, word == "stat"),
        "mntr" => render_mntr(input),
        "conf" => render_conf(&input.conf),
        "dirs" => render_dirs(&input.conf),
        "cons" => render_cons(input),
        "crst" => "Connection stats reset.\n".to_owned(),
        "srst" => "Server stats reset.\n".to_owned(),
        "wchs" => render_wchs(&input.data_watches),
        "wchc" => render_watches_by_session(&input.data_watches),
        "wchp" => render_watches_by_path(&input.data_watches),
        "dump" => render_dump(input),
        _ => return None,
    };
    Some(text)
}

fn render_isro(input: &FourLetterInput) -> String {
    let text = match (input.serving, input.read_only) {
        (false, _) => "null",
        (true, true) => "ro",
        (true, false) => "rw",
    };
    text.to_owned()
}

fn render_stat(input: &FourLetterInput, with_clients: bool) -> String {
    let stats = &input.stats;
    let mut out = format!("Zookeeper version: {}\n", input.version);
    if input.read_only {
        out.push_str("READ-ONLY mode; serving only read-only clients\n");
    }
    if with_clients {
        out.push_str("Clients:\n");
        for connection in &input.connections {
            push_connection(&mut out, connection, true);
            out.push('\n');
        }
        out.push('\n');
    }
    let latency = &stats.latency;
    let _ = writeln!(
        out,
        "Latency min/avg/max: {}/{}/{}",
        latency.min_ms(),
        java_double(latency.avg_ms_rounded()),
        latency.max_ms
    );
    let _ = writeln!(out, "Received: {}", stats.packets_received);
    let _ = writeln!(out, "Sent: {}", stats.packets_sent);
    let _ = writeln!(out, "Connections: {}", stats.alive_connections);
    let _ = writeln!(out, "Outstanding: {}", stats.outstanding_requests);
    let _ = writeln!(out, "Zxid: 0x{:x}", stats.last_processed_zxid);
    let _ = writeln!(out, "Mode: {}", stats.server_state);
    let _ = writeln!(out, "Node count: {}", stats.node_count);
    out
}

/// `mntr`: the version and state first, then the gauges a 3.8 standalone registers, in the
/// order ZooKeeper 3.8.0 printed them. ZooKeeper goes on with several hundred internal counters
/// and summaries of its own request pipeline; Corral has no equivalents and leaves them out.
fn render_mntr(input: &FourLetterInput) -> String {
    let stats = &input.stats;
    let latency = &stats.latency;
    let rows: [(&str, String); 26] = [
        ("version", input.version.clone()),
        ("server_state", stats.server_state.clone()),
        ("ephemerals_count", stats.ephemerals_count.to_string()),
        ("num_alive_connections", stats.alive_connections.to_string()),
        ("avg_latency", java_double(latency.avg_ms_rounded())),
        (
            "outstanding_requests",
            stats.outstanding_requests.to_string(),
        ),
        ("znode_count", stats.node_count.to_string()),
        ("global_sessions", stats.global_sessions.to_string()),
        ("non_mtls_remote_conn_count", "0".to_owned()),
        (
            "last_client_response_size",
            stats.last_client_response_size.to_string(),
        ),
        ("packets_sent", stats.packets_sent.to_string()),
        ("packets_received", stats.packets_received.to_string()),
        (
            "max_client_response_size",
            stats.max_client_response_size.to_string(),
        ),
        ("connection_drop_probability", "0.0".to_owned()),
        ("watch_count", stats.watch_count.to_string()),
        ("auth_failed_count", stats.auth_failed_count.to_string()),
        ("min_latency", latency.min_ms().to_string()),
        (
            "max_file_descriptor_count",
            stats.max_file_descriptors.to_string(),
        ),
        (
            "approximate_data_size",
            stats.approximate_data_size.to_string(),
        ),
        (
            "open_file_descriptor_count",
            stats.open_file_descriptors.to_string(),
        ),
        ("local_sessions", stats.local_sessions.to_string()),
        ("uptime", stats.uptime_ms.to_string()),
        ("max_latency", latency.max_ms.to_string()),
        ("outstanding_tls_handshake", "0".to_owned()),
        (
            "min_client_response_size",
            stats.min_client_response_size.to_string(),
        ),
        ("non_mtls_local_conn_count", "0".to_owned()),
    ];
    let mut out = String::new();
    for (key, value) in rows {
        let _ = writeln!(out, "zk_{key}\t{value}");
    }
    out
}

fn render_conf(conf: &ConfInfo) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "clientPort={}", conf.client_port);
    let _ = writeln!(out, "secureClientPort={}", conf.secure_client_port);
    let _ = writeln!(out, "dataDir={}", conf.data_dir.display());
    let _ = writeln!(out, "dataDirSize={}", conf.data_dir_size);
    let _ = writeln!(out, "dataLogDir={}", conf.data_log_dir.display());
    let _ = writeln!(out, "dataLogSize={}", conf.data_log_size);
    let _ = writeln!(out, "tickTime={}", conf.tick_time_ms);
    let _ = writeln!(out, "maxClientCnxns={}", conf.max_client_cnxns);
    let _ = writeln!(out, "minSessionTimeout={}", conf.min_session_timeout_ms);
    let _ = writeln!(out, "maxSessionTimeout={}", conf.max_session_timeout_ms);
    let _ = writeln!(
        out,
        "clientPortListenBacklog={}",
        conf.client_port_listen_backlog
    );
    let _ = writeln!(out, "serverId={}", conf.server_id);
    out
}

fn render_dirs(conf: &ConfInfo) -> String {
    format!(
        "datadir_size: {}\nlogdir_size: {}\n",
        conf.data_dir_size, conf.data_log_size
    )
}

fn render_cons(input: &FourLetterInput) -> String {
    let mut out = String::new();
    for connection in &input.connections {
        push_connection(&mut out, connection, false);
        out.push('\n');
    }
    out.push('\n');
    out
}

/// ` /addr:port[ops](queued=..,recved=..,sent=..` and, in full form for a connection with a
/// session, its session id, last operation and latencies.
fn push_connection(out: &mut String, c: &ConnectionInfo, brief: bool) {
    let _ = write!(
        out,
        " {}[{:x}](queued={},recved={},sent={}",
        java_socket_address(&c.remote),
        c.interest_ops,
        c.queued,
        c.packets_received,
        c.packets_sent
    );
    if !brief && c.session_id != 0 {
        let _ = write!(
            out,
            ",sid=0x{:x},lop={},est={},to={}",
            c.session_id, c.last_op, c.established_ms, c.session_timeout_ms
        );
        if c.last_cxid >= 0 {
            let _ = write!(out, ",lcxid=0x{:x}", c.last_cxid);
        }
        let _ = write!(
            out,
            ",lzxid=0x{:x},lresp={},llat={},minlat={},avglat={},maxlat={}",
            c.last_zxid,
            c.last_response_ms,
            c.last_latency_ms,
            c.latency.min_ms(),
            c.latency.avg_ms_truncated(),
            c.latency.max_ms
        );
    }
    out.push(')');
}

fn watches_by_session(watches: &[(i64, String)]) -> BTreeMap<i64, Vec<&str>> {
    let mut by_session: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
    for (session, path) in watches {
        by_session.entry(*session).or_default().push(path);
    }
    for paths in by_session.values_mut() {
        paths.sort_unstable();
        paths.dedup();
    }
    by_session
}

fn watches_by_path(watches: &[(i64, String)]) -> BTreeMap<&str, Vec<i64>> {
    let mut by_path: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for (session, path) in watches {
        by_path.entry(path).or_default().push(*session);
    }
    for sessions in by_path.values_mut() {
        sessions.sort_unstable();
        sessions.dedup();
    }
    by_path
}

fn render_wchs(watches: &[(i64, String)]) -> String {
    let by_session = watches_by_session(watches);
    let paths = watches_by_path(watches).len();
    let total: usize = by_session.values().map(Vec::len).sum();
    format!(
        "{} connections watching {paths} paths\nTotal watches:{total}\n",
        by_session.len()
    )
}

fn render_watches_by_session(watches: &[(i64, String)]) -> String {
    let mut out = String::new();
    for (session, paths) in watches_by_session(watches) {
        let _ = writeln!(out, "0x{session:x}");
        for path in paths {
            let _ = writeln!(out, "\t{path}");
        }
    }
    out.push('\n');
    out
}

fn render_watches_by_path(watches: &[(i64, String)]) -> String {
    let mut out = String::new();
    for (path, sessions) in watches_by_path(watches) {
        let _ = writeln!(out, "{path}");
        for session in sessions {
            let _ = writeln!(out, "\t0x{session:x}");
        }
    }
    out.push('\n');
    out
}

fn render_dump(input: &FourLetterInput) -> String {
    let mut out = String::from("SessionTracker dump:\nSession ");
    push_expiry(&mut out, &input.session_expiry, |out, session| {
        let _ = write!(out, "0x{session:x}");
    });
    out.push_str("ephemeral nodes dump:\n");
    let _ = writeln!(
        out,
        "Sessions with Ephemerals ({}):",
        input.ephemerals.len()
    );
    for (session, paths) in &input.ephemerals {
        let _ = writeln!(out, "0x{session:x}:");
        for path in paths {
            let _ = writeln!(out, "\t{path}");
        }
    }
    out.push_str("Connections dump:\nConnections ");
    push_expiry(
        &mut out,
        &input.connection_expiry,
        |out, (remote, session)| {
            let _ = write!(
                out,
                "ip: {} sessionId: 0x{session:x}",
                java_socket_address(remote)
            );
        },
    );
    out
}

/// ZooKeeper's ExpiryQueue dump: `Sets (buckets)/(members):`, then each bucket by time.
fn push_expiry<T>(
    out: &mut String,
    buckets: &[ExpiryBucket<T>],
    mut member: impl FnMut(&mut String, &T),
) {
    let members: usize = buckets.iter().map(|bucket| bucket.members.len()).sum();
    let _ = writeln!(out, "Sets ({})/({members}):", buckets.len());
    let mut sorted: Vec<&ExpiryBucket<T>> = buckets.iter().collect();
    sorted.sort_by_key(|bucket| bucket.expire_at_ms);
    for bucket in sorted {
        let _ = writeln!(
            out,
            "{} expire at {}:",
            bucket.members.len(),
            java_date_utc(bucket.expire_at_ms)
        );
        for item in &bucket.members {
            out.push('\t');
            member(out, item);
            out.push('\n');
        }
    }
}

fn render_envi(input: &FourLetterInput) -> String {
    let mut out = String::from("Environment:\n");
    for (key, value) in &input.environment {
        let _ = writeln!(out, "{key}={value}");
    }
    out
}

/// What the environment of this process has to say, under the keys ZooKeeper's `envi` uses.
/// The `java.*` keys have no meaning for Corral and read `<NA>`, ZooKeeper's own placeholder.
pub struct EnvironmentFacts {
    pub version: String,
    pub host_name: String,
    pub os_version: String,
    pub user_name: String,
    pub user_home: String,
    pub working_dir: String,
    pub memory_free_mb: u64,
    pub memory_max_mb: u64,
    pub memory_total_mb: u64,
}

pub fn environment(facts: &EnvironmentFacts) -> Vec<(String, String)> {
    const NA: &str = "<NA>";
    let tmp_dir = std::env::temp_dir().display().to_string();
    let entries: [(&str, String); 18] = [
        ("zookeeper.version", facts.version.clone()),
        ("host.name", facts.host_name.clone()),
        ("java.version", NA.to_owned()),
        ("java.vendor", NA.to_owned()),
        ("java.home", NA.to_owned()),
        ("java.class.path", NA.to_owned()),
        ("java.library.path", NA.to_owned()),
        ("java.io.tmpdir", tmp_dir),
        ("java.compiler", NA.to_owned()),
        ("os.name", java_os_name().to_owned()),
        ("os.arch", java_os_arch().to_owned()),
        ("os.version", facts.os_version.clone()),
        ("user.name", facts.user_name.clone()),
        ("user.home", facts.user_home.clone()),
        ("user.dir", facts.working_dir.clone()),
        ("os.memory.free", format!("{}MB", facts.memory_free_mb)),
        ("os.memory.max", format!("{}MB", facts.memory_max_mb)),
        ("os.memory.total", format!("{}MB", facts.memory_total_mb)),
    ];
    entries
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
}

/// Java's `os.name` spelling for the platforms Corral runs on.
fn java_os_name() -> &'static str {
    match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Mac OS X",
        "freebsd" => "FreeBSD",
        other => other,
    }
}

/// Java's `os.arch` spelling (it says amd64 where Rust says x86_64).
fn java_os_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        other => other,
    }
}

/// Java's `Double.toString`: plain decimals with at least one fractional digit for magnitudes
/// in [1e-3, 1e7), otherwise `d.dddE±n`.
pub fn java_double(value: f64) -> String {
    if !value.is_finite() {
        return if value.is_nan() {
            "NaN".to_owned()
        } else if value > 0.0 {
            "Infinity".to_owned()
        } else {
            "-Infinity".to_owned()
        };
    }
    let magnitude = value.abs();
    if magnitude == 0.0 || (1e-3..1e7).contains(&magnitude) {
        let plain = value.to_string();
        return if plain.contains('.') {
            plain
        } else {
            format!("{plain}.0")
        };
    }
    let scientific = format!("{value:e}");
    match scientific.split_once('e') {
        Some((mantissa, exponent)) if mantissa.contains('.') => format!("{mantissa}E{exponent}"),
        Some((mantissa, exponent)) => format!("{mantissa}.0E{exponent}"),
        None => scientific,
    }
}

/// Java's `InetSocketAddress.toString` for an unresolved-name address: `/ip:port`, with IPv6
/// written in Java's uncompressed form inside brackets (Java 14 and later, which 3.8 runs on).
pub fn java_socket_address(address: &SocketAddr) -> String {
    match address.ip() {
        IpAddr::V4(v4) => format!("/{v4}:{}", address.port()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("/{v4}:{}", address.port()),
            None => {
                let groups: Vec<String> = v6.segments().iter().map(|g| format!("{g:x}")).collect();
                format!("/[{}]:{}", groups.join(":"), address.port())
            }
        },
    }
}

const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Java's `Date.toString` in UTC: `Wed Nov 25 10:08:11 UTC 2026`.
pub fn java_date_utc(epoch_ms: i64) -> String {
    let seconds = epoch_ms.div_euclid(1000);
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = WEEKDAYS[days.rem_euclid(7) as usize];
    format!(
        "{weekday} {} {day:02} {:02}:{:02}:{:02} UTC {year}",
        MONTHS[(month - 1) as usize],
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31) in the proleptic Gregorian
/// calendar (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Open and maximum file descriptors of this process, for mntr (Linux: /proc/self/fd and
/// RLIMIT_NOFILE). Either is 0 when it cannot be read.
pub fn file_descriptor_counts() -> (u64, u64) {
    let open = std::fs::read_dir("/proc/self/fd").map_or(0, |entries| entries.count() as u64);
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes into the rlimit we pass, which lives for the call.
    let max = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        limit.rlim_cur
    } else {
        0
    };
    (open, max)
}
