//! Golden outputs of the four-letter words, captured from Apache ZooKeeper 3.8.0 (Debian's
//! package) running standalone with two sessions: session ...00 created /app, /app/x and the
//! ephemeral /app/eph and set watches with getData(/app) and getChildren(/app); session ...01
//! created the ephemeral /beph and watched getData(/app/x) and exists(/nothere). The input
//! below reproduces that server's numbers, and every expected text is the captured bytes with
//! ZooKeeper's own version string (passed in as the version) left as captured.

use std::net::SocketAddr;
use std::path::PathBuf;

use corral_net::config::ServerConfig;
use corral_net::fourlw::{
    self, ConfInfo, ConnectionInfo, ExpiryBucket, FourLetterInput, Latency, ServerStats,
};

const ZK_VERSION: &str = "3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC";
const SESSION_A: i64 = 0x100000a19d80000;
const SESSION_B: i64 = 0x100000a19d80001;

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("test address literal")
}

fn connection(remote: &str, interest_ops: u32, received: u64, sent: u64) -> ConnectionInfo {
    ConnectionInfo {
        remote: addr(remote),
        interest_ops,
        queued: 0,
        packets_received: received,
        packets_sent: sent,
        session_id: 0,
        last_op: "NA",
        established_ms: 0,
        session_timeout_ms: 0,
        last_cxid: -1,
        last_zxid: -1,
        last_response_ms: 0,
        last_latency_ms: 0,
        latency: Latency::default(),
    }
}

fn session_a_connection() -> ConnectionInfo {
    ConnectionInfo {
        session_id: SESSION_A,
        last_op: fourlw::last_op_name(8),
        established_ms: 1795601260280,
        session_timeout_ms: 30000,
        last_cxid: 5,
        last_zxid: 6,
        last_response_ms: 679008,
        last_latency_ms: 1,
        latency: Latency {
            count: 6,
            total_ms: 50,
            min_ms: 0,
            max_ms: 39,
        },
        ..connection("127.0.0.1:49946", 1, 6, 6)
    }
}

fn session_b_connection() -> ConnectionInfo {
    ConnectionInfo {
        session_id: SESSION_B,
        last_op: fourlw::last_op_name(3),
        established_ms: 1795601260333,
        session_timeout_ms: 30000,
        last_cxid: 3,
        last_zxid: 6,
        last_response_ms: 679010,
        last_latency_ms: 1,
        latency: Latency {
            count: 4,
            total_ms: 4,
            min_ms: 0,
            max_ms: 2,
        },
        ..connection("127.0.0.1:49948", 1, 4, 4)
    }
}

fn input() -> FourLetterInput {
    FourLetterInput {
        serving: true,
        read_only: false,
        version: ZK_VERSION.to_owned(),
        stats: ServerStats {
            server_state: "standalone".to_owned(),
            latency: Latency {
                count: 10,
                total_ms: 55,
                min_ms: 1,
                max_ms: 39,
            },
            packets_received: 13,
            packets_sent: 12,
            alive_connections: 3,
            outstanding_requests: 0,
            last_processed_zxid: 6,
            node_count: 9,
            watch_count: 4,
            ephemerals_count: 2,
            approximate_data_size: 78,
            global_sessions: 2,
            local_sessions: 0,
            uptime_ms: 21811,
            open_file_descriptors: 268,
            max_file_descriptors: 20000,
            last_client_response_size: 16,
            min_client_response_size: 16,
            max_client_response_size: 93,
            auth_failed_count: 0,
        },
        connections: Vec::new(),
        conf: ConfInfo {
            client_port: 21855,
            secure_client_port: -1,
            data_dir: PathBuf::from("/tmp/cfgzk/zkA.xFRU/version-2"),
            data_dir_size: 67109337,
            data_log_dir: PathBuf::from("/tmp/cfgzk/zkA.xFRU/version-2"),
            data_log_size: 67109337,
            tick_time_ms: 2000,
            max_client_cnxns: 0,
            min_session_timeout_ms: 4000,
            max_session_timeout_ms: 40000,
            client_port_listen_backlog: -1,
            server_id: 0,
        },
        data_watches: vec![
            (SESSION_B, "/nothere".to_owned()),
            (SESSION_A, "/app".to_owned()),
            (SESSION_B, "/app/x".to_owned()),
        ],
        session_expiry: vec![ExpiryBucket {
            expire_at_ms: 1795601291000,
            members: vec![SESSION_B, SESSION_A],
        }],
        ephemerals: vec![
            (SESSION_A, vec!["/app/eph".to_owned()]),
            (SESSION_B, vec!["/beph".to_owned()]),
        ],
        connection_expiry: vec![
            ExpiryBucket {
                expire_at_ms: 1795601291000,
                members: vec![
                    (addr("127.0.0.1:49946"), SESSION_A),
                    (addr("127.0.0.1:49948"), SESSION_B),
                ],
            },
            ExpiryBucket {
                expire_at_ms: 1795601271000,
                members: vec![],
            },
            ExpiryBucket {
                expire_at_ms: 1795601281000,
                members: vec![(addr("127.0.0.1:60768"), 0)],
            },
        ],
        environment: Vec::new(),
        trace_mask: fourlw::DEFAULT_TRACE_MASK,
    }
}

