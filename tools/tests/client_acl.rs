//! ACLs: world, digest, auth, ip, each permission bit, InvalidACL, AuthFailed, super, whoAmI.

mod common;

use common::raw::{self, err, op, RawSession, Writer};
use common::*;
use zk::Permission as P;
use zookeeper_client as zk;

fn acl(perms: P, scheme: &str, id: &str) -> zk::Acl {
    zk::Acl::new(perms, zk::AuthId::new(scheme, id))
}

fn anyone(perms: P) -> zk::Acl {
    zk::Acl::new(perms, zk::AuthId::anyone())
}

async fn digest_client(server: &Server, user: &str, password: &str) -> zk::Client {
    let mut connector = zk::Client::connector();
    connector.session_timeout(SESSION_TIMEOUT).auth(
        "digest".to_string(),
        format!("{user}:{password}").into_bytes(),
    );
    connect_with(server, &mut connector).await
}

/// Creates `path` with exactly `acls` and returns it.
async fn create_with(client: &zk::Client, path: &str, acls: &[zk::Acl]) {
    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::new(acls));
    step("create", client.create(path, b"secret", &options))
        .await
        .unwrap_or_else(|e| panic!("create {path}: {e}"));
}

#[tokio::test]
async fn world_read_only_node_refuses_writes() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let path = format!("{root}/ro");
    create_with(&client, &path, &[anyone(P::READ)]).await;
    assert_eq!(
        step("get", client.get_data(&path)).await.map(|(d, _)| d),
        Ok(b"secret".to_vec())
    );
    assert_eq!(
        step("set", client.set_data(&path, b"x", None)).await,
        Err(zk::Error::NoAuth)
    );
    let (acls, _) = step("getAcl", client.get_acl(&path)).await.expect("getAcl");
    assert_eq!(acls, vec![anyone(P::READ)]);
}

#[tokio::test]
async fn digest_acl_admits_only_the_matching_user() {
    let server = Server::start();
    let owner = digest_client(&server, "alice", "pw").await;
    let root = create_root(&owner).await;
    let path = format!("{root}/d");
    create_with(
        &owner,
        &path,
        &[acl(P::ALL, "digest", &digest_id("alice", "pw"))],
    )
    .await;
    assert_eq!(
        step("owner get", owner.get_data(&path))
            .await
            .map(|(d, _)| d),
        Ok(b"secret".to_vec())
    );

    let stranger = connect(&server).await;
    assert_eq!(
        step("stranger get", stranger.get_data(&path)).await,
        Err(zk::Error::NoAuth)
    );
    let wrong = digest_client(&server, "alice", "wrong").await;
    assert_eq!(
        step("wrong pw get", wrong.get_data(&path)).await,
        Err(zk::Error::NoAuth)
    );
    // exists needs no permission.
    assert!(step("exists", stranger.check_stat(&path))
        .await
        .expect("exists")
        .is_some());
    // addauth later in the session grants access from then on.
    step(
        "addauth",
        stranger.auth("digest".to_string(), b"alice:pw".to_vec()),
    )
    .await
    .expect("addauth");
    assert_eq!(
        step("now get", stranger.get_data(&path))
            .await
            .map(|(d, _)| d),
        Ok(b"secret".to_vec())
    );
}

#[tokio::test]
async fn auth_scheme_expands_to_the_sessions_digest_ids() {
    let server = Server::start();
    let owner = digest_client(&server, "bob", "pw").await;
    let root = create_root(&owner).await;
    let path = format!("{root}/a");
    create_with(&owner, &path, &[acl(P::READ | P::WRITE, "auth", "")]).await;
    // Without ADMIN on the node, getACL hides the digest's hash as "x".
    let (acls, _) = step("getAcl", owner.get_acl(&path)).await.expect("getAcl");
    assert_eq!(acls, vec![acl(P::READ | P::WRITE, "digest", "bob:x")]);
    // creator_all is the same thing spelled ("auth", "") with ALL.
    let path2 = format!("{root}/b");
    step(
        "creator",
        owner.create(
            &path2,
            b"",
            &zk::CreateMode::Persistent.with_acls(zk::Acls::creator_all()),
        ),
    )
    .await
    .expect("creator_all");
    let (acls, _) = step("getAcl", owner.get_acl(&path2)).await.expect("getAcl");
    assert_eq!(acls, vec![acl(P::ALL, "digest", &digest_id("bob", "pw"))]);
}

