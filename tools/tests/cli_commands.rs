//! `corral-cli`: each command's output, error words and exit status, one-shot and from stdin.

mod common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Bound for one run of the client, connecting included.
const RUN_TIMEOUT: Duration = Duration::from_secs(30);

/// What one run of `corral-cli` printed and how it exited.
#[derive(Debug)]
struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

/// Runs `corral-cli ARGS` with `stdin` as its input, killing it after [`RUN_TIMEOUT`].
fn run_cli(args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_corral-cli"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn corral-cli");
    let mut input = child.stdin.take().expect("piped stdin");
    let stdin = stdin.to_string();
    let writer = std::thread::spawn(move || input.write_all(stdin.as_bytes()));
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for corral-cli") {
            break status;
        }
        if Instant::now() >= deadline {
            child.kill().ok();
            child.wait().ok();
            panic!("corral-cli {args:?} did not exit within {RUN_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    writer.join().expect("stdin writer").ok();
    Run {
        status: status.code().expect("exited, not signalled"),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// Reads a pipe to its end on a thread, so the child never blocks on a full pipe.
fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        pipe.read_to_string(&mut text).expect("utf-8 output");
        text
    })
}

/// Runs one command with `-c`.
fn cli(server: &Server, command: &str) -> Run {
    run_cli(&["-server", &server.address(), "-c", command], "")
}

/// Runs one command that must succeed and returns its stdout. Only `create` writes to
/// stderr on success: zkCli reports `Created /path` there.
fn ok(server: &Server, command: &str) -> String {
    let run = cli(server, command);
    assert_eq!(run.status, 0, "{command}: {run:?}");
    if command.starts_with("create ") {
        assert!(
            run.stderr.starts_with("Created /") && run.stderr.lines().count() == 1,
            "{command}: {run:?}"
        );
    } else {
        assert_eq!(run.stderr, "", "{command}");
    }
    run.stdout
}

/// Runs a `create` that must succeed, prints nothing on stdout, and returns its stderr.
fn created(server: &Server, command: &str) -> String {
    let run = cli(server, command);
    assert_eq!(
        (run.status, run.stdout.as_str()),
        (0, ""),
        "{command}: {run:?}"
    );
    run.stderr
}

/// Runs one command that must fail with `status` and returns its stderr.
fn fails(server: &Server, command: &str, status: i32) -> String {
    let run = cli(server, command);
    assert_eq!(run.status, status, "{command}: {run:?}");
    assert_eq!(run.stdout, "", "{command}");
    run.stderr
}

/// The `name = value` pairs of a printed stat, in order.
fn stat_fields(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| line.split_once(" = "))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

#[test]
fn create_get_set_round_trip_the_data() {
    let server = Server::start();
    let root = unique_root();
    assert_eq!(
        created(&server, &format!("create {root} hello")),
        format!("Created {root}\n")
    );
    assert_eq!(ok(&server, &format!("get {root}")), "hello\n");
    assert_eq!(ok(&server, &format!("set {root} 'new data'")), "");
    assert_eq!(ok(&server, &format!("get {root}")), "new data\n");
    // Trailing words work as well as -c.
    let run = run_cli(&["-server", &server.address(), "get", &root], "");
    assert_eq!((run.status, run.stdout.as_str()), (0, "new data\n"));
}