fn render(word: &str, input: &FourLetterInput) -> String {
    fourlw::render(word, input).expect("a known word renders")
}

#[test]
fn ruok_answers_imok_without_newline() {
    assert_eq!(render("ruok", &input()), "imok");
}

#[test]
fn srvr_matches_zookeeper() {
    let expected = format!(
        "Zookeeper version: {ZK_VERSION}\nLatency min/avg/max: 1/5.5/39\nReceived: 13\nSent: 12\n\
         Connections: 3\nOutstanding: 0\nZxid: 0x6\nMode: standalone\nNode count: 9\n"
    );
    assert_eq!(render("srvr", &input()), expected);
}

#[test]
fn srvr_of_fresh_server_prints_zero_latencies() {
    let mut fresh = input();
    fresh.stats.latency = Latency::default();
    fresh.stats.packets_received = 2;
    fresh.stats.packets_sent = 1;
    fresh.stats.alive_connections = 1;
    fresh.stats.last_processed_zxid = 0;
    fresh.stats.node_count = 5;
    let expected = format!(
        "Zookeeper version: {ZK_VERSION}\nLatency min/avg/max: 0/0.0/0\nReceived: 2\nSent: 1\n\
         Connections: 1\nOutstanding: 0\nZxid: 0x0\nMode: standalone\nNode count: 5\n"
    );
    assert_eq!(render("srvr", &fresh), expected);
}

#[test]
fn stat_lists_clients_briefly() {
    let mut state = input();
    state.stats.packets_received = 14;
    state.stats.packets_sent = 13;
    state.connections = vec![
        session_a_connection(),
        session_b_connection(),
        connection("127.0.0.1:60690", 0, 1, 0),
    ];
    let expected = format!(
        "Zookeeper version: {ZK_VERSION}\nClients:\n \
         /127.0.0.1:49946[1](queued=0,recved=6,sent=6)\n \
         /127.0.0.1:49948[1](queued=0,recved=4,sent=4)\n \
         /127.0.0.1:60690[0](queued=0,recved=1,sent=0)\n\n\
         Latency min/avg/max: 1/5.5/39\nReceived: 14\nSent: 13\nConnections: 3\n\
         Outstanding: 0\nZxid: 0x6\nMode: standalone\nNode count: 9\n"
    );
    assert_eq!(render("stat", &state), expected);
}

#[test]
fn cons_prints_session_details() {
    let mut state = input();
    state.connections = vec![
        connection("127.0.0.1:60720", 0, 1, 0),
        session_a_connection(),
        session_b_connection(),
    ];
    let expected = " /127.0.0.1:60720[0](queued=0,recved=1,sent=0)\n \
        /127.0.0.1:49946[1](queued=0,recved=6,sent=6,sid=0x100000a19d80000,lop=GETC,\
        est=1795601260280,to=30000,lcxid=0x5,lzxid=0x6,lresp=679008,llat=1,minlat=0,avglat=8,\
        maxlat=39)\n \
        /127.0.0.1:49948[1](queued=0,recved=4,sent=4,sid=0x100000a19d80001,lop=EXIS,\
        est=1795601260333,to=30000,lcxid=0x3,lzxid=0x6,lresp=679010,llat=1,minlat=0,avglat=1,\
        maxlat=2)\n\n";
    assert_eq!(render("cons", &state), expected);
}

#[test]
fn cons_of_fresh_session_shows_unset_cxid_and_zxid_like_zookeeper() {
    let mut state = input();
    let mut fresh = connection("10.0.0.7:5000", 1, 0, 0);
    fresh.session_id = 0x42;
    fresh.session_timeout_ms = 4000;
    state.connections = vec![fresh];
    let expected = " /10.0.0.7:5000[1](queued=0,recved=0,sent=0,sid=0x42,lop=NA,est=0,to=4000,\
        lzxid=0xffffffffffffffff,lresp=0,llat=0,minlat=0,avglat=0,maxlat=0)\n\n";
    assert_eq!(render("cons", &state), expected);
}

