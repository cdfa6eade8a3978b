//! Test harness shared by the integration tests of `corral-tools`.
//!
//! A [`Server`] is one of three things, chosen by the `CORRAL_TEST_ZK` environment variable:
//! - unset: the `corral` binary of this package (or `CORRAL_BIN`, a path to another build),
//!   started on a fresh temporary data directory;
//! - `spawn`: a real Apache ZooKeeper 3.8 (Debian's `zookeeper` package), started the same way,
//!   so every test, including restarts and custom configs, can be checked against ZooKeeper;
//! - `host:port`: an already running external server shared by all tests; it cannot be
//!   restarted or reconfigured, so tests that need that check [`Server::is_external`].
//!
//! [`raw`] speaks the wire protocol by hand for what the client crate cannot express.

// Every test crate compiles this module but uses only part of it.
#![allow(dead_code)]

pub mod raw;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use zookeeper_client as zk;

/// How long a server may take to print its listening line (or, for ZooKeeper, to answer).
pub const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a stopped server may take to exit before the harness gives up on it.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a client may take to establish a session.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound for a single test step (a request, or waiting for one event).
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// Session timeout asked for by [`connect`]; tests that need expiry ask for less themselves.
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(6);

/// The config every server starts from; `start_with` lines replace keys or add new ones.
const DEFAULT_CONFIG: &[(&str, &str)] = &[
    ("tickTime", "2000"),
    ("4lw.commands.whitelist", "*"),
    ("extendedTypesEnabled", "true"),
    ("maxClientCnxns", "0"),
    ("admin.enableServer", "false"),
    // 1 MiB log segments: every test server preallocates its segments with zeros, and the
    // default 64 MiB per start would make the suite mostly disk writes.
    ("preAllocSize", "1024"),
];

/// Config keys that Apache ZooKeeper reads only as Java system properties, mapped to the
/// property name. A zoo.cfg key `k` unknown to ZooKeeper becomes the property `zookeeper.k`,
/// which is not what these are read as, so the harness passes them with `-D`.
const ZK_SYSTEM_PROPERTIES: &[(&str, &str)] = &[
    (
        "superDigest",
        "zookeeper.DigestAuthenticationProvider.superDigest",
    ),
    (
        "znode.container.checkIntervalMs",
        "znode.container.checkIntervalMs",
    ),
    (
        "znode.container.maxNeverUsedIntervalMs",
        "znode.container.maxNeverUsedIntervalMs",
    ),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Corral,
    SpawnedZooKeeper,
    External,
}

/// A server under test; a locally started one is killed (and reaped) on drop.
pub struct Server {
    kind: Kind,
    address: String,
    /// Holds the config, the log and the data directory; `None` for an external server.
    dir: Option<tempfile::TempDir>,
    data_dir: PathBuf,
    config: BTreeMap<String, String>,
    child: Option<Child>,
}

impl Server {
    /// Starts a server with the default test config.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Whether `CORRAL_TEST_ZK` names an already running server, which tests that need their
    /// own config, a restart or exact counters cannot use: they check this before starting one.
    pub fn external_configured() -> bool {
        std::env::var("CORRAL_TEST_ZK").is_ok_and(|value| value != "spawn")
    }

    /// Starts a server with the default config plus `config_lines` (`key=value`; a key given
    /// here replaces the default). Against an external server the lines cannot be applied, so
    /// this panics unless `config_lines` is empty.
    pub fn start_with(config_lines: &[&str]) -> Server {
        let kind = match std::env::var("CORRAL_TEST_ZK") {
            Err(_) => Kind::Corral,
            Ok(value) if value == "spawn" => Kind::SpawnedZooKeeper,
            Ok(address) => {
                assert!(
                    config_lines.is_empty(),
                    "CORRAL_TEST_ZK={address} is an external server: this test needs config {config_lines:?}; use CORRAL_TEST_ZK=spawn"
                );
                return Server {
                    kind: Kind::External,
                    address,
                    dir: None,
                    data_dir: PathBuf::new(),
                    config: BTreeMap::new(),
                    child: None,
                };
            }
        };
        Server::start_kind_on(kind, None, config_lines)
    }

