//! Four-letter words answered the way Apache ZooKeeper 3.8 answers them, so that monitoring
//! tools which scrape `srvr`, `mntr` or `cons` keep working against Corral.
//!
//! Every expectation here was first checked against a real ZooKeeper 3.8 standalone server
//! (`CORRAL_TEST_ZK=spawn`). Each test starts its own server, so counts and zxids are exact.

mod common;

use std::collections::BTreeMap;

use common::raw::{self, RawSession, Writer};
use common::{four_letter_word, Server};

/// Session timeout the raw sessions of these tests ask for; long enough never to expire here.
const SESSION_TIMEOUT_MS: i32 = 30_000;

/// Sends `word` on a fresh connection and returns the whole answer (empty when the server
/// closes the connection without answering).
async fn ask(server: &Server, word: &str) -> String {
    let address = server.address();
    let word_owned = word.to_string();
    let answer = tokio::task::spawn_blocking(move || four_letter_word(&address, &word_owned))
        .await
        .expect("four-letter word thread");
    answer.unwrap_or_else(|| panic!("no answer to {word} from {}", server.address()))
}

/// Parses `key<separator>value` lines; lines without the separator are left out.
fn key_values(text: &str, separator: char) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once(separator))
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

/// The value after `prefix` on the line that starts with it.
fn line_value<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find_map(|line| line.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{text}"))
}

fn parse_hex(text: &str) -> i64 {
    let digits = text
        .strip_prefix("0x")
        .unwrap_or_else(|| panic!("{text:?} is not 0x-prefixed hex"));
    u64::from_str_radix(digits, 16).unwrap_or_else(|_| panic!("{text:?} is not hex")) as i64
}

fn mntr_number(mntr: &BTreeMap<String, String>, key: &str) -> i64 {
    let value = mntr
        .get(key)
        .unwrap_or_else(|| panic!("mntr has no {key}: {mntr:?}"));
    value
        .parse()
        .unwrap_or_else(|_| panic!("mntr {key}={value:?} is not an integer"))
}

/// Creates `path` through a raw session and returns the reply's zxid.
async fn raw_create(session: &mut RawSession, path: &str, flags: i32) -> i64 {
    let reply = session
        .request(
            raw::op::CREATE,
            &raw::create_body(path, b"v", raw::OPEN_ACL, flags),
        )
        .await;
    assert_eq!(reply.err, raw::err::OK, "create {path}");
    reply.zxid
}

/// Sets a one-shot data watch on an existing `path` with getData.
async fn raw_watch_data(session: &mut RawSession, path: &str) {
    let reply = session
        .request(raw::op::GET_DATA, &raw::path_watch_body(path, true))
        .await;
    assert_eq!(reply.err, raw::err::OK, "getData {path} with watch");
}

fn local_port(session: &RawSession) -> u16 {
    session.stream.local_addr().expect("local address").port()
}

#[tokio::test]
async fn ruok_answers_imok() {
    let server = Server::start();
    assert_eq!(ask(&server, "ruok").await, "imok");
}

#[tokio::test]
async fn isro_answers_rw_on_a_standalone_server() {
    let server = Server::start();
    assert_eq!(ask(&server, "isro").await, "rw");
}

#[tokio::test]
async fn unknown_word_is_closed_without_an_answer() {
    // ZooKeeper reads "xyzw" as a frame length far above jute.maxbuffer and drops the
    // connection; nothing is written back.
    let server = Server::start();
    assert_eq!(ask(&server, "xyzw").await, "");
}

