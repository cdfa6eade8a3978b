//! Recognising words at the start of a connection and gating them with the whitelist, as
//! ZooKeeper 3.8 does.

use corral_net::config::{parse_zoo_cfg, ServerConfig};
use corral_net::fourlw::{self, FourLetterInput};

fn serving() -> FourLetterInput {
    FourLetterInput {
        serving: true,
        version: "3.8.0-corral-test, built on never".to_owned(),
        ..FourLetterInput::default()
    }
}

#[test]
fn known_words_are_recognised_and_packet_lengths_are_not() {
    assert!(fourlw::is_four_letter_word(*b"ruok"));
    assert!(fourlw::is_four_letter_word(*b"mntr"));
    assert!(fourlw::is_four_letter_word(*b"hash"));
    assert!(!fourlw::is_four_letter_word(*b"RUOK"));
    assert!(!fourlw::is_four_letter_word(*b"abcd"));
    // A ConnectRequest of 45 bytes starts with its length.
    assert!(!fourlw::is_four_letter_word(45i32.to_be_bytes()));
    assert_eq!(
        fourlw::four_letter_word([0xff, 0xf4, 0xff, 0xfd]),
        Some("telnet close")
    );
}

#[test]
fn every_known_word_is_far_above_the_default_packet_limit() {
    for word in fourlw::KNOWN_WORDS {
        let bytes: [u8; 4] = word.as_bytes().try_into().expect("four bytes");
        assert!(i32::from_be_bytes(bytes) > 0xfffff, "{word}");
    }
}

#[test]
fn default_whitelist_runs_only_srvr_and_refuses_the_rest_like_zookeeper() {
    let config = ServerConfig::default();
    let input = serving();
    let reply = fourlw::respond(*b"ruok", &config, &input);
    assert_eq!(
        reply.as_deref(),
        Some("ruok is not executed because it is not in the whitelist.\n")
    );
    let reply = fourlw::respond(*b"mntr", &config, &input);
    assert_eq!(
        reply.as_deref(),
        Some("mntr is not executed because it is not in the whitelist.\n")
    );
    let srvr = fourlw::respond(*b"srvr", &config, &input).expect("srvr always runs");
    assert!(
        srvr.starts_with("Zookeeper version: 3.8.0-corral-test"),
        "{srvr}"
    );
}

#[test]
fn star_whitelist_runs_every_word() {
    let config =
        parse_zoo_cfg("4lw.commands.whitelist=*\n", ServerConfig::default()).expect("valid config");
    assert_eq!(
        fourlw::respond(*b"ruok", &config, &serving()).as_deref(),
        Some("imok")
    );
    for word in fourlw::KNOWN_WORDS {
        assert!(config.four_letter_allowed(word), "{word}");
    }
}

#[test]
fn listed_words_run_and_others_are_refused() {
    let config = parse_zoo_cfg(
        "4lw.commands.whitelist=ruok, stat\n",
        ServerConfig::default(),
    )
    .expect("valid config");
    assert_eq!(
        fourlw::respond(*b"ruok", &config, &serving()).as_deref(),
        Some("imok")
    );
    assert_eq!(
        fourlw::respond(*b"cons", &config, &serving()).as_deref(),
        Some("cons is not executed because it is not in the whitelist.\n")
    );
}

#[test]
fn non_words_and_telnet_close_get_no_reply() {
    let config =
        parse_zoo_cfg("4lw.commands.whitelist=*\n", ServerConfig::default()).expect("valid config");
    assert_eq!(fourlw::respond(*b"abcd", &config, &serving()), None);
    assert_eq!(
        fourlw::respond([0xff, 0xf4, 0xff, 0xfd], &config, &serving()),
        None
    );
    assert_eq!(fourlw::render("stmk", &serving()), None);
    assert_eq!(fourlw::render("nope", &serving()), None);
}

#[test]
fn not_whitelisted_telnet_close_is_refused_by_its_name() {
    let config = ServerConfig::default();
    assert_eq!(
        fourlw::respond([0xff, 0xf4, 0xff, 0xfd], &config, &serving()).as_deref(),
        Some("telnet close is not executed because it is not in the whitelist.\n")
    );
}

#[test]
fn last_op_names_follow_zookeeper() {
    assert_eq!(fourlw::last_op_name(4), "GETD");
    assert_eq!(fourlw::last_op_name(15), "CREA");
    assert_eq!(fourlw::last_op_name(-11), "CLOS");
    assert_eq!(fourlw::last_op_name(104), "GETACN");
    assert_eq!(fourlw::last_op_name(100), "NA");
}

#[test]
fn word_needs_names_the_costly_inputs() {
    assert!(fourlw::word_needs("cons").connections);
    assert!(fourlw::word_needs("wchp").data_watches);
    assert!(fourlw::word_needs("dump").sessions_and_ephemerals);
    assert_eq!(fourlw::word_needs("ruok"), fourlw::InputNeeds::default());
}

#[test]
fn java_formats_match_java() {
    assert_eq!(fourlw::java_double(0.0), "0.0");
    assert_eq!(fourlw::java_double(5.5), "5.5");
    assert_eq!(fourlw::java_double(12.0), "12.0");
    assert_eq!(fourlw::java_double(0.0001), "1.0E-4");
    assert_eq!(fourlw::java_double(12345678.0), "1.2345678E7");
    assert_eq!(
        fourlw::java_socket_address(&"[::1]:2181".parse().expect("literal")),
        "/[0:0:0:0:0:0:0:1]:2181"
    );
    assert_eq!(
        fourlw::java_socket_address(&"[::ffff:10.1.2.3]:7".parse().expect("literal")),
        "/10.1.2.3:7"
    );
    assert_eq!(fourlw::java_date_utc(0), "Thu Jan 01 00:00:00 UTC 1970");
    assert_eq!(
        fourlw::java_date_utc(951_782_400_000),
        "Tue Feb 29 00:00:00 UTC 2000"
    );
    assert_eq!(
        fourlw::java_date_utc(1_795_601_291_999),
        "Wed Nov 25 10:08:11 UTC 2026"
    );
}

#[test]
fn file_descriptor_counts_are_read_on_linux() {
    let (open, max) = fourlw::file_descriptor_counts();
    if cfg!(target_os = "linux") {
        assert!(open >= 3, "stdin, stdout and stderr at least: {open}");
        assert!(max >= open, "{max} < {open}");
    }
}