    /// Stops the server with SIGTERM, waits for it, and starts it again on the same data dir.
    pub fn restart(&mut self) {
        self.stop(libc::SIGTERM);
        self.launch();
    }

    /// Kills the server with SIGKILL, waits for it, and starts it again on the same data dir.
    pub fn kill9_and_restart(&mut self) {
        self.stop(libc::SIGKILL);
        self.launch();
    }

    /// Stops the server with SIGTERM and waits; `start_again` brings it back.
    pub fn stop_gracefully(&mut self) {
        self.stop(libc::SIGTERM);
    }

    /// Starts a stopped server again on the same data dir.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "start_again on a running server");
        self.launch();
    }

    /// "127.0.0.1:PORT" (or whatever CORRAL_TEST_ZK names).
    pub fn address(&self) -> String {
        self.address.clone()
    }

    pub fn data_dir(&self) -> &Path {
        assert!(
            !self.is_external(),
            "an external server's data dir is unknown"
        );
        &self.data_dir
    }

    /// The file the server's stdout and stderr (after the listening line) go to.
    pub fn log_path(&self) -> PathBuf {
        self.dir_path().join("server.log")
    }

    /// The server's log so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// True when the tests run against a server started elsewhere (no restart, no config).
    pub fn is_external(&self) -> bool {
        self.kind == Kind::External
    }

    /// True when the server is an Apache ZooKeeper (spawned or external), not Corral.
    pub fn is_zookeeper(&self) -> bool {
        self.kind != Kind::Corral
    }

    /// The process id of a locally started server.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn dir_path(&self) -> &Path {
        match &self.dir {
            Some(dir) => dir.path(),
            None => panic!(
                "CORRAL_TEST_ZK names an external server: it cannot be restarted or inspected"
            ),
        }
    }

    fn write_config(&self, client_port: Option<u16>) -> PathBuf {
        let path = self.dir_path().join("zoo.cfg");
        let mut text = String::new();
        for (key, value) in &self.config {
            text.push_str(&format!("{key}={value}\n"));
        }
        text.push_str(&format!("dataDir={}\n", self.data_dir.display()));
        if let Some(port) = client_port {
            text.push_str(&format!("clientPort={port}\n"));
        }
        std::fs::write(&path, text).expect("write zoo.cfg");
        path
    }

    fn open_log(&self) -> std::fs::File {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open server log")
    }

    fn launch(&mut self) {
        match self.kind {
            Kind::Corral => self.launch_corral(),
            Kind::SpawnedZooKeeper => self.launch_zookeeper(),
            Kind::External => {
                panic!("CORRAL_TEST_ZK names an external server: it cannot be restarted")
            }
        }
    }

    fn launch_corral(&mut self) {
        let config = self.write_config(None);
        let log = self.open_log();
        let mut child = Command::new(corral_binary())
            .arg("--config")
            .arg(&config)
            .args(["--port", "0", "--data-dir"])
            .arg(&self.data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn corral");
        let stdout = child.stdout.take().expect("piped stdout");
        self.child = Some(child);
        let port = wait_for_listening_line(stdout, self.open_log()).unwrap_or_else(|why| {
            panic!("corral did not start: {why}\n--- log ---\n{}", self.log())
        });
        self.address = format!("127.0.0.1:{port}");
    }

    fn launch_zookeeper(&mut self) {
        let port = free_port();
        let config = self.write_config(Some(port));
        let mut command = Command::new("java");
        command.arg("-Xmx256m");
        for (key, property) in ZK_SYSTEM_PROPERTIES {
            if let Some(value) = self.config.get(*key) {
                command.arg(format!("-D{property}={value}"));
            }
        }
        let child = command
            .args(["-cp", "/usr/share/java/*:/etc/zookeeper/conf"])
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(self.open_log())
            .stderr(self.open_log())
            .spawn()
            .expect("spawn java (is Debian's zookeeper package installed?)");
        self.child = Some(child);
        self.address = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + START_TIMEOUT;
        while !zookeeper_is_serving(&self.address) {
            assert!(
                Instant::now() < deadline,
                "ZooKeeper did not start\n--- log ---\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn stop(&mut self, signal: libc::c_int) {
        let Some(mut child) = self.child.take() else {
            panic!("server is not running (or is external)");
        };
        let pid = libc::pid_t::try_from(child.id()).expect("pid fits pid_t");
        // SAFETY: kill(2) with a pid we spawned and still own (not yet reaped).
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill({pid}, {signal}) failed");
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match child.try_wait().expect("wait for server") {
                Some(status) => {
                    if signal == libc::SIGTERM && self.kind == Kind::Corral {
                        assert!(
                            status.success(),
                            "corral exited with {status} after SIGTERM\n{}",
                            self.log()
                        );
                    }
                    return;
                }
                None if Instant::now() >= deadline => {
                    child.kill().ok();
                    child.wait().ok();
                    panic!("server did not exit within {STOP_TIMEOUT:?} of signal {signal}");
                }
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

/// The binary under test: `CORRAL_BIN` when set (e.g. a release build), else this package's.
fn corral_binary() -> PathBuf {
    match std::env::var_os("CORRAL_BIN") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_BIN_EXE_corral")),
    }
}

/// Reads the child's stdout until `corral listening on IP:PORT` and returns PORT; a thread
/// keeps copying the rest of stdout to the log so the child never blocks on a full pipe.
fn wait_for_listening_line(
    stdout: std::process::ChildStdout,
    mut log: std::fs::File,
) -> Result<u16, String> {
    let (sender, receiver) = mpsc::channel::<Result<u16, String>>();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let mut sent = false;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            log.write_all(line.as_bytes()).ok();
            if !sent {
                if let Some(port) = parse_listening_line(&line) {
                    sent = true;
                    sender.send(Ok(port)).ok();
                }
            }
        }
        if !sent {
            sender
                .send(Err("stdout closed before the listening line".to_string()))
                .ok();
        }
    });
    match receiver.recv_timeout(START_TIMEOUT) {
        Ok(result) => result,
        Err(_) => Err(format!("no listening line within {START_TIMEOUT:?}")),
    }
}

fn parse_listening_line(line: &str) -> Option<u16> {
    let rest = line.trim().strip_prefix("corral listening on ")?;
    let (_, port) = rest.rsplit_once(':')?;
    port.parse().ok()
}

/// Asks the OS for a port that is free right now (ZooKeeper cannot be told to pick one).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("local addr").port()
}