#[test]
fn mntr_matches_zookeeper_gauges_in_order() {
    let mut state = input();
    state.stats.packets_received = 15;
    state.stats.packets_sent = 14;
    let expected = format!(
        "zk_version\t{ZK_VERSION}\nzk_server_state\tstandalone\nzk_ephemerals_count\t2\n\
         zk_num_alive_connections\t3\nzk_avg_latency\t5.5\nzk_outstanding_requests\t0\n\
         zk_znode_count\t9\nzk_global_sessions\t2\nzk_non_mtls_remote_conn_count\t0\n\
         zk_last_client_response_size\t16\nzk_packets_sent\t14\nzk_packets_received\t15\n\
         zk_max_client_response_size\t93\nzk_connection_drop_probability\t0.0\n\
         zk_watch_count\t4\nzk_auth_failed_count\t0\nzk_min_latency\t1\n\
         zk_max_file_descriptor_count\t20000\nzk_approximate_data_size\t78\n\
         zk_open_file_descriptor_count\t268\nzk_local_sessions\t0\nzk_uptime\t21811\n\
         zk_max_latency\t39\nzk_outstanding_tls_handshake\t0\nzk_min_client_response_size\t16\n\
         zk_non_mtls_local_conn_count\t0\n"
    );
    assert_eq!(render("mntr", &state), expected);
}

#[test]
fn mntr_avg_latency_rounds_half_up_to_four_decimals() {
    let mut state = input();
    state.stats.latency = Latency {
        count: 6,
        total_ms: 50,
        min_ms: 1,
        max_ms: 39,
    };
    assert!(render("mntr", &state).contains("zk_avg_latency\t8.3333\n"));
    state.stats.latency = Latency {
        count: 11,
        total_ms: 1,
        min_ms: 0,
        max_ms: 1,
    };
    assert!(render("mntr", &state).contains("zk_avg_latency\t0.0909\n"));
    state.stats.latency = Latency {
        count: 3,
        total_ms: 2,
        min_ms: 0,
        max_ms: 1,
    };
    assert!(render("mntr", &state).contains("zk_avg_latency\t0.6667\n"));
}

#[test]
fn conf_matches_zookeeper() {
    let expected = "clientPort=21855\nsecureClientPort=-1\n\
        dataDir=/tmp/cfgzk/zkA.xFRU/version-2\ndataDirSize=67109337\n\
        dataLogDir=/tmp/cfgzk/zkA.xFRU/version-2\ndataLogSize=67109337\ntickTime=2000\n\
        maxClientCnxns=0\nminSessionTimeout=4000\nmaxSessionTimeout=40000\n\
        clientPortListenBacklog=-1\nserverId=0\n";
    assert_eq!(render("conf", &input()), expected);
}

#[test]
fn conf_from_config_takes_the_configured_values() {
    let config = ServerConfig {
        client_port: 2222,
        data_dir: PathBuf::from("/var/lib/corral"),
        data_log_dir: PathBuf::from("/var/log/corral"),
        ..ServerConfig::default()
    };
    let conf = ConfInfo::from_config(&config, 10, 20);
    assert_eq!(conf.client_port, 2222);
    assert_eq!(conf.data_log_dir, PathBuf::from("/var/log/corral"));
    assert_eq!(conf.max_client_cnxns, 60);
    assert_eq!(
        (conf.min_session_timeout_ms, conf.max_session_timeout_ms),
        (4000, 40000)
    );
    assert_eq!(
        (conf.secure_client_port, conf.client_port_listen_backlog),
        (-1, -1)
    );
}

#[test]
fn dirs_matches_zookeeper() {
    assert_eq!(
        render("dirs", &input()),
        "datadir_size: 67109337\nlogdir_size: 67109337\n"
    );
}

#[test]
fn crst_and_srst_confirm_the_reset() {
    assert_eq!(render("crst", &input()), "Connection stats reset.\n");
    assert_eq!(render("srst", &input()), "Server stats reset.\n");
}

#[test]
fn wchs_counts_data_watches() {
    assert_eq!(
        render("wchs", &input()),
        "2 connections watching 3 paths\nTotal watches:3\n"
    );
}

#[test]
fn wchc_lists_paths_by_session() {
    assert_eq!(
        render("wchc", &input()),
        "0x100000a19d80000\n\t/app\n0x100000a19d80001\n\t/app/x\n\t/nothere\n\n"
    );
}