#[test]
fn stat_and_get_s_print_every_field_like_zkcli() {
    let server = Server::start();
    let root = unique_root();
    ok(&server, &format!("create {root} abc"));
    ok(&server, &format!("create {root}/child"));
    ok(&server, &format!("set {root} abcd"));
    let stat = ok(&server, &format!("stat {root}"));
    let fields = stat_fields(&stat);
    let names: Vec<&str> = fields.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "cZxid",
            "ctime",
            "mZxid",
            "mtime",
            "pZxid",
            "cversion",
            "dataVersion",
            "aclVersion",
            "ephemeralOwner",
            "dataLength",
            "numChildren"
        ]
    );
    assert_eq!(stat.lines().count(), 11, "{stat}");
    let value = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    for zxid in ["cZxid", "mZxid", "pZxid"] {
        let hex = value(zxid).expect("zxid field");
        let digits = hex.strip_prefix("0x").expect("0x prefix");
        assert!(
            i64::from_str_radix(digits, 16).is_ok_and(|z| z > 0),
            "{zxid} = {hex}"
        );
    }
    assert_ne!(value("cZxid"), value("mZxid"), "set moved mZxid");
    let ctime = value("ctime").expect("ctime");
    assert!(
        ctime.contains(" UTC ") && ctime.len() == 28,
        "ctime = {ctime}"
    );
    let counts: Vec<String> = ["cversion", "dataVersion", "aclVersion", "ephemeralOwner"]
        .iter()
        .chain(&["dataLength", "numChildren"])
        .filter_map(|name| value(name))
        .collect();
    assert_eq!(counts, ["1", "1", "0", "0x0", "4", "1"]);
    assert_eq!(
        ok(&server, &format!("get -s {root}")),
        format!("abcd\n{stat}")
    );
}

#[test]
fn create_flags_make_sequential_ephemeral_container_and_ttl_nodes() {
    let server = Server::start();
    let root = unique_root();
    ok(&server, &format!("create {root}"));
    assert_eq!(
        created(&server, &format!("create -s {root}/s- x")),
        format!("Created {root}/s-0000000000\n")
    );
    assert_eq!(
        created(&server, &format!("create -s {root}/s- y")),
        format!("Created {root}/s-0000000001\n")
    );
    ok(&server, &format!("create -c {root}/box"));
    ok(&server, &format!("create -t 60000 {root}/ttl"));
    // The session ends with the process, and its ephemeral node with it.
    assert_eq!(
        created(&server, &format!("create -e {root}/gone")),
        format!("Created {root}/gone\n")
    );
    assert_eq!(
        fails(&server, &format!("stat {root}/gone"), 1),
        format!("Node does not exist: {root}/gone\n")
    );
    assert_eq!(
        ok(&server, &format!("ls {root}")),
        "[box, s-0000000000, s-0000000001, ttl]\n"
    );
    assert_eq!(
        fails(&server, &format!("create -c -e {root}/bad"), 2)
            .lines()
            .count(),
        2
    );
}

#[test]
fn ls_lists_sorted_children_recursively_and_with_stat() {
    let server = Server::start();
    let root = unique_root();
    for path in ["", "/b", "/a", "/a/x", "/a/x/y", "/c"] {
        ok(&server, &format!("create {root}{path}"));
    }
    assert_eq!(ok(&server, &format!("ls {root}")), "[a, b, c]\n");
    assert_eq!(ok(&server, &format!("ls {root}/c")), "[]\n");
    let tree: Vec<String> = ["", "/a", "/a/x", "/a/x/y", "/b", "/c"]
        .iter()
        .map(|path| format!("{root}{path}\n"))
        .collect();
    assert_eq!(ok(&server, &format!("ls -R {root}")), tree.concat());
    let with_stat = ok(&server, &format!("ls -s {root}"));
    assert!(
        with_stat.starts_with("[a, b, c]\ncZxid = 0x"),
        "{with_stat}"
    );
    assert!(with_stat.ends_with("numChildren = 3\n"), "{with_stat}");
}

#[test]
fn delete_and_deleteall_remove_nodes_and_check_versions() {
    let server = Server::start();
    let root = unique_root();
    for path in ["", "/a", "/a/x", "/a/x/y", "/b"] {
        ok(&server, &format!("create {root}{path}"));
    }
    assert_eq!(
        fails(&server, &format!("delete {root}/a"), 1),
        format!("Node not empty: {root}/a\n")
    );
    assert_eq!(
        fails(&server, &format!("delete -v 3 {root}/b"), 1),
        format!("version No is not valid : {root}/b\n")
    );
    assert_eq!(ok(&server, &format!("delete -v 0 {root}/b")), "");
    assert_eq!(ok(&server, &format!("deleteall {root}/a")), "");
    assert_eq!(ok(&server, &format!("ls {root}")), "[]\n");
    assert_eq!(
        fails(&server, &format!("deleteall {root}/a"), 1),
        format!("Node does not exist: {root}/a\n")
    );
}