/// `ruok` answers before ZooKeeper serves sessions; `srvr` says whether it does.
fn zookeeper_is_serving(address: &str) -> bool {
    four_letter_word(address, "srvr").is_some_and(|answer| answer.starts_with("Zookeeper version"))
}

/// Sends a four-letter word and returns everything the server answers before closing.
pub fn four_letter_word(address: &str, word: &str) -> Option<String> {
    let addr = address.parse().ok()?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(STEP_TIMEOUT)).ok()?;
    stream.write_all(word.as_bytes()).ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    Some(answer)
}

/// Connects a client with the default session timeout.
pub async fn connect(server: &Server) -> zk::Client {
    connect_with(
        server,
        zk::Client::connector().session_timeout(SESSION_TIMEOUT),
    )
    .await
}

/// Connects with a caller-configured connector (auth, session timeout, session to resume).
pub async fn connect_with(server: &Server, connector: &mut zk::Connector) -> zk::Client {
    try_connect_with(server, connector)
        .await
        .unwrap_or_else(|err| panic!("connect to {}: {err}", server.address()))
}

/// Like [`connect_with`] but returns the error (e.g. SessionExpired for a bad password).
pub async fn try_connect_with(
    server: &Server,
    connector: &mut zk::Connector,
) -> Result<zk::Client, zk::Error> {
    match tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(&server.address())).await {
        Ok(result) => result,
        Err(_) => Err(zk::Error::Timeout),
    }
}

/// A fresh absolute path, unique across the tests of all processes sharing one server.
pub fn unique_root() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "/t-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Awaits `future` for at most [`STEP_TIMEOUT`], panicking with `what` when it takes longer.
pub async fn step<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(STEP_TIMEOUT, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {STEP_TIMEOUT:?}: {what}"),
    }
}