#[tokio::test]
async fn srvr_lists_its_nine_lines_in_zookeepers_order() {
    let server = Server::start();
    let text = ask(&server, "srvr").await;
    let prefixes = [
        "Zookeeper version: ",
        "Latency min/avg/max: ",
        "Received: ",
        "Sent: ",
        "Connections: ",
        "Outstanding: ",
        "Zxid: 0x",
        "Mode: standalone",
        "Node count: ",
    ];
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), prefixes.len(), "srvr:\n{text}");
    for (line, prefix) in lines.iter().zip(prefixes) {
        assert!(
            line.starts_with(prefix),
            "expected {prefix:?}, got {line:?}"
        );
    }
    assert!(text.ends_with('\n'), "srvr ends with a newline: {text:?}");
    let latency: Vec<&str> = line_value(&text, "Latency min/avg/max: ")
        .split('/')
        .collect();
    assert_eq!(latency.len(), 3, "latency triple: {latency:?}");
    assert!(
        latency[1].contains('.'),
        "the average latency is printed as a decimal: {latency:?}"
    );
    if !server.is_external() {
        // Nothing else talks to a server of our own.
        assert_eq!(line_value(&text, "Outstanding: "), "0");
    }
}

#[tokio::test]
async fn fresh_server_reports_zxid_zero_and_five_nodes() {
    // ZooKeeper's node count holds "/" twice (as "" and "/") besides /zookeeper,
    // /zookeeper/quota and /zookeeper/config, so an empty server reports 5.
    let server = Server::start();
    if server.is_external() {
        return;
    }
    let text = ask(&server, "srvr").await;
    assert_eq!(line_value(&text, "Zxid: "), "0x0");
    assert_eq!(line_value(&text, "Node count: "), "5");
    let mntr = key_values(&ask(&server, "mntr").await, '\t');
    assert_eq!(mntr_number(&mntr, "zk_znode_count"), 5);
}

#[tokio::test]
async fn srvr_zxid_and_node_count_follow_a_create() {
    let server = Server::start();
    if server.is_external() {
        // Exact counts need a server no other test shares.
        return;
    }
    let root = common::unique_root();
    let mut session = RawSession::connect(&server.address(), SESSION_TIMEOUT_MS).await;
    let before = ask(&server, "srvr").await;
    let nodes_before: i64 = line_value(&before, "Node count: ")
        .parse()
        .expect("node count");
    let create_zxid = raw_create(&mut session, &root, 0).await;
    let after = ask(&server, "srvr").await;
    assert_eq!(
        parse_hex(line_value(&after, "Zxid: ")),
        create_zxid,
        "srvr:\n{after}"
    );
    let nodes_after: i64 = line_value(&after, "Node count: ")
        .parse()
        .expect("node count");
    assert_eq!(nodes_after, nodes_before + 1);
    assert_eq!(line_value(&after, "Mode: ").trim(), "standalone");
    session.close().await;
}

#[tokio::test]
async fn stat_lists_clients_then_the_srvr_lines() {
    let server = Server::start();
    let mut session = RawSession::connect(&server.address(), SESSION_TIMEOUT_MS).await;
    session.ping().await;
    let text = ask(&server, "stat").await;
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("Zookeeper version: "), "stat:\n{text}");
    assert_eq!(lines[1], "Clients:");
    // Received counts the connect request and the ping; sent counts both answers.
    let ours = format!(
        " /127.0.0.1:{}[1](queued=0,recved=2,sent=2)",
        local_port(&session)
    );
    assert!(
        lines.contains(&ours.as_str()),
        "stat does not list {ours:?}:\n{text}"
    );
    let blank = lines
        .iter()
        .position(|line| line.is_empty())
        .expect("blank line after the clients");
    assert!(
        lines[2..blank].iter().all(|line| line.starts_with(" /")),
        "client lines:\n{text}"
    );
    assert!(
        lines[blank + 1].starts_with("Latency min/avg/max: "),
        "stat:\n{text}"
    );
    assert_eq!(line_value(&text, "Mode: "), "standalone");
    assert!(line_value(&text, "Zxid: ").starts_with("0x"));
    session.close().await;
}