#[tokio::test]
async fn auth_scheme_without_authenticated_ids_is_invalid_acl() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    // The ip id every session has does not count: ip is not an "authenticated" scheme.
    let options = zk::CreateMode::Persistent.with_acls(zk::Acls::creator_all());
    let result = step("create", client.create(&format!("{root}/x"), b"", &options)).await;
    assert_eq!(result.map(|_| ()), Err(zk::Error::InvalidAcl));
    let result = step(
        "setAcl",
        client.set_acl(&root, &[acl(P::ALL, "auth", "")], None),
    )
    .await;
    assert_eq!(result.map(|_| ()), Err(zk::Error::InvalidAcl));
}

#[tokio::test]
async fn ip_acl_matches_address_and_prefix() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let cases = [
        ("127.0.0.1", true),
        ("127.0.0.0/8", true),
        ("127.0.0.1/32", true),
        ("10.0.0.0/8", false),
        ("127.0.0.2", false),
    ];
    for (index, (id, allowed)) in cases.iter().enumerate() {
        let path = format!("{root}/ip{index}");
        create_with(&client, &path, &[acl(P::READ, "ip", id), anyone(P::ADMIN)]).await;
        let result = step("get", client.get_data(&path)).await.map(|(d, _)| d);
        let expected = if *allowed {
            Ok(b"secret".to_vec())
        } else {
            Err(zk::Error::NoAuth)
        };
        assert_eq!(result, expected, "ip:{id}");
    }
}

/// Each permission bit gates its operations: a node whose ACL lacks exactly that bit refuses
/// them; a node whose ACL has only that bit allows them.
#[tokio::test]
async fn each_permission_bit_is_denied_and_allowed() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let bits = [
        ("read", P::READ),
        ("write", P::WRITE),
        ("create", P::CREATE),
        ("delete", P::DELETE),
        ("admin", P::ADMIN),
    ];
    for (name, bit) in bits {
        let everything_but = bits
            .iter()
            .filter(|(_, b)| *b != bit)
            .fold(P::NONE, |all, (_, b)| all | *b);
        for (perms, allowed) in [(everything_but, false), (bit, true)] {
            let path = format!("{root}/{name}-{allowed}");
            let options = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
            step("create", client.create(&path, b"", &options))
                .await
                .expect("create");
            step(
                "child",
                client.create(&format!("{path}/victim"), b"", &options),
            )
            .await
            .expect("child");
            step("setAcl", client.set_acl(&path, &[anyone(perms)], None))
                .await
                .expect("restrict");
            let outcome = attempt(&client, &path, bit).await;
            let expected = if allowed {
                Ok(())
            } else {
                Err(zk::Error::NoAuth)
            };
            assert_eq!(outcome, expected, "{name} with perms {perms}");
        }
    }
}

/// Performs the operation gated by `bit` on `path` (which has a child named "victim").
async fn attempt(client: &zk::Client, path: &str, bit: P) -> Result<(), zk::Error> {
    if bit == P::READ {
        step("get", client.get_data(path)).await?;
        step("children", client.list_children(path))
            .await
            .map(|_| ())
    } else if bit == P::WRITE {
        step("set", client.set_data(path, b"w", None))
            .await
            .map(|_| ())
    } else if bit == P::CREATE {
        step(
            "create child",
            client.create(&format!("{path}/new"), b"", &PERSISTENT),
        )
        .await
        .map(|_| ())
    } else if bit == P::DELETE {
        step(
            "delete child",
            client.delete(&format!("{path}/victim"), None),
        )
        .await
    } else {
        step("setAcl", client.set_acl(path, &[anyone(bit)], None))
            .await
            .map(|_| ())
    }
}