/// `digest` ACL id for `user:password`: `user:base64(sha1("user:password"))`.
pub fn digest_id(user: &str, password: &str) -> String {
    use base64::Engine as _;
    use sha1::Digest as _;
    let hash = sha1::Sha1::digest(format!("{user}:{password}").as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// `world:anyone` ALL options for each create mode, the ones almost every test uses.
pub const PERSISTENT: zk::CreateOptions<'static> =
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
pub const EPHEMERAL: zk::CreateOptions<'static> =
    zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
pub const PERSISTENT_SEQUENTIAL: zk::CreateOptions<'static> =
    zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
pub const EPHEMERAL_SEQUENTIAL: zk::CreateOptions<'static> =
    zk::CreateMode::EphemeralSequential.with_acls(zk::Acls::anyone_all());
pub const CONTAINER: zk::CreateOptions<'static> =
    zk::CreateMode::Container.with_acls(zk::Acls::anyone_all());

/// Creates a fresh persistent [`unique_root`] and returns its path.
pub async fn create_root(client: &zk::Client) -> String {
    let root = unique_root();
    step("create test root", client.create(&root, b"", &PERSISTENT))
        .await
        .unwrap_or_else(|err| panic!("create {root}: {err}"));
    root
}

// --- Fault-test helpers (durability_kill9_loop.rs, durability_corruption.rs) ---

/// Every node of a tree read through [`read_tree`]: path → (data, stat).
pub type Tree = BTreeMap<String, (Vec<u8>, raw::Stat)>;

/// Requests a tree reader keeps in flight: enough to hide the round trips, few enough that
/// the replies of one batch never fill a socket buffer the test is not draining.
const TREE_READ_PIPELINE: usize = 128;

impl Server {
    /// Starts a stopped Corral server that may refuse to start. `Ok` when it serves (as after
    /// [`Server::start_again`]); otherwise the exit status and what it logged on this attempt.
    pub fn try_start_again(&mut self) -> Result<(), (std::process::ExitStatus, String)> {
        assert!(self.child.is_none(), "try_start_again on a running server");
        assert_eq!(
            self.kind,
            Kind::Corral,
            "only a Corral server can be restarted this way"
        );
        let log_offset = std::fs::metadata(self.log_path()).map_or(0, |meta| meta.len());
        let config = self.write_config(None);
        let mut child = Command::new(corral_binary())
            .arg("--config")
            .arg(&config)
            .args(["--port", "0", "--data-dir"])
            .arg(&self.data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(self.open_log())
            .spawn()
            .expect("spawn corral");
        let stdout = child.stdout.take().expect("piped stdout");
        match wait_for_listening_line(stdout, self.open_log()) {
            Ok(port) => {
                self.child = Some(child);
                self.address = format!("127.0.0.1:{port}");
                Ok(())
            }
            Err(why) => {
                // Without a listening line the server either exited or hangs; a hang is a
                // failure of its own, so it is killed and reported as such.
                let deadline = Instant::now() + STOP_TIMEOUT;
                let status = loop {
                    match child.try_wait().expect("wait for corral") {
                        Some(status) => break status,
                        None if Instant::now() >= deadline => {
                            child.kill().ok();
                            child.wait().ok();
                            panic!("corral neither served nor exited: {why}\n{}", self.log());
                        }
                        None => std::thread::sleep(Duration::from_millis(20)),
                    }
                };
                let log = std::fs::read(self.log_path()).unwrap_or_default();
                let start = usize::try_from(log_offset).unwrap_or(0).min(log.len());
                Err((status, String::from_utf8_lossy(&log[start..]).into_owned()))
            }
        }
    }
}

/// The seed of a seeded fault test: `$var` when set (to replay a failure), else from the clock.
/// Printed, so that every failure can be reproduced.
pub fn fault_seed(var: &str) -> u64 {
    let seed = match std::env::var(var) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{var}={text} is not a u64")),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos() as u64),
    };
    println!("seed {seed} (set {var}={seed} to replay)");
    seed
}

/// A small seeded generator (SplitMix64): fault tests need reproducible choices, not
/// cryptographic ones, and the same seed must give the same choices on every machine.
#[derive(Clone, Debug)]
pub struct TestRng(u64);

impl TestRng {
    pub fn new(seed: u64) -> TestRng {
        TestRng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `range` (which must not be empty).
    pub fn range(&mut self, range: std::ops::Range<u64>) -> u64 {
        assert!(range.start < range.end, "empty range {range:?}");
        range.start + self.next_u64() % (range.end - range.start)
    }

    /// Uniform index below `len` (which must not be 0).
    pub fn index(&mut self, len: usize) -> usize {
        self.range(0..len as u64) as usize
    }

    /// True with probability `percent` / 100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.range(0..100) < percent
    }
}

/// Reads every node of the server's tree (data and full stat) over a fresh session, which it
/// closes again. Requests are pipelined level by level, so a tree of thousands of nodes reads
/// in a few round trips.
pub async fn read_tree(address: &str) -> Tree {
    let mut session = raw::RawSession::connect(address, 10_000).await;
    let mut tree = Tree::new();
    let mut level = vec!["/".to_string()];
    while !level.is_empty() {
        let mut next = Vec::new();
        for chunk in level.chunks(TREE_READ_PIPELINE) {
            let mut pending = Vec::new();
            for path in chunk {
                let body = raw::path_watch_body(path, false);
                let data_xid = session.send(raw::op::GET_DATA, &body).await;
                let children_xid = session.send(raw::op::GET_CHILDREN, &body).await;
                pending.push((path, data_xid, children_xid));
            }
            for (path, data_xid, children_xid) in pending {
                let reply = session.read_reply(data_xid).await;
                assert_eq!(reply.err, raw::err::OK, "getData {path}");
                let mut reader = reply.reader();
                let data = reader.buf().unwrap_or_default();
                let stat = reader.stat();
                let reply = session.read_reply(children_xid).await;
                assert_eq!(reply.err, raw::err::OK, "getChildren {path}");
                let parent = if path == "/" { "" } else { path.as_str() };
                for child in reply.reader().strings() {
                    next.push(format!("{parent}/{child}"));
                }
                tree.insert(path.clone(), (data, stat));
            }
        }
        level = next;
    }
    session.close().await;
    tree
}

// Helpers for tests that need both kinds of server at once (tools/tests/import_zk.rs), whatever
// CORRAL_TEST_ZK says.

/// Why a real Apache ZooKeeper cannot be started here, or `None` when it can.
pub fn zookeeper_unavailable() -> Option<String> {
    if !Path::new("/usr/share/java/zookeeper.jar").exists() {
        return Some("/usr/share/java/zookeeper.jar is missing (apt-get install zookeeper)".into());
    }
    match Command::new("java").arg("-version").output() {
        Ok(output) if output.status.success() => None,
        Ok(output) => Some(format!("java -version failed: {}", output.status)),
        Err(error) => Some(format!("java cannot be run: {error}")),
    }
}

impl Server {
    /// A spawned Apache ZooKeeper with the default config plus `config_lines`.
    pub fn start_zookeeper_with(config_lines: &[&str]) -> Server {
        Server::start_kind_on(Kind::SpawnedZooKeeper, None, config_lines)
    }

    /// The `corral` binary on an existing data directory (for example one an import wrote).
    pub fn start_corral_on(data_dir: &Path, config_lines: &[&str]) -> Server {
        Server::start_kind_on(Kind::Corral, Some(data_dir), config_lines)
    }

    /// Kills the server with SIGKILL and waits for it, without starting it again.
    pub fn kill9(&mut self) {
        self.stop(libc::SIGKILL);
    }

    fn start_kind_on(kind: Kind, data_dir: Option<&Path>, config_lines: &[&str]) -> Server {
        let mut config: BTreeMap<String, String> = DEFAULT_CONFIG
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for line in config_lines {
            let (key, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("config line without '=': {line}"));
            config.insert(key.trim().to_string(), value.trim().to_string());
        }
        let dir = tempfile::Builder::new()
            .prefix("corral-test-")
            .tempdir()
            .expect("create temp dir");
        let data_dir = match data_dir {
            Some(path) => path.to_path_buf(),
            None => dir.path().join("data"),
        };
        std::fs::create_dir_all(&data_dir).expect("create data dir");
        let mut server = Server {
            kind,
            address: String::new(),
            dir: Some(dir),
            data_dir,
            config,
            child: None,
        };
        server.launch();
        server
    }
}
