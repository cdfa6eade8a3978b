//! ACL behaviour checked against Apache ZooKeeper 3.8 (digest values were printed by its
//! `DigestAuthenticationProvider`, and the fixup and addauth cases were run through zkCli).

use corral_engine::acl::{authenticate, check, digest, fixup, ip_matches};
use corral_engine::types::{perms, Acl, ErrorCode, Id};

const USER_PW_DIGEST: &str = "user:2Om+GBbT2q/tS6pdvACZbbm7/1A=";
const SUPER_SECRET_DIGEST: &str = "super:lK75jTNcA+U9vtVEw5vB51mj/w4=";

fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
    Acl {
        perms,
        id: Id::new(scheme, id),
    }
}

#[test]
fn digest_matches_zookeeper_generate_digest() {
    assert_eq!(digest("user:pw"), USER_PW_DIGEST);
    assert_eq!(digest("super:secret"), SUPER_SECRET_DIGEST);
    // No colon: the whole text is the user and is hashed as is.
    assert_eq!(digest("nocolon"), "nocolon:Ra+cHr2ZoHvBjtNArFGNGlVie4g=");
    // Only the first colon separates the user; the hash covers the whole text.
    assert_eq!(digest("a:b:c"), "a:cLzgnoJ6mP5qz3w+mwvPE2vDgu0=");
}

#[test]
fn authenticate_digest_yields_digest_id() {
    let ids = authenticate("digest", b"user:pw", None);
    assert_eq!(ids, Ok(vec![Id::new("digest", USER_PW_DIGEST)]));
    let ids = authenticate("digest", b"user:pw", Some(SUPER_SECRET_DIGEST));
    assert_eq!(ids, Ok(vec![Id::new("digest", USER_PW_DIGEST)]));
}

#[test]
fn authenticate_super_digest_adds_super_id_first() {
    let ids = authenticate("digest", b"super:secret", Some(SUPER_SECRET_DIGEST));
    assert_eq!(
        ids,
        Ok(vec![
            Id::new("super", ""),
            Id::new("digest", SUPER_SECRET_DIGEST)
        ])
    );
    let wrong = authenticate("digest", b"super:wrong", Some(SUPER_SECRET_DIGEST));
    assert_eq!(wrong.map(|ids| ids.len()), Ok(1));
}

#[test]
fn authenticate_accepts_digest_without_colon_as_zookeeper_does() {
    let ids = authenticate("digest", b"nocolon", None);
    assert_eq!(
        ids,
        Ok(vec![Id::new(
            "digest",
            "nocolon:Ra+cHr2ZoHvBjtNArFGNGlVie4g="
        )])
    );
}

#[test]
fn authenticate_other_schemes() {
    // ZooKeeper re-adds the connection's own address, which the session already holds.
    assert_eq!(authenticate("ip", b"anything", None), Ok(vec![]));
    for scheme in ["world", "super", "auth", "foo", "sasl", ""] {
        assert_eq!(
            authenticate(scheme, b"anyone", None),
            Err(ErrorCode::AuthFailed),
            "scheme {scheme}"
        );
    }
}

#[test]
fn check_empty_acl_and_world_pass_everyone() {
    assert!(check(&[], &[], perms::ADMIN));
    let world = [acl(perms::READ, "world", "anyone")];
    assert!(check(&world, &[], perms::READ));
    assert!(!check(&world, &[], perms::WRITE));
    let world_other = [acl(perms::ALL, "world", "someone")];
    assert!(!check(
        &world_other,
        &[Id::new("world", "someone")],
        perms::READ
    ));
}

#[test]
fn check_super_passes_everything() {
    let only_user = [acl(perms::READ, "digest", USER_PW_DIGEST)];
    let auth = [Id::new("ip", "127.0.0.1"), Id::new("super", "")];
    for perm in [
        perms::READ,
        perms::WRITE,
        perms::CREATE,
        perms::DELETE,
        perms::ADMIN,
    ] {
        assert!(check(&only_user, &auth, perm));
    }
}

