//! zoo.cfg and command-line parsing, checked against Apache ZooKeeper 3.8's QuorumPeerConfig
//! and java.util.Properties behaviour.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use corral_net::config::{
    self, parse_args, parse_properties, parse_zoo_cfg, ConfigError, FourLetterWhitelist,
    ServerConfig,
};

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|arg| (*arg).to_owned()).collect()
}

fn cfg(text: &str) -> ServerConfig {
    parse_zoo_cfg(text, ServerConfig::default()).expect("valid zoo.cfg")
}

fn cfg_error(text: &str) -> ConfigError {
    parse_zoo_cfg(text, ServerConfig::default()).expect_err("invalid zoo.cfg")
}

/// A config file in a directory of its own, removed when dropped (net has no tempfile dependency).
struct TempCfg {
    dir: PathBuf,
    path: String,
}

impl Drop for TempCfg {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write_cfg_bytes(name: &str, bytes: &[u8]) -> TempCfg {
    let dir =
        std::env::temp_dir().join(format!("corral-config-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("zoo.cfg");
    std::fs::write(&path, bytes).expect("write zoo.cfg");
    let path = path.to_str().expect("utf-8 temp path").to_owned();
    TempCfg { dir, path }
}

fn write_cfg(name: &str, text: &str) -> TempCfg {
    write_cfg_bytes(name, text.as_bytes())
}

#[test]
fn no_arguments_give_zookeeper_defaults() {
    let config = parse_args(Vec::new()).expect("defaults");
    assert_eq!(config.client_port, 2181);
    assert_eq!(
        config.client_port_address,
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    );
    assert_eq!(config.data_dir, PathBuf::from("./corral-data"));
    assert_eq!(config.data_log_dir, PathBuf::from("./corral-data"));
    assert_eq!(config.tick_time_ms, 2000);
    assert_eq!(config.min_session_timeout_ms, 4000);
    assert_eq!(config.max_session_timeout_ms, 40000);
    assert_eq!(config.max_client_cnxns, 60);
    assert_eq!(
        config.four_letter_words,
        FourLetterWhitelist::Only(BTreeSet::from(["srvr".to_owned()]))
    );
    assert!(!config.extended_types_enabled);
    assert_eq!(config.jute_max_buffer, 1_048_575);
    assert_eq!(config.super_digest, None);
    assert_eq!(config.cores, config::online_cores());
    assert!(config.cores >= 1);
    assert_eq!(config.container_check_interval_ms, 60_000);
    assert!(config.warnings.is_empty());
}

#[test]
fn the_lead_zoo_cfg_is_read_like_zookeeper() {
    let config = cfg(
        "tickTime=2000\ndataDir=/tmp/zk\nclientPort=2182\nmaxClientCnxns=0\n\
        4lw.commands.whitelist=*\nadmin.enableServer=false\nextendedTypesEnabled=true\n",
    );
    assert_eq!(config.client_port, 2182);
    assert_eq!(config.data_dir, PathBuf::from("/tmp/zk"));
    assert_eq!(config.data_log_dir, PathBuf::from("/tmp/zk"));
    assert_eq!(config.max_client_cnxns, 0);
    assert_eq!(config.four_letter_words, FourLetterWhitelist::All);
    assert!(config.extended_types_enabled);
    assert_eq!(
        config.warnings,
        ["admin.enableServer is an Apache ZooKeeper setting a standalone Corral does not use; ignored"]
    );
}

#[test]
fn every_honoured_key_is_applied() {
    let config = cfg(
        "clientPort=3000\nclientPortAddress=127.0.0.1\ndataDir=/d\ndataLogDir=/l\n\
        tickTime=500\nminSessionTimeout=1500\nmaxSessionTimeout=9000\nmaxClientCnxns=7\n\
        4lw.commands.whitelist=ruok,mntr\nextendedTypesEnabled=TRUE\njute.maxbuffer=4194304\n\
        superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=\nznode.container.checkIntervalMs=1000\n",
    );
    assert_eq!(config.client_port, 3000);
    assert_eq!(config.client_port_address, IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(config.data_dir, PathBuf::from("/d"));
    assert_eq!(config.data_log_dir, PathBuf::from("/l"));
    assert_eq!(config.tick_time_ms, 500);
    assert_eq!(config.min_session_timeout_ms, 1500);
    assert_eq!(config.max_session_timeout_ms, 9000);
    assert_eq!(config.max_client_cnxns, 7);
    let words = BTreeSet::from(["mntr".to_owned(), "ruok".to_owned(), "srvr".to_owned()]);
    assert_eq!(config.four_letter_words, FourLetterWhitelist::Only(words));
    assert!(config.extended_types_enabled);
    assert_eq!(config.jute_max_buffer, 4_194_304);
    assert_eq!(
        config.super_digest.as_deref(),
        Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU=")
    );
    assert_eq!(config.container_check_interval_ms, 1000);
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
}

#[test]
fn session_timeouts_derive_from_the_final_tick_time_whatever_the_order() {
    let config = cfg("minSessionTimeout=-1\ntickTime=100\n");
    assert_eq!(
        (config.min_session_timeout_ms, config.max_session_timeout_ms),
        (200, 2000)
    );
    let config = cfg("maxSessionTimeout=60000\ntickTime=3000\n");
    assert_eq!(
        (config.min_session_timeout_ms, config.max_session_timeout_ms),
        (6000, 60000)
    );
}

#[test]
fn a_base_with_explicit_timeouts_keeps_them_when_the_file_is_silent() {
    let base = ServerConfig {
        min_session_timeout_ms: 1000,
        ..ServerConfig::default()
    };
    let config = parse_zoo_cfg("tickTime=1000\n", base).expect("valid");
    assert_eq!(
        (config.min_session_timeout_ms, config.max_session_timeout_ms),
        (1000, 20000)
    );
}

#[test]
fn min_session_timeout_above_max_is_refused_with_both_values() {
    let error = cfg_error("minSessionTimeout=5000\nmaxSessionTimeout=4000\n");
    assert_eq!(
        error,
        ConfigError::SessionTimeoutRange {
            min_ms: 5000,
            max_ms: 4000
        }
    );
    assert_eq!(
        error.to_string(),
        "minSessionTimeout=5000 must not be larger than maxSessionTimeout=4000"
    );
    // The default ceiling is 20 ticks, so a floor above it fails too, as in ZooKeeper.
    let error = cfg_error("minSessionTimeout=50000\n");
    assert_eq!(
        error,
        ConfigError::SessionTimeoutRange {
            min_ms: 50000,
            max_ms: 40000
        }
    );
}

#[test]
fn invalid_values_name_the_key_and_the_value() {
    let cases = [
        ("clientPort=abc", "clientPort", "abc"),
        ("clientPort=70000", "clientPort", "70000"),
        ("clientPort=-1", "clientPort", "-1"),
        ("tickTime=0", "tickTime", "0"),
        ("tickTime=2s", "tickTime", "2s"),
        ("tickTime=200000000", "tickTime", "200000000"),
        ("minSessionTimeout=soon", "minSessionTimeout", "soon"),
        ("maxSessionTimeout=1e9", "maxSessionTimeout", "1e9"),
        ("maxClientCnxns=-5", "maxClientCnxns", "-5"),
        ("extendedTypesEnabled=yes", "extendedTypesEnabled", "yes"),
        ("jute.maxbuffer=-1", "jute.maxbuffer", "-1"),
        ("jute.maxbuffer=0", "jute.maxbuffer", "0"),
        ("jute.maxbuffer=4294967296", "jute.maxbuffer", "4294967296"),
        (
            "znode.container.checkIntervalMs=0",
            "znode.container.checkIntervalMs",
            "0",
        ),
        ("dataDir=", "dataDir", ""),
        (
            "clientPortAddress=no.such.host.invalid",
            "clientPortAddress",
            "no.such.host.invalid",
        ),
    ];
    for (text, key, value) in cases {
        match cfg_error(text) {
            ConfigError::InvalidValue {
                key: k, value: v, ..
            } => {
                assert_eq!((k.as_str(), v.as_str()), (key, value), "{text}");
            }
            other => panic!("{text}: unexpected {other:?}"),
        }
    }
}

#[test]
fn invalid_value_message_reads_well() {
    assert_eq!(
        cfg_error("clientPort=70000").to_string(),
        "invalid value for clientPort: `70000` (expected a port number 0..=65535)"
    );
    assert_eq!(
        cfg_error("jute.maxbuffer=-1").to_string(),
        "invalid value for jute.maxbuffer: `-1` (expected bytes 1..=2147483647)"
    );
}

#[test]
fn a_malformed_super_digest_is_refused_without_echoing_it() {
    let error = cfg_error("superDigest=secretpassword");
    assert!(!error.to_string().contains("secretpassword"), "{error}");
    assert!(error.to_string().contains("superDigest"), "{error}");
}

#[test]
fn super_digest_is_accepted_under_zookeeper_names() {
    for key in [
        "DigestAuthenticationProvider.superDigest",
        "zookeeper.DigestAuthenticationProvider.superDigest",
    ] {
        let config = cfg(&format!("{key}=super:D/InIHSb7yEEbrWz8b9l71RjZJU=\n"));
        assert_eq!(
            config.super_digest.as_deref(),
            Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU=")
        );
    }
    let config = cfg("superDigest=super:short\n");
    assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
}

#[test]
fn ensemble_and_unknown_keys_become_warnings() {
    let config = cfg(
        "initLimit=5\nsyncLimit=2\nserver.1=a:2888:3888\nautopurge.purgeInterval=1\n\
        snapCount=100\nfrobnicate=yes\n",
    );
    assert_eq!(config.snap_count, 100);
    assert_eq!(
        config.warnings,
        [
            "initLimit is an Apache ZooKeeper setting a standalone Corral does not use; ignored",
            "syncLimit is an Apache ZooKeeper setting a standalone Corral does not use; ignored",
            "server.1 is an Apache ZooKeeper setting a standalone Corral does not use; ignored",
            "autopurge.purgeInterval is ignored: Corral purges old snapshots after every snapshot it writes",
            "frobnicate is not a known setting; ignored",
        ]
    );
}

#[test]
fn pre_alloc_size_sets_the_log_segment_size_in_kib() {
    assert_eq!(ServerConfig::default().wal_segment_bytes, 64 * 1024 * 1024);
    assert_eq!(cfg("preAllocSize=1024\n").wal_segment_bytes, 1024 * 1024);
    // Rounded up to whole 4 KiB sectors.
    assert_eq!(cfg("preAllocSize=9\n").wal_segment_bytes, 12 * 1024);
    for bad in ["0", "4", "-1", "x", "2097152"] {
        let error = parse_zoo_cfg(&format!("preAllocSize={bad}\n"), ServerConfig::default());
        assert!(
            matches!(&error, Err(ConfigError::InvalidValue { key, .. }) if key == "preAllocSize"),
            "preAllocSize={bad}: {error:?}"
        );
    }
}

#[test]
fn force_sync_is_off_only_for_the_exact_value_no() {
    assert!(ServerConfig::default().force_sync);
    let off = cfg("forceSync=no\n");
    assert!(!off.force_sync);
    assert!(
        off.warnings.iter().any(|w| w.contains("forceSync=no")),
        "{:?}",
        off.warnings
    );
    // ZooKeeper compares with "no" exactly: anything else keeps syncing, silently.
    for on in ["yes", "NO", "false", ""] {
        let config = cfg(&format!("forceSync={on}\n"));
        assert!(config.force_sync, "forceSync={on}");
        assert!(
            config.warnings.is_empty(),
            "forceSync={on}: {:?}",
            config.warnings
        );
    }
}

#[test]
fn unknown_whitelist_words_are_warned_about_but_kept_as_zookeeper_does() {
    let config = cfg("4lw.commands.whitelist=ruok, sttat,,\n");
    let words = BTreeSet::from(["ruok".to_owned(), "srvr".to_owned(), "sttat".to_owned()]);
    assert_eq!(config.four_letter_words, FourLetterWhitelist::Only(words));
    assert_eq!(config.warnings.len(), 1);
    assert!(
        config.warnings[0].contains("sttat"),
        "{:?}",
        config.warnings
    );
    assert!(config.four_letter_allowed("ruok"));
    assert!(config.four_letter_allowed("srvr"));
    assert!(!config.four_letter_allowed("mntr"));
}

#[test]
fn an_empty_whitelist_still_enables_srvr() {
    let config = cfg("4lw.commands.whitelist=\n");
    assert!(config.four_letter_allowed("srvr"));
    assert!(!config.four_letter_allowed("ruok"));
    assert_eq!(
        cfg("4lw.commands.whitelist=ruok,*\n").four_letter_words,
        FourLetterWhitelist::All
    );
}

#[test]
fn repeated_keys_keep_the_last_value_and_warn() {
    let config = cfg("clientPort=1111\nclientPort=2222\n");
    assert_eq!(config.client_port, 2222);
    assert_eq!(
        config.warnings,
        ["line 2: clientPort is set more than once; the last value wins"]
    );
}

#[test]
fn java_properties_separators_comments_and_whitespace() {
    let text = "# a comment\n! another\n\n   clientPort : 2300  \ntickTime 1000\n\
        dataDir\t=\t/data dir/x\r\n  dataLogDir=/logs\rmaxClientCnxns==5\n";
    let properties = parse_properties(text).expect("valid properties");
    let pairs: Vec<(&str, &str)> = properties
        .iter()
        .map(|p| (p.key.as_str(), p.value.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("clientPort", "2300"),
            ("tickTime", "1000"),
            ("dataDir", "/data dir/x"),
            ("dataLogDir", "/logs"),
            ("maxClientCnxns", "=5"),
        ]
    );
    assert_eq!(properties[0].line, 4);
}

#[test]
fn java_properties_continuations_and_escapes() {
    let text = "dataDir=/a/\\\n    b/c\nkey\\ with\\=odd\\:chars=v\\tx\\u0041\\\\\n\
        # comment ending in backslash \\\nclientPort=1\n";
    let properties = parse_properties(text).expect("valid properties");
    let pairs: Vec<(&str, &str)> = properties
        .iter()
        .map(|p| (p.key.as_str(), p.value.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("dataDir", "/a/b/c"),
            ("key with=odd:chars", "v\txA\\"),
            ("clientPort", "1")
        ]
    );
}

#[test]
fn inline_hash_is_part_of_the_value_as_in_java() {
    // Java only treats # at the start of a line as a comment, so ZooKeeper rejects this too.
    match cfg_error("clientPort=2181 # the port") {
        ConfigError::InvalidValue { key, value, .. } => {
            assert_eq!(
                (key.as_str(), value.as_str()),
                ("clientPort", "2181 # the port")
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn malformed_unicode_escape_is_a_syntax_error_with_its_line() {
    let error = cfg_error("tickTime=2000\ndataDir=/x\\u12\n");
    assert!(
        matches!(error, ConfigError::Syntax { line: 2, .. }),
        "{error:?}"
    );
}

#[test]
fn ipv6_client_port_address_with_or_without_brackets() {
    let config = cfg("clientPortAddress=::1\n");
    assert_eq!(config.client_port_address, IpAddr::V6(Ipv6Addr::LOCALHOST));
    let config = cfg("clientPortAddress=[::1]\n");
    assert_eq!(config.client_port_address, IpAddr::V6(Ipv6Addr::LOCALHOST));
}

#[test]
fn host_name_client_port_address_is_resolved() {
    let config = cfg("clientPortAddress=localhost\n");
    assert!(
        config.client_port_address.is_loopback(),
        "{}",
        config.client_port_address
    );
}

#[test]
fn flags_override_the_file_regardless_of_order() {
    let file = write_cfg("override", "clientPort=3000\ndataDir=/from/file\n");
    let path = file.path.clone();
    let config =
        parse_args(args(&["--port", "4000", "--config", &path, "--cores=1"])).expect("valid");
    assert_eq!(config.client_port, 4000);
    assert_eq!(config.data_dir, PathBuf::from("/from/file"));
    assert_eq!(config.cores, 1);
    let config = parse_args(args(&[
        &format!("--config={path}"),
        "--data-dir=/from/flag",
    ]))
    .expect("valid");
    assert_eq!(config.client_port, 3000);
    assert_eq!(config.data_dir, PathBuf::from("/from/flag"));
    assert_eq!(config.data_log_dir, PathBuf::from("/from/flag"));
}

#[test]
fn data_dir_flag_leaves_an_explicit_data_log_dir_alone() {
    let file = write_cfg("logdir", "dataDir=/d\ndataLogDir=/l\n");
    let path = file.path.clone();
    let config = parse_args(args(&[&path, "--data-dir", "/flag"])).expect("valid");
    assert_eq!(config.data_dir, PathBuf::from("/flag"));
    assert_eq!(config.data_log_dir, PathBuf::from("/l"));
}

#[test]
fn a_lone_positional_argument_is_the_config_file_like_zookeeper() {
    let file = write_cfg("positional", "clientPort=5555\n");
    let path = file.path.clone();
    assert_eq!(parse_args(args(&[&path])).expect("valid").client_port, 5555);
    assert_eq!(
        parse_args(args(&[&path, "second.cfg"])),
        Err(ConfigError::UnexpectedArgument("second.cfg".to_owned()))
    );
}

#[test]
fn flag_errors_are_precise() {
    assert_eq!(
        parse_args(args(&["--prot", "1"])),
        Err(ConfigError::UnknownFlag("--prot".to_owned()))
    );
    assert_eq!(
        parse_args(args(&["--port"])),
        Err(ConfigError::MissingValue("--port".to_owned()))
    );
    for (flag, value) in [
        ("--port", "65536"),
        ("--cores", "0"),
        ("--cores", "many"),
        ("--cores", "100000"),
    ] {
        match parse_args(args(&[flag, value])) {
            Err(ConfigError::InvalidValue { key, value: v, .. }) => {
                assert_eq!((key.as_str(), v.as_str()), (flag, value));
            }
            other => panic!("{flag} {value}: unexpected {other:?}"),
        }
    }
}

#[test]
fn help_returns_the_usage_text() {
    match parse_args(args(&["--port", "1", "--help"])) {
        Err(ConfigError::HelpRequested(text)) => {
            assert_eq!(text, config::usage());
            assert!(text.starts_with("Usage: corral"), "{text}");
            assert!(text.contains("--data-dir DIR"), "{text}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_missing_config_file_is_an_io_error_naming_it() {
    let error = parse_args(args(&["--config", "/nonexistent/zoo.cfg"])).expect_err("missing");
    match &error {
        ConfigError::Io { path, .. } => assert_eq!(path, &PathBuf::from("/nonexistent/zoo.cfg")),
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        error.to_string().contains("/nonexistent/zoo.cfg"),
        "{error}"
    );
}

#[test]
fn an_oversized_config_file_is_refused() {
    let file = write_cfg("oversized", &"# padding padding padding\n".repeat(50_000));
    let path = file.path.clone();
    match parse_args(args(&[&path])) {
        Err(ConfigError::Io { reason, .. }) => assert!(reason.contains("larger than"), "{reason}"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_latin1_config_file_is_read_as_java_would() {
    let file = write_cfg_bytes("latin1", b"dataDir=/caf\xe9\n");
    let path = file.path.clone();
    let config = parse_args(args(&[&path])).expect("valid");
    assert_eq!(config.data_dir, PathBuf::from("/caf\u{e9}"));
}