#[tokio::test]
async fn mntr_lines_are_tab_separated_zk_keys() {
    let server = Server::start();
    let text = ask(&server, "mntr").await;
    for line in text.lines() {
        let (key, _) = line
            .split_once('\t')
            .unwrap_or_else(|| panic!("mntr line without a tab: {line:?}"));
        assert!(key.starts_with("zk_"), "mntr key {key:?}");
    }
    let mntr = key_values(&text, '\t');
    assert_eq!(mntr["zk_server_state"], "standalone");
    assert!(!mntr["zk_version"].is_empty());
    for key in [
        "zk_min_latency",
        "zk_max_latency",
        "zk_packets_received",
        "zk_packets_sent",
        "zk_num_alive_connections",
        "zk_outstanding_requests",
        "zk_znode_count",
        "zk_watch_count",
        "zk_ephemerals_count",
        "zk_approximate_data_size",
        "zk_open_file_descriptor_count",
        "zk_max_file_descriptor_count",
    ] {
        assert!(mntr_number(&mntr, key) >= 0, "{key}");
    }
    let average: f64 = mntr["zk_avg_latency"]
        .parse()
        .expect("zk_avg_latency is a decimal");
    assert!(average >= 0.0);
    assert!(mntr_number(&mntr, "zk_open_file_descriptor_count") > 0);
    assert!(mntr_number(&mntr, "zk_max_file_descriptor_count") > 0);
    if !server.is_external() {
        assert_eq!(mntr_number(&mntr, "zk_outstanding_requests"), 0);
    }
}

#[tokio::test]
async fn mntr_counts_follow_creates_ephemerals_watches_and_connections() {
    let server = Server::start();
    if server.is_external() {
        // Exact counts need a server no other test shares.
        return;
    }
    let root = common::unique_root();
    let mut session = RawSession::connect(&server.address(), SESSION_TIMEOUT_MS).await;
    let before = key_values(&ask(&server, "mntr").await, '\t');
    // Our session's connection plus the one asking mntr.
    assert_eq!(mntr_number(&before, "zk_num_alive_connections"), 2);

    raw_create(&mut session, &root, 0).await;
    let after_create = key_values(&ask(&server, "mntr").await, '\t');
    assert_eq!(
        mntr_number(&after_create, "zk_znode_count"),
        mntr_number(&before, "zk_znode_count") + 1
    );
    assert!(
        mntr_number(&after_create, "zk_approximate_data_size")
            > mntr_number(&before, "zk_approximate_data_size"),
        "data size grows with a node"
    );

    raw_create(&mut session, &format!("{root}/e"), 1).await;
    let after_ephemeral = key_values(&ask(&server, "mntr").await, '\t');
    assert_eq!(
        mntr_number(&after_ephemeral, "zk_ephemerals_count"),
        mntr_number(&before, "zk_ephemerals_count") + 1
    );
    assert_eq!(
        mntr_number(&after_ephemeral, "zk_znode_count"),
        mntr_number(&before, "zk_znode_count") + 2
    );

    raw_watch_data(&mut session, &root).await;
    let after_watch = key_values(&ask(&server, "mntr").await, '\t');
    assert_eq!(
        mntr_number(&after_watch, "zk_watch_count"),
        mntr_number(&before, "zk_watch_count") + 1
    );
    session.close().await;
}

#[tokio::test]
async fn conf_reports_the_client_port_and_timeouts() {
    let server = Server::start();
    let conf = key_values(&ask(&server, "conf").await, '=');
    let port = server
        .address()
        .rsplit_once(':')
        .expect("host:port")
        .1
        .to_string();
    assert_eq!(conf["clientPort"], port);
    if server.is_external() {
        return;
    }
    // The harness's default config: tickTime=2000 and maxClientCnxns=0; the session timeout
    // bounds default to 2 and 20 ticks.
    assert_eq!(conf["tickTime"], "2000");
    assert_eq!(conf["maxClientCnxns"], "0");
    assert_eq!(conf["minSessionTimeout"], "4000");
    assert_eq!(conf["maxSessionTimeout"], "40000");
    let data_dir = server.data_dir().display().to_string();
    assert!(
        conf["dataDir"].starts_with(&data_dir),
        "dataDir={} is not under {data_dir}",
        conf["dataDir"]
    );
}