#[test]
fn check_digest_needs_equal_id_and_a_granted_bit() {
    let node = [
        acl(perms::READ | perms::WRITE, "digest", USER_PW_DIGEST),
        acl(perms::ADMIN, "digest", SUPER_SECRET_DIGEST),
    ];
    let user = [
        Id::new("ip", "127.0.0.1"),
        Id::new("digest", USER_PW_DIGEST),
    ];
    assert!(check(&node, &user, perms::READ));
    assert!(check(&node, &user, perms::WRITE));
    assert!(!check(&node, &user, perms::ADMIN));
    assert!(!check(&node, &user, perms::DELETE));
    let stranger = [Id::new("digest", "user:other")];
    assert!(!check(&node, &stranger, perms::READ));
    // The scheme must match too.
    let wrong_scheme = [Id::new("sasl", USER_PW_DIGEST)];
    assert!(!check(&node, &wrong_scheme, perms::READ));
}

#[test]
fn check_ip_acl_matches_session_address_by_prefix() {
    let node = [acl(perms::ALL, "ip", "10.0.0.0/8")];
    assert!(check(&node, &[Id::new("ip", "10.1.2.3")], perms::READ));
    assert!(!check(&node, &[Id::new("ip", "11.1.2.3")], perms::READ));
    // Only ids of scheme ip are compared as addresses.
    assert!(!check(&node, &[Id::new("digest", "10.1.2.3")], perms::READ));
}

#[test]
fn ip_matches_ipv4() {
    assert!(ip_matches("10.0.0.0/8", "10.1.2.3"));
    assert!(ip_matches("10.1.2.3", "10.1.2.3"));
    assert!(!ip_matches("10.1.2.3", "10.1.2.4"));
    assert!(ip_matches("10.1.2.3/32", "10.1.2.3"));
    assert!(ip_matches("0.0.0.0/0", "192.168.1.1"));
    assert!(ip_matches("192.168.0.0/17", "192.168.127.255"));
    assert!(!ip_matches("192.168.0.0/17", "192.168.128.0"));
    // Java's Integer.parseInt accepts leading zeros and signs.
    assert!(ip_matches("010.+1.0.0/-0", "1.2.3.4"));
    assert!(ip_matches("010.1.0.0/16", "10.1.9.9"));
    assert!(!ip_matches("10.0.0.0/33", "10.0.0.0"));
    assert!(!ip_matches("10.0.0.0/", "10.0.0.0"));
    assert!(!ip_matches("10.0.0/8", "10.0.0.0"));
    assert!(!ip_matches("10.0.0.256", "10.0.0.0"));
    assert!(!ip_matches("10.0.0.0.", "10.0.0.0"));
    assert!(!ip_matches("10.0.0.0/8", "not-an-address"));
    assert!(!ip_matches("localhost", "localhost"));
}

#[test]
fn ip_matches_ipv6() {
    assert!(ip_matches("::1", "0:0:0:0:0:0:0:1"));
    assert!(ip_matches("fe80::/10", "fe80:0:0:0:1:2:3:4"));
    assert!(ip_matches("fe80::/10", "febf::1"));
    assert!(!ip_matches("fe80::/10", "fec0::1"));
    assert!(ip_matches("2001:db8::/32", "2001:DB8:ffff::1"));
    assert!(ip_matches("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"));
    assert!(ip_matches("::/0", "1:2:3:4:5:6:7:8"));
    assert!(!ip_matches("::/129", "::"));
    assert!(!ip_matches("1:2:3:4:5:6:7:8::", "::"));
    assert!(!ip_matches("1::2::3", "1::2:0:3"));
    assert!(!ip_matches("12345::", "12345::"));
    assert!(!ip_matches("::ffff:1.2.3.4", "::ffff:1.2.3.4"));
    assert!(!ip_matches("1:2:3:4:5:6:7", "1:2:3:4:5:6:7"));
    // An IPv4 pattern never matches an IPv6 address, nor the reverse.
    assert!(!ip_matches("0.0.0.0/0", "::1"));
    assert!(!ip_matches("::/0", "1.2.3.4"));
}