#[tokio::test]
async fn get_acl_needs_read_or_admin_and_masks_digests_without_admin() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let carol = digest_id("carol", "pw");
    let read_only = format!("{root}/r");
    create_with(
        &client,
        &read_only,
        &[anyone(P::READ), acl(P::ALL, "digest", &carol)],
    )
    .await;
    let (acls, _) = step("getAcl", client.get_acl(&read_only))
        .await
        .expect("getAcl with READ");
    assert_eq!(
        acls,
        vec![anyone(P::READ), acl(P::ALL, "digest", "carol:x")]
    );
    let hidden = format!("{root}/h");
    create_with(&client, &hidden, &[anyone(P::WRITE)]).await;
    assert_eq!(
        step("getAcl", client.get_acl(&hidden))
            .await
            .map(|(a, _)| a),
        Err(zk::Error::NoAuth)
    );
}

#[tokio::test]
async fn invalid_acls_are_refused() {
    let server = Server::start();
    let client = connect(&server).await;
    let root = create_root(&client).await;
    let mut session = RawSession::connect(&server.address(), 10_000).await;
    let cases: [&[(i32, &str, &str)]; 7] = [
        &[],
        &[(31, "world", "someone")],
        &[(31, "nosuch", "x")],
        &[(31, "digest", "no-colon")],
        &[(31, "digest", "a:b:c")],
        &[(31, "ip", "not-an-address")],
        &[(31, "ip", "127.0.0.1/33")],
    ];
    for acls in cases {
        let reply = session
            .request(
                op::CREATE,
                &raw::create_body(&format!("{root}/x"), b"", acls, 0),
            )
            .await;
        assert_eq!(reply.err, err::INVALID_ACL, "create with {acls:?}");
        let body = Writer::new().str(&root).acls(acls).int(-1).into_vec();
        assert_eq!(
            session.request(op::SET_ACL, &body).await.err,
            err::INVALID_ACL,
            "setACL {acls:?}"
        );
    }
    // A valid id next to an invalid one does not rescue the list.
    let mixed: &[(i32, &str, &str)] = &[(31, "world", "anyone"), (1, "digest", "bad")];
    let reply = session
        .request(
            op::CREATE,
            &raw::create_body(&format!("{root}/x"), b"", mixed, 0),
        )
        .await;
    assert_eq!(reply.err, err::INVALID_ACL);
    assert_eq!(
        step("x", client.check_stat(&format!("{root}/x"))).await,
        Ok(None)
    );
    session.close().await;
}

#[tokio::test]
async fn auth_with_unknown_scheme_fails_and_closes_the_connection() {
    let server = Server::start();
    let mut session = RawSession::connect(&server.address(), 10_000).await;
    assert_eq!(session.auth("nosuch", b"whatever").await, err::AUTH_FAILED);
    assert_eq!(
        session.read_any().await,
        None,
        "the server closes the connection after AuthFailed"
    );

    let client = connect(&server).await;
    let result = step("auth", client.auth("nosuch".to_string(), b"x".to_vec())).await;
    assert_eq!(result, Err(zk::Error::AuthFailed));
}

#[tokio::test]
async fn digest_auth_accepts_any_credentials_and_replies_with_auth_xid() {
    let server = Server::start();
    let mut session = RawSession::connect(&server.address(), 10_000).await;
    assert_eq!(session.auth("digest", b"dave:pw").await, err::OK);
    assert_eq!(session.auth("digest", b"no-colon-at-all").await, err::OK);
    session.ping().await;
    session.close().await;
}