#[tokio::test]
async fn cons_lists_our_connection_with_session_details() {
    let server = Server::start();
    let mut session = RawSession::connect(&server.address(), SESSION_TIMEOUT_MS).await;
    let reply = session
        .request(raw::op::GET_CHILDREN, &raw::path_watch_body("/", false))
        .await;
    assert_eq!(reply.err, raw::err::OK);
    let text = ask(&server, "cons").await;
    let prefix = format!(" /127.0.0.1:{}[", local_port(&session));
    let line = text
        .lines()
        .find(|line| line.starts_with(&prefix))
        .unwrap_or_else(|| panic!("cons does not list {prefix:?}:\n{text}"));
    let expected_start = format!(
        "{prefix}1](queued=0,recved=2,sent=2,sid=0x{:x},lop=GETC,est=",
        session.session_id
    );
    assert!(
        line.starts_with(&expected_start),
        "expected {expected_start:?}..., got {line:?}"
    );
    let fields = key_values(&line.replace(['(', ')'], ",").replace(',', "\n"), '=');
    assert_eq!(fields["to"], session.timeout_ms.to_string(), "{line}");
    assert_eq!(fields["lcxid"], "0x1", "{line}");
    assert_eq!(parse_hex(&fields["lzxid"]), reply.zxid, "{line}");
    for key in ["lresp", "llat", "minlat", "avglat", "maxlat"] {
        assert!(fields[key].parse::<i64>().is_ok(), "{key} in {line}");
    }
    session.close().await;
}

#[tokio::test]
async fn crst_resets_the_connection_counters() {
    let server = Server::start();
    if server.is_external() {
        // Exact counts need a server no other test shares.
        return;
    }
    let mut session = RawSession::connect(&server.address(), SESSION_TIMEOUT_MS).await;
    session.ping().await;
    assert_eq!(ask(&server, "crst").await, "Connection stats reset.\n");
    let text = ask(&server, "cons").await;
    let expected = format!(
        " /127.0.0.1:{}[1](queued=0,recved=0,sent=0,sid=0x{:x},lop=NA,est=",
        local_port(&session),
        session.session_id
    );
    let line = text.lines().find(|line| line.starts_with(&expected));
    let line = line.unwrap_or_else(|| panic!("cons after crst lacks {expected:?}:\n{text}"));
    assert!(
        line.contains(",lzxid=0xffffffffffffffff,lresp=0,llat=0,minlat=0,avglat=0,maxlat=0)"),
        "{line}"
    );
    session.close().await;
}

#[tokio::test]
async fn srst_resets_the_server_counters() {
    let server = Server::start();
    if server.is_external() {
        // Exact counts need a server no other test shares.
        return;
    }
    let root = common::unique_root();
    let mut session = RawSession::connect(&server.address(), SESSION_TIMEOUT_MS).await;
    for index in 0..5 {
        raw_create(&mut session, &format!("{root}-{index}"), 0).await;
    }
    let before = ask(&server, "srvr").await;
    let received_before: i64 = line_value(&before, "Received: ").parse().expect("received");
    assert!(received_before >= 6, "srvr before srst:\n{before}");
    assert_eq!(ask(&server, "srst").await, "Server stats reset.\n");
    let after = ask(&server, "srvr").await;
    assert_eq!(
        line_value(&after, "Latency min/avg/max: "),
        "0/0.0/0",
        "srvr after srst:\n{after}"
    );
    let received_after: i64 = line_value(&after, "Received: ").parse().expect("received");
    assert!(received_after <= 2, "srvr after srst:\n{after}");
    session.close().await;
}

#[tokio::test]
async fn envi_lists_the_environment() {
    let server = Server::start();
    let text = ask(&server, "envi").await;
    assert_eq!(text.lines().next(), Some("Environment:"), "envi:\n{text}");
    let environment = key_values(&text, '=');
    for key in [
        "zookeeper.version",
        "host.name",
        "os.name",
        "os.arch",
        "os.version",
        "user.name",
        "user.dir",
    ] {
        assert!(environment.contains_key(key), "envi lacks {key}:\n{text}");
    }
    assert_eq!(environment["os.name"], "Linux");
}