#[test]
fn fixup_keeps_valid_entries_and_drops_exact_duplicates() {
    let request = [
        acl(perms::READ, "world", "anyone"),
        acl(perms::ALL, "digest", USER_PW_DIGEST),
        acl(perms::READ, "world", "anyone"),
        acl(perms::READ, "ip", "10.0.0.0/8"),
        acl(perms::WRITE, "world", "anyone"),
    ];
    let fixed = fixup(&request, &[]);
    assert_eq!(
        fixed,
        Ok(vec![
            acl(perms::READ, "world", "anyone"),
            acl(perms::ALL, "digest", USER_PW_DIGEST),
            acl(perms::READ, "ip", "10.0.0.0/8"),
            acl(perms::WRITE, "world", "anyone"),
        ])
    );
}

#[test]
fn fixup_expands_auth_to_digest_ids_only() {
    let session = [
        Id::new("ip", "127.0.0.1"),
        Id::new("super", ""),
        Id::new("digest", SUPER_SECRET_DIGEST),
        Id::new("digest", USER_PW_DIGEST),
    ];
    // As ZooKeeper does, the id text of an auth entry is ignored and expansion may repeat ids.
    let request = [
        acl(perms::READ, "auth", "whatever"),
        acl(perms::ALL, "auth", ""),
    ];
    assert_eq!(
        fixup(&request, &session),
        Ok(vec![
            acl(perms::READ, "digest", SUPER_SECRET_DIGEST),
            acl(perms::READ, "digest", USER_PW_DIGEST),
            acl(perms::ALL, "digest", SUPER_SECRET_DIGEST),
            acl(perms::ALL, "digest", USER_PW_DIGEST),
        ])
    );
}

#[test]
fn fixup_rejects_invalid_acls() {
    let ip_only = [Id::new("ip", "127.0.0.1")];
    let super_only = [Id::new("super", "")];
    let cases: Vec<(Vec<Acl>, &[Id])> = vec![
        (vec![], &[]),
        (vec![acl(perms::ALL, "auth", "")], &[]),
        (vec![acl(perms::ALL, "auth", "")], &ip_only),
        (vec![acl(perms::ALL, "auth", "")], &super_only),
        (vec![acl(perms::READ, "world", "foo")], &[]),
        (vec![acl(perms::READ, "digest", "user:")], &[]),
        (vec![acl(perms::READ, "digest", "user")], &[]),
        (vec![acl(perms::READ, "digest", "a::b")], &[]),
        (vec![acl(perms::READ, "digest", "a:b:c")], &[]),
        (vec![acl(perms::READ, "ip", "10.0.0.0/33")], &[]),
        (vec![acl(perms::READ, "ip", "10.0.0.0/x")], &[]),
        (vec![acl(perms::READ, "ip", "host.example")], &[]),
        (vec![acl(perms::READ, "super", "")], &[]),
        (vec![acl(perms::READ, "sasl", "user")], &[]),
        (
            vec![
                acl(perms::READ, "world", "anyone"),
                acl(perms::READ, "unknown", "x"),
            ],
            &[],
        ),
    ];
    for (request, session) in cases {
        assert_eq!(
            fixup(&request, session),
            Err(ErrorCode::InvalidAcl),
            "acl {request:?}"
        );
    }
}

#[test]
fn fixup_accepts_digest_ids_java_split_accepts() {
    // Java's split drops trailing empty parts: both have exactly two parts there.
    for id in ["user:hash:", "user:hash::", ":hash", USER_PW_DIGEST] {
        let request = [acl(perms::READ, "digest", id)];
        assert_eq!(fixup(&request, &[]), Ok(request.to_vec()), "id {id}");
    }
    let odd_ip = [acl(perms::READ, "ip", "010.+1.0.0/-0")];
    assert_eq!(fixup(&odd_ip, &[]), Ok(odd_ip.to_vec()));
    let perms_unchecked = [acl(0, "world", "anyone"), acl(99999, "world", "anyone")];
    assert_eq!(fixup(&perms_unchecked, &[]), Ok(perms_unchecked.to_vec()));
}