#[tokio::test]
async fn super_digest_bypasses_every_acl() {
    let server = Server::start_with(&[&format!("superDigest={}", digest_id("super", "secret"))]);
    let owner = digest_client(&server, "erin", "pw").await;
    let root = create_root(&owner).await;
    let path = format!("{root}/locked");
    create_with(
        &owner,
        &path,
        &[acl(P::ALL, "digest", &digest_id("erin", "pw"))],
    )
    .await;
    let stranger = connect(&server).await;
    assert_eq!(
        step("stranger", stranger.get_data(&path)).await,
        Err(zk::Error::NoAuth)
    );

    let admin = digest_client(&server, "super", "secret").await;
    assert_eq!(
        step("super get", admin.get_data(&path))
            .await
            .map(|(d, _)| d),
        Ok(b"secret".to_vec())
    );
    step("super set", admin.set_data(&path, b"changed", None))
        .await
        .expect("super setData");
    step(
        "super setAcl",
        admin.set_acl(&path, &[anyone(P::READ)], None),
    )
    .await
    .expect("super setACL");
    assert_eq!(
        step("now open", stranger.get_data(&path))
            .await
            .map(|(d, _)| d),
        Ok(b"changed".to_vec())
    );
    let not_super = digest_client(&server, "super", "wrong").await;
    step(
        "lock",
        admin.set_acl(
            &path,
            &[acl(P::ALL, "digest", &digest_id("erin", "pw"))],
            None,
        ),
    )
    .await
    .expect("relock");
    assert_eq!(
        step("wrong super", not_super.get_data(&path)).await,
        Err(zk::Error::NoAuth)
    );
}

#[tokio::test]
async fn who_am_i_lists_ip_then_added_digest_users() {
    let server = Server::start();
    let client = connect(&server).await;
    let users = step("whoAmI", client.list_auth_users())
        .await
        .expect("whoAmI");
    assert_eq!(users, vec![zk::AuthUser::new("ip", "127.0.0.1")]);
    step(
        "addauth",
        client.auth("digest".to_string(), b"frank:pw".to_vec()),
    )
    .await
    .expect("addauth");
    step(
        "addauth",
        client.auth("digest".to_string(), b"grace:pw".to_vec()),
    )
    .await
    .expect("addauth");
    // ZooKeeper 3.8 lists the newest id first; clients should not rely on the order.
    let users = step("whoAmI", client.list_auth_users())
        .await
        .expect("whoAmI");
    let mut users: Vec<(String, String)> = users
        .iter()
        .map(|u| (u.scheme().to_string(), u.user().to_string()))
        .collect();
    users.sort();
    let expected = [
        ("digest", "frank"),
        ("digest", "grace"),
        ("ip", "127.0.0.1"),
    ];
    assert_eq!(
        users,
        expected
            .map(|(s, u)| (s.to_string(), u.to_string()))
            .to_vec()
    );
    let mut session = RawSession::connect(&server.address(), 10_000).await;
    let reply = session.request(op::WHO_AM_I, &[]).await;
    assert_eq!(reply.err, err::OK);
    let mut reader = reply.reader();
    assert_eq!(reader.int(), 1, "one ClientInfo");
    assert_eq!(
        (reader.str(), reader.str()),
        ("ip".to_string(), "127.0.0.1".to_string())
    );
    session.close().await;
}

/// ZooKeeper answers an auth packet with the xid the client put in its header (the Java client
/// uses −4, other clients such as the zookeeper-client crate use ordinary xids).
#[tokio::test]
async fn auth_reply_echoes_the_request_xid_and_who_am_i_shows_the_user_name() {
    let server = Server::start();
    let mut session = RawSession::connect(&server.address(), 10_000).await;
    let body = Writer::new()
        .int(0)
        .str("digest")
        .buf(b"henry:pw")
        .into_vec();
    session.send_with_xid(7, op::AUTH, &body).await;
    let reply = session.read_reply(7).await;
    assert_eq!((reply.xid, reply.zxid, reply.err), (7, 0, err::OK));
    let reply = session.request(op::WHO_AM_I, &[]).await;
    assert_eq!(reply.err, err::OK);
    let mut reader = reply.reader();
    let count = reader.int();
    let mut infos: Vec<(String, String)> =
        (0..count).map(|_| (reader.str(), reader.str())).collect();
    infos.sort();
    // The digest user is the name before the colon, not the whole "name:hash" id.
    let expected = [("digest", "henry"), ("ip", "127.0.0.1")];
    assert_eq!(
        infos,
        expected
            .map(|(s, u)| (s.to_string(), u.to_string()))
            .to_vec()
    );
    session.close().await;
}