#[tokio::test]
async fn wchs_wchc_wchp_show_a_data_watch() {
    let server = Server::start();
    if server.is_external() {
        // Exact counts need a server no other test shares.
        return;
    }
    let root = common::unique_root();
    let mut session = RawSession::connect(&server.address(), SESSION_TIMEOUT_MS).await;
    raw_create(&mut session, &root, 0).await;
    assert_eq!(
        ask(&server, "wchs").await,
        "0 connections watching 0 paths\nTotal watches:0\n"
    );
    raw_watch_data(&mut session, &root).await;
    assert_eq!(
        ask(&server, "wchs").await,
        "1 connections watching 1 paths\nTotal watches:1\n"
    );
    let session_hex = format!("0x{:x}", session.session_id);
    let by_connection = ask(&server, "wchc").await;
    assert!(
        by_connection.contains(&format!("{session_hex}\n\t{root}\n")),
        "wchc:\n{by_connection}"
    );
    let by_path = ask(&server, "wchp").await;
    assert!(
        by_path.contains(&format!("{root}\n\t{session_hex}\n")),
        "wchp:\n{by_path}"
    );
    session.close().await;
}

#[tokio::test]
async fn dump_lists_a_session_with_its_ephemeral() {
    let server = Server::start();
    if server.is_external() {
        // Exact counts need a server no other test shares.
        return;
    }
    let root = common::unique_root();
    let mut session = RawSession::connect(&server.address(), SESSION_TIMEOUT_MS).await;
    raw_create(&mut session, &root, 1).await;
    let text = ask(&server, "dump").await;
    assert_eq!(
        text.lines().next(),
        Some("SessionTracker dump:"),
        "dump:\n{text}"
    );
    let expected = format!(
        "Sessions with Ephemerals (1):\n0x{:x}:\n\t{root}\n",
        session.session_id
    );
    assert!(text.contains(&expected), "dump lacks {expected:?}:\n{text}");
    session.close().await;
}

#[tokio::test]
async fn dirs_reports_data_and_log_sizes() {
    let server = Server::start();
    let root = common::unique_root();
    let mut session = RawSession::connect(&server.address(), SESSION_TIMEOUT_MS).await;
    raw_create(&mut session, &root, 0).await;
    let text = ask(&server, "dirs").await;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "dirs:\n{text}");
    let data_size: u64 = line_value(&text, "datadir_size: ")
        .parse()
        .expect("datadir_size");
    let log_size: u64 = line_value(&text, "logdir_size: ")
        .parse()
        .expect("logdir_size");
    assert!(
        data_size > 0 && log_size > 0,
        "a written server has bytes on disk:\n{text}"
    );
    session.close().await;
}

#[tokio::test]
async fn words_outside_the_whitelist_are_refused_with_zookeepers_text() {
    if Server::external_configured() {
        return;
    }
    let server = Server::start_with(&["4lw.commands.whitelist=srvr"]);
    for word in ["ruok", "stat", "mntr", "conf", "dump"] {
        assert_eq!(
            ask(&server, word).await,
            format!("{word} is not executed because it is not in the whitelist.\n"),
            "{word}"
        );
    }
    assert!(ask(&server, "srvr").await.contains("Mode: standalone"));
}

#[tokio::test]
async fn a_four_letter_word_after_a_handshake_is_a_request_not_a_word() {
    // Words are recognised only as the first bytes of a connection; the same four bytes after
    // a session is established are a frame length, and "ruok" = 0x72756f6b exceeds
    // jute.maxbuffer, so the server closes the connection.
    let server = Server::start();
    let mut session = RawSession::connect(&server.address(), SESSION_TIMEOUT_MS).await;
    use tokio::io::AsyncWriteExt;
    session
        .stream
        .write_all(&Writer::new().bytes(b"ruok").into_vec())
        .await
        .expect("send ruok");
    assert_eq!(session.read_any().await, None, "connection closed");
}