#[test]
fn wchp_lists_sessions_by_path() {
    assert_eq!(
        render("wchp", &input()),
        "/app\n\t0x100000a19d80000\n/app/x\n\t0x100000a19d80001\n/nothere\n\t0x100000a19d80001\n\n"
    );
}

#[test]
fn watch_words_with_no_watches_print_zookeeper_empty_shapes() {
    let mut state = input();
    state.data_watches.clear();
    assert_eq!(
        render("wchs", &state),
        "0 connections watching 0 paths\nTotal watches:0\n"
    );
    assert_eq!(render("wchc", &state), "\n");
    assert_eq!(render("wchp", &state), "\n");
}

#[test]
fn dump_matches_zookeeper() {
    let expected = "SessionTracker dump:\nSession Sets (1)/(2):\n\
        2 expire at Wed Nov 25 10:08:11 UTC 2026:\n\t0x100000a19d80001\n\t0x100000a19d80000\n\
        ephemeral nodes dump:\nSessions with Ephemerals (2):\n\
        0x100000a19d80000:\n\t/app/eph\n0x100000a19d80001:\n\t/beph\n\
        Connections dump:\nConnections Sets (3)/(3):\n\
        0 expire at Wed Nov 25 10:07:51 UTC 2026:\n\
        1 expire at Wed Nov 25 10:08:01 UTC 2026:\n\tip: /127.0.0.1:60768 sessionId: 0x0\n\
        2 expire at Wed Nov 25 10:08:11 UTC 2026:\n\
        \tip: /127.0.0.1:49946 sessionId: 0x100000a19d80000\n\
        \tip: /127.0.0.1:49948 sessionId: 0x100000a19d80001\n";
    assert_eq!(render("dump", &input()), expected);
}

#[test]
fn isro_answers_rw_ro_or_null_without_newline() {
    let mut state = input();
    assert_eq!(render("isro", &state), "rw");
    state.read_only = true;
    assert_eq!(render("isro", &state), "ro");
    state.serving = false;
    assert_eq!(render("isro", &state), "null");
}

#[test]
fn gtmk_prints_the_trace_mask_without_newline() {
    assert_eq!(render("gtmk", &input()), "306");
    assert_eq!(fourlw::render_set_trace_mask(-1), "-1");
}

#[test]
fn envi_prints_entries_under_a_heading() {
    let mut state = input();
    state.environment = vec![
        ("zookeeper.version".to_owned(), ZK_VERSION.to_owned()),
        ("host.name".to_owned(), "localhost".to_owned()),
        ("java.compiler".to_owned(), "<NA>".to_owned()),
    ];
    let expected = format!(
        "Environment:\nzookeeper.version={ZK_VERSION}\nhost.name=localhost\njava.compiler=<NA>\n"
    );
    assert_eq!(render("envi", &state), expected);
}

#[test]
fn environment_uses_zookeeper_keys_in_zookeeper_order() {
    let facts = fourlw::EnvironmentFacts {
        version: fourlw::corral_full_version(),
        host_name: "localhost".to_owned(),
        os_version: "6.1".to_owned(),
        user_name: "root".to_owned(),
        user_home: "/root".to_owned(),
        working_dir: "/srv".to_owned(),
        memory_free_mb: 1,
        memory_max_mb: 3,
        memory_total_mb: 2,
    };
    let entries = fourlw::environment(&facts);
    let keys: Vec<&str> = entries.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "zookeeper.version",
            "host.name",
            "java.version",
            "java.vendor",
            "java.home",
            "java.class.path",
            "java.library.path",
            "java.io.tmpdir",
            "java.compiler",
            "os.name",
            "os.arch",
            "os.version",
            "user.name",
            "user.home",
            "user.dir",
            "os.memory.free",
            "os.memory.max",
            "os.memory.total",
        ]
    );
    assert_eq!(entries[15].1, "1MB");
    assert_eq!(entries[2].1, "<NA>");
}

#[test]
fn words_that_need_a_running_server_say_it_is_not_serving() {
    let mut state = input();
    state.serving = false;
    let not_serving = format!("{}\n", fourlw::NOT_SERVING);
    for word in [
        "srvr", "stat", "mntr", "conf", "cons", "crst", "srst", "wchs", "wchc", "wchp", "dump",
        "dirs",
    ] {
        assert_eq!(render(word, &state), not_serving, "{word}");
    }
    assert_eq!(render("ruok", &state), "imok");
}

#[test]
fn version_keeps_zookeeper_shape_with_corral_revision() {
    let version = fourlw::corral_full_version();
    assert!(
        version.starts_with("3.8.0-corral-0.1.0, built on "),
        "{version}"
    );
}