#[test]
fn errors_use_zkcli_words_and_exit_statuses() {
    let server = Server::start();
    let root = unique_root();
    ok(&server, &format!("create {root} x"));
    assert_eq!(
        fails(&server, &format!("create {root} x"), 1),
        format!("Node already exists: {root}\n")
    );
    assert_eq!(
        fails(&server, &format!("get {root}/none"), 1),
        format!("Node does not exist: {root}/none\n")
    );
    assert_eq!(
        fails(&server, &format!("set -v 5 {root} y"), 1),
        format!("version No is not valid : {root}\n")
    );
    assert_eq!(
        fails(&server, "get", 2),
        "wrong number of arguments\nget [-s] [-w] path\n"
    );
    assert_eq!(
        fails(&server, "frobnicate /", 2),
        "unknown command: frobnicate; try help\n"
    );
    assert_eq!(
        fails(&server, &format!("setAcl {root} world:anyone"), 2),
        "world:anyone does not have the form scheme:id:perm\nsetAcl [-s] [-v version] [-R] path acl\n"
    );
    assert_eq!(ok(&server, &format!("sync {root}")), "Sync is OK\n");
}

#[test]
fn set_acl_get_acl_and_addauth_guard_a_node() {
    let server = Server::start();
    let root = unique_root();
    let path = format!("{root}/secret");
    ok(&server, &format!("create {root}"));
    ok(&server, &format!("create {path} hidden"));
    assert_eq!(
        ok(&server, &format!("getAcl {path}")),
        "'world,'anyone\n: cdrwa\n"
    );
    let alice = digest_id("alice", "pw");
    ok(
        &server,
        &format!("setAcl {path} digest:{alice}:cdrwa,world:anyone:c"),
    );
    // Reading data and ACL both need a permission the world no longer has.
    for command in ["get", "getAcl"] {
        assert_eq!(
            fails(&server, &format!("{command} {path}"), 1),
            format!("Insufficient permission : {path}\n")
        );
    }
    let run = run_cli(
        &["-server", &server.address()],
        &format!("addauth digest alice:pw\nget {path}\ngetAcl {path}\n"),
    );
    let expected = format!("hidden\n'digest,'{alice}\n: cdrwa\n'world,'anyone\n: c\n");
    assert_eq!(
        (run.stdout, run.stderr, run.status),
        (expected, String::new(), 0)
    );
}

#[test]
fn stdin_commands_run_in_order_and_report_watch_events() {
    let server = Server::start();
    let root = unique_root();
    let input = format!(
        "create {root} a\n\nget -w {root}\nset {root} b\nls -w {root}\n\
         create {root}/kid\nget {root}/none\nget {root}\nquit\nget {root}\n"
    );
    let run = run_cli(&["-server", &server.address()], &input);
    let expected = format!(
        "a\n\
         \nWATCHER::\n\nWatchedEvent state:SyncConnected type:NodeDataChanged path:{root}\n\
         []\n\
         \nWATCHER::\n\nWatchedEvent state:SyncConnected type:NodeChildrenChanged path:{root}\n\
         b\n"
    );
    assert_eq!(run.stdout, expected);
    assert_eq!(
        run.stderr,
        format!("Created {root}\nCreated {root}/kid\nNode does not exist: {root}/none\n")
    );
    assert_eq!(run.status, 1, "a failed command makes the exit status 1");
}

#[test]
fn help_needs_no_server_and_a_dead_server_fails_cleanly() {
    let run = run_cli(&["--help"], "");
    assert_eq!(run.status, 0);
    assert!(
        run.stdout.starts_with("usage: corral-cli"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("\tls [-s] [-w] [-R] path\n"),
        "{}",
        run.stdout
    );
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let address = format!("127.0.0.1:{port}");
    let run = run_cli(&["-server", &address, "-c", "ls /"], "");
    assert_eq!(run.status, 1, "{run:?}");
    assert!(
        run.stderr
            .starts_with(&format!("Unable to connect to {address}")),
        "{run:?}"
    );
    let run = run_cli(&["-server", &address, "-c", "ls"], "");
    assert_eq!(
        run.status, 2,
        "usage errors are found before connecting: {run:?}"
    );
}
