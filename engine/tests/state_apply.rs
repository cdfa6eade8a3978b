//! `State::apply` and the reads, rule by rule, with exact stats. Values marked "(ZooKeeper 3.8)"
//! were observed on a real Apache ZooKeeper 3.8.0 standalone server.

use std::sync::Arc;

use corral_engine::state::State;
use corral_engine::types::{
    perms, Acl, CreateMode, CreateOp, Data, ErrorCode, EventType, Id, OpResult, Stat, Txn,
    WatchTrigger, WriteOp,
};

const SESSION: i64 = 0x0100_000b_6a89_0001;
const TIME_MS: i64 = 1_795_601_375_559;

fn world(perms: i32) -> Vec<Acl> {
    vec![Acl {
        perms,
        id: Id::new("world", "anyone"),
    }]
}

fn data(bytes: &str) -> Data {
    Arc::from(bytes.as_bytes())
}

fn create_op(path: &str, bytes: &str, mode: CreateMode) -> WriteOp {
    WriteOp::Create(CreateOp {
        path: path.to_owned(),
        data: data(bytes),
        acl: world(perms::ALL),
        mode,
        ttl_ms: -1,
    })
}

fn ttl_op(path: &str, ttl_ms: i64) -> WriteOp {
    WriteOp::Create(CreateOp {
        path: path.to_owned(),
        data: data(""),
        acl: world(perms::ALL),
        mode: CreateMode::PersistentWithTtl,
        ttl_ms,
    })
}

fn delete_op(path: &str, version: i32) -> WriteOp {
    WriteOp::Delete {
        path: path.to_owned(),
        version,
    }
}

fn set_op(path: &str, bytes: &str, version: i32) -> WriteOp {
    WriteOp::SetData {
        path: path.to_owned(),
        data: data(bytes),
        version,
    }
}

fn txn_at(time_ms: i64, auth: &[Id], op: WriteOp) -> Txn {
    Txn {
        session_id: SESSION,
        cxid: 1,
        time_ms,
        auth: auth.to_vec(),
        op,
    }
}

fn ip() -> Vec<Id> {
    vec![Id::new("ip", "127.0.0.1")]
}

/// Applies `op` as SESSION at TIME_MS and returns the result.
fn run(state: &mut State, op: WriteOp) -> OpResult {
    state.apply(&txn_at(TIME_MS, &ip(), op)).result
}

fn ok_create(state: &mut State, path: &str, mode: CreateMode) -> String {
    match run(state, create_op(path, "", mode)) {
        OpResult::Create { path, .. } => path,
        other => panic!("create {path}: {other:?}"),
    }
}

fn stat(state: &State, path: &str) -> Stat {
    state
        .exists(path)
        .unwrap_or_else(|| panic!("{path} missing"))
}

fn open_session(state: &mut State) {
    let op = WriteOp::CreateSession {
        timeout_ms: 30_000,
        password: [7; 16],
    };
    assert!(matches!(run(state, op), OpResult::SessionCreated { .. }));
}

#[test]
fn state_clones_are_send_sync_and_independent() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<State>();
    let mut state = State::new();
    let snapshot = state.clone();
    ok_create(&mut state, "/a", CreateMode::Persistent);
    assert!(snapshot.exists("/a").is_none());
    assert!(state.exists("/a").is_some());
    assert_eq!(snapshot.last_zxid(), 0);
}

#[test]
fn new_state_matches_a_fresh_zookeeper() {
    // (ZooKeeper 3.8) stat / shows cversion -1, /zookeeper -2, /zookeeper/config aversion -1;
    // mntr shows zk_znode_count 5 and zk_approximate_data_size 44.
    let state = State::new();
    let zero = Stat::default();
    assert_eq!(
        stat(&state, "/"),
        Stat {
            cversion: -1,
            num_children: 1,
            ..zero
        }
    );
    assert_eq!(
        stat(&state, "/zookeeper"),
        Stat {
            cversion: -2,
            num_children: 2,
            ..zero
        }
    );
    assert_eq!(stat(&state, "/zookeeper/quota"), zero);
    assert_eq!(
        stat(&state, "/zookeeper/config"),
        Stat {
            aversion: -1,
            ..zero
        }
    );
    assert_eq!(state.node_count(), 5);
    assert_eq!(state.approximate_data_size(), 44);
    assert_eq!(state.last_zxid(), 0);
    let (acl, _) = state.get_acl("/zookeeper/config", &ip()).unwrap();
    assert_eq!(acl, world(perms::READ));
    let (acl, _) = state.get_acl("/zookeeper/quota", &ip()).unwrap();
    assert_eq!(acl, world(perms::ALL));
    let (children, _) = state.get_children("/zookeeper", &ip()).unwrap();
    assert_eq!(children, vec!["config", "quota"]);
    assert_eq!(state.all_children_number("/", &ip()), Ok(3));
    assert_eq!(state.get_data("", &ip()).unwrap().1, stat(&state, "/"));
    state.assert_invariants();
}

#[test]
fn create_sets_every_stat_field_and_updates_the_parent() {
    let mut state = State::new();
    let applied = state.apply(&txn_at(
        TIME_MS,
        &ip(),
        create_op("/p", "x", CreateMode::Persistent),
    ));
    let expected = Stat {
        czxid: 1,
        mzxid: 1,
        pzxid: 1,
        ctime: TIME_MS,
        mtime: TIME_MS,
        data_length: 1,
        ..Stat::default()
    };
    assert_eq!(applied.zxid, 1);
    assert_eq!(
        applied.result,
        OpResult::Create {
            path: "/p".into(),
            stat: expected
        }
    );
    assert_eq!(stat(&state, "/p"), expected);
    let root = stat(&state, "/");
    assert_eq!((root.cversion, root.pzxid, root.num_children), (0, 1, 2));
    assert_eq!(
        applied.triggers,
        vec![
            WatchTrigger {
                path: "/p".into(),
                event: EventType::NodeCreated,
                zxid: 1
            },
            WatchTrigger {
                path: "/".into(),
                event: EventType::NodeChildrenChanged,
                zxid: 1
            },
        ]
    );
    assert_eq!(state.get_data("/p", &ip()).unwrap().0.as_ref(), b"x");
    assert_eq!(state.node_count(), 6);
    assert_eq!(state.approximate_data_size(), 44 + 2 + 1);
}

#[test]
fn child_deletes_count_in_cversion_but_not_in_sequence_numbers() {
    // (ZooKeeper 3.8) exactly this sequence: /p czxid 5; after /p/a,/p/b cver 2 pzxid 7; after
    // deleting /p/a cver 3 pzxid 8; then /p/s-0000000002 (cver 4), delete /p/b, /p/s-0000000003
    // (cver 6). Here the zxids start at 1 instead of 5.
    let mut state = State::new();
    ok_create(&mut state, "/p", CreateMode::Persistent);
    ok_create(&mut state, "/p/a", CreateMode::Persistent);
    ok_create(&mut state, "/p/b", CreateMode::Persistent);
    let parent = stat(&state, "/p");
    assert_eq!(
        (parent.cversion, parent.pzxid, parent.num_children),
        (2, 3, 2)
    );
    assert_eq!(run(&mut state, delete_op("/p/a", -1)), OpResult::Delete);
    let parent = stat(&state, "/p");
    assert_eq!(
        (parent.cversion, parent.pzxid, parent.num_children),
        (3, 4, 1)
    );
    assert_eq!(parent.mzxid, 1);
    assert_eq!(
        ok_create(&mut state, "/p/s-", CreateMode::PersistentSequential),
        "/p/s-0000000002"
    );
    assert_eq!(stat(&state, "/p").cversion, 4);
    run(&mut state, delete_op("/p/b", -1));
    assert_eq!(
        ok_create(&mut state, "/p/s-", CreateMode::PersistentSequential),
        "/p/s-0000000003"
    );
    let parent = stat(&state, "/p");
    assert_eq!(
        (parent.cversion, parent.pzxid, parent.num_children),
        (6, 7, 2)
    );
    state.assert_invariants();
}

#[test]
fn sequential_create_validates_the_path_with_its_suffix() {
    let mut state = State::new();
    ok_create(&mut state, "/m", CreateMode::Persistent);
    assert_eq!(
        ok_create(&mut state, "/m/", CreateMode::PersistentSequential),
        "/m/0000000000"
    );
    assert_eq!(
        run(&mut state, create_op("/m/", "", CreateMode::Persistent)),
        OpResult::Error(ErrorCode::BadArguments)
    );
    assert_eq!(
        run(&mut state, create_op("m", "", CreateMode::Persistent)),
        OpResult::Error(ErrorCode::BadArguments)
    );
    assert_eq!(
        run(&mut state, create_op("/m/a\0", "", CreateMode::Persistent)),
        OpResult::Error(ErrorCode::BadArguments)
    );
    // The parent is looked up before the full path is validated, as in ZooKeeper.
    assert_eq!(
        run(&mut state, create_op("/x//y", "", CreateMode::Persistent)),
        OpResult::Error(ErrorCode::NoNode)
    );
}

#[test]
fn failed_writes_take_a_zxid_and_change_nothing() {
    // (ZooKeeper 3.8) two failed writes advanced the zxid by two.
    let mut state = State::new();
    ok_create(&mut state, "/p", CreateMode::Persistent);
    let before = stat(&state, "/");
    let applied = state.apply(&txn_at(
        TIME_MS,
        &ip(),
        create_op("/p", "", CreateMode::Persistent),
    ));
    assert_eq!(
        (applied.zxid, applied.result),
        (2, OpResult::Error(ErrorCode::NodeExists))
    );
    assert!(applied.triggers.is_empty());
    let applied = state.apply(&txn_at(TIME_MS, &ip(), delete_op("/nope", -1)));
    assert_eq!(
        (applied.zxid, applied.result),
        (3, OpResult::Error(ErrorCode::NoNode))
    );
    assert_eq!(state.last_zxid(), 3);
    assert_eq!(stat(&state, "/"), before);
    // A write refused before the tree (ZooKeeper's error txn) takes one too.
    let applied = state.apply(&txn_at(
        TIME_MS,
        &ip(),
        WriteOp::Refused {
            code: ErrorCode::MarshallingError,
        },
    ));
    assert_eq!(
        (applied.zxid, applied.result),
        (4, OpResult::Error(ErrorCode::MarshallingError))
    );
    assert!(applied.triggers.is_empty());
    assert_eq!(stat(&state, "/"), before);
}

#[test]
fn sync_takes_no_zxid() {
    let mut state = State::new();
    ok_create(&mut state, "/p", CreateMode::Persistent);
    let applied = state.apply(&txn_at(TIME_MS, &ip(), WriteOp::Sync { path: "/p".into() }));
    assert_eq!(applied.zxid, 1);
    assert_eq!(applied.result, OpResult::Sync { path: "/p".into() });
    assert_eq!(state.last_zxid(), 1);
}

#[test]
fn failed_multi_reports_ok_then_code_then_runtime_inconsistency() {
    // (ZooKeeper 3.8) create, check(version 99), create -> results 0, -103, -2; one zxid.
    let mut state = State::new();
    ok_create(&mut state, "/p", CreateMode::Persistent);
    let multi = WriteOp::Multi(vec![
        create_op("/m1", "", CreateMode::Persistent),
        WriteOp::Check {
            path: "/p".into(),
            version: 99,
        },
        create_op("/m2", "", CreateMode::Persistent),
    ]);
    let applied = state.apply(&txn_at(TIME_MS, &ip(), multi));
    assert_eq!(applied.zxid, 2);
    assert_eq!(
        applied.result,
        OpResult::Multi(vec![
            OpResult::Error(ErrorCode::Ok),
            OpResult::Error(ErrorCode::BadVersion),
            OpResult::Error(ErrorCode::RuntimeInconsistency),
        ])
    );
    assert!(applied.triggers.is_empty());
    assert!(state.exists("/m1").is_none());
    assert_eq!(stat(&state, "/").pzxid, 1);
    state.assert_invariants();
}

#[test]
fn successful_multi_takes_one_zxid_and_sees_its_own_changes() {
    // (ZooKeeper 3.8) /ms/x seq, /ms/x seq, delete /ms/x0000000000, setData /ms -> names
    // x0000000000 and x0000000001, then /ms shows cver 3, version 1, mzxid = pzxid = the multi.
    let mut state = State::new();
    ok_create(&mut state, "/ms", CreateMode::Persistent);
    let multi = WriteOp::Multi(vec![
        create_op("/ms/x", "", CreateMode::PersistentSequential),
        create_op("/ms/x", "", CreateMode::PersistentSequential),
        delete_op("/ms/x0000000000", -1),
        set_op("/ms", "d", -1),
    ]);
    let applied = state.apply(&txn_at(TIME_MS + 5, &ip(), multi));
    assert_eq!(applied.zxid, 2);
    let OpResult::Multi(results) = applied.result else {
        panic!("not a multi result");
    };
    assert!(matches!(&results[0], OpResult::Create { path, .. } if path == "/ms/x0000000000"));
    assert!(matches!(&results[1], OpResult::Create { path, .. } if path == "/ms/x0000000001"));
    assert_eq!(results[2], OpResult::Delete);
    assert!(matches!(results[3], OpResult::SetData { stat } if stat.version == 1));
    let ms = stat(&state, "/ms");
    assert_eq!((ms.cversion, ms.version, ms.mzxid, ms.pzxid), (3, 1, 2, 2));
    assert_eq!((ms.num_children, ms.mtime), (1, TIME_MS + 5));
    let events: Vec<(String, EventType)> = applied
        .triggers
        .into_iter()
        .map(|t| (t.path, t.event))
        .collect();
    assert_eq!(
        events,
        vec![
            ("/ms/x0000000000".into(), EventType::NodeCreated),
            ("/ms".into(), EventType::NodeChildrenChanged),
            ("/ms/x0000000001".into(), EventType::NodeCreated),
            ("/ms".into(), EventType::NodeChildrenChanged),
            ("/ms/x0000000000".into(), EventType::NodeDeleted),
            ("/ms".into(), EventType::NodeChildrenChanged),
            ("/ms".into(), EventType::NodeDataChanged),
        ]
    );
}

#[test]
fn empty_multi_takes_a_zxid_and_ops_outside_zookeepers_multi_fail() {
    let mut state = State::new();
    let applied = state.apply(&txn_at(TIME_MS, &ip(), WriteOp::Multi(Vec::new())));
    assert_eq!(
        (applied.zxid, applied.result),
        (1, OpResult::Multi(Vec::new()))
    );
    let multi = WriteOp::Multi(vec![
        create_op("/a", "", CreateMode::Persistent),
        WriteOp::SetAcl {
            path: "/a".into(),
            acl: world(perms::ALL),
            version: -1,
        },
    ]);
    assert_eq!(
        run(&mut state, multi),
        OpResult::Multi(vec![
            OpResult::Error(ErrorCode::Ok),
            OpResult::Error(ErrorCode::BadArguments),
        ])
    );
    assert!(state.exists("/a").is_none());
}

#[test]
fn zookeeper_subtree_allows_and_refuses_what_zookeeper_does() {
    // (ZooKeeper 3.8) create/delete /zookeeper/x and set /zookeeper succeed; set or setAcl
    // /zookeeper/config is NoAuth; deleting /zookeeper, its quota or config node is
    // BadArguments; create / is NodeExists.
    let mut state = State::new();
    assert_eq!(
        ok_create(&mut state, "/zookeeper/x", CreateMode::Persistent),
        "/zookeeper/x"
    );
    assert_eq!(
        run(&mut state, delete_op("/zookeeper/x", -1)),
        OpResult::Delete
    );
    assert!(
        matches!(run(&mut state, set_op("/zookeeper", "a", -1)), OpResult::SetData { stat } if stat.version == 1)
    );
    let refused = [
        (set_op("/zookeeper/config", "a", -1), ErrorCode::NoAuth),
        (
            WriteOp::SetAcl {
                path: "/zookeeper/config".into(),
                acl: world(perms::ALL),
                version: -1,
            },
            ErrorCode::NoAuth,
        ),
        (delete_op("/zookeeper/quota", -1), ErrorCode::BadArguments),
        (delete_op("/zookeeper/config", -1), ErrorCode::BadArguments),
        (delete_op("/zookeeper", -1), ErrorCode::BadArguments),
        (delete_op("/", -1), ErrorCode::BadArguments),
        (
            create_op("/", "", CreateMode::Persistent),
            ErrorCode::NodeExists,
        ),
    ];
    for (op, code) in refused {
        assert_eq!(run(&mut state, op.clone()), OpResult::Error(code), "{op:?}");
    }
    // A super user may write the config node, as in ZooKeeper.
    let superuser = [Id::new("super", "")];
    let applied = state.apply(&txn_at(
        TIME_MS,
        &superuser,
        set_op("/zookeeper/config", "c", -1),
    ));
    assert!(matches!(applied.result, OpResult::SetData { .. }));
}

#[test]
fn container_and_ttl_nodes_show_owner_zero_and_ttl_bounds_are_checked() {
    // (ZooKeeper 3.8) stat of a container and of a TTL node shows ephemeralOwner 0x0.
    let mut state = State::new();
    ok_create(&mut state, "/c", CreateMode::Container);
    assert_eq!(stat(&state, "/c").ephemeral_owner, 0);
    assert!(
        matches!(run(&mut state, ttl_op("/t", 100_000)), OpResult::Create { stat, .. } if stat.ephemeral_owner == 0)
    );
    assert!(matches!(
        run(&mut state, ttl_op("/t2", (1 << 40) - 1)),
        OpResult::Create { .. }
    ));
    assert_eq!(
        run(&mut state, ttl_op("/t0", 0)),
        OpResult::Error(ErrorCode::BadArguments)
    );
    assert_eq!(
        run(&mut state, ttl_op("/t1", 1 << 40)),
        OpResult::Error(ErrorCode::BadArguments)
    );
    let mut with_ttl = create_op("/n", "", CreateMode::Persistent);
    if let WriteOp::Create(create) = &mut with_ttl {
        create.ttl_ms = 5;
    }
    assert_eq!(
        run(&mut state, with_ttl),
        OpResult::Error(ErrorCode::BadArguments)
    );
    state.assert_invariants();
}

#[test]
fn ephemerals_belong_to_live_sessions_and_have_no_children() {
    let mut state = State::new();
    assert_eq!(
        run(&mut state, create_op("/e", "", CreateMode::Ephemeral)),
        OpResult::Error(ErrorCode::SessionExpired)
    );
    open_session(&mut state);
    ok_create(&mut state, "/e", CreateMode::Ephemeral);
    assert_eq!(stat(&state, "/e").ephemeral_owner, SESSION);
    // (ZooKeeper 3.8) a child of an ephemeral is NoChildrenForEphemerals; NodeExists first.
    assert_eq!(
        run(&mut state, create_op("/e/x", "", CreateMode::Persistent)),
        OpResult::Error(ErrorCode::NoChildrenForEphemerals)
    );
    assert_eq!(
        run(&mut state, create_op("/e", "", CreateMode::Persistent)),
        OpResult::Error(ErrorCode::NodeExists)
    );
    assert_eq!(state.ephemeral_count(), 1);
    assert_eq!(state.session_ephemerals(SESSION), vec!["/e"]);
    state.assert_invariants();
}

#[test]
fn close_session_deletes_its_ephemerals_in_path_order() {
    let mut state = State::new();
    open_session(&mut state);
    ok_create(&mut state, "/c", CreateMode::Container);
    ok_create(&mut state, "/c/x", CreateMode::Ephemeral);
    ok_create(&mut state, "/b", CreateMode::EphemeralSequential);
    assert_eq!(state.ephemerals(SESSION, "/"), vec!["/b0000000001", "/c/x"]);
    assert_eq!(state.ephemerals(SESSION, "/c"), vec!["/c/x"]);
    assert_eq!(state.ephemerals(SESSION, "/b0"), vec!["/b0000000001"]);
    assert!(state.ephemerals(SESSION + 1, "/").is_empty());
    let applied = state.apply(&txn_at(TIME_MS, &ip(), WriteOp::CloseSession));
    assert_eq!((applied.zxid, applied.result), (5, OpResult::SessionClosed));
    let deleted: Vec<(String, EventType)> = applied
        .triggers
        .into_iter()
        .map(|t| (t.path, t.event))
        .collect();
    assert_eq!(
        deleted,
        vec![
            ("/b0000000001".into(), EventType::NodeDeleted),
            ("/".into(), EventType::NodeChildrenChanged),
            ("/c/x".into(), EventType::NodeDeleted),
            ("/c".into(), EventType::NodeChildrenChanged),
        ]
    );
    assert!(state.session(SESSION).is_none());
    assert_eq!(state.ephemeral_count(), 0);
    assert_eq!(stat(&state, "/c").pzxid, 5);
    // Closing an unknown session succeeds and changes nothing but the zxid.
    assert_eq!(
        run(&mut state, WriteOp::CloseSession),
        OpResult::SessionClosed
    );
    state.assert_invariants();
}

#[test]
fn sessions_are_registered_once_per_password() {
    let mut state = State::new();
    open_session(&mut state);
    let info = state.session(SESSION).cloned().unwrap();
    assert_eq!((info.timeout_ms, info.password), (30_000, [7; 16]));
    let other = WriteOp::CreateSession {
        timeout_ms: 10,
        password: [8; 16],
    };
    assert_eq!(
        run(&mut state, other),
        OpResult::Error(ErrorCode::BadArguments)
    );
    assert_eq!(state.session(SESSION), Some(&info));
    assert_eq!(state.sessions().count(), 1);
    let mut bad = txn_at(
        TIME_MS,
        &ip(),
        WriteOp::CreateSession {
            timeout_ms: 1,
            password: [0; 16],
        },
    );
    for session_id in [0, i64::MIN, -1] {
        bad.session_id = session_id;
        assert_eq!(
            state.apply(&bad).result,
            OpResult::Error(ErrorCode::BadArguments)
        );
    }
}

#[test]
fn reads_and_writes_check_permissions_as_zookeeper() {
    // (ZooKeeper 3.8) on an ADMIN-only node getData and getChildren are NoAuth, getACL and
    // exists succeed, check in a multi is NoAuth; on a WRITE-only node getACL is NoAuth and
    // creating a child is NoAuth; an empty ACL is InvalidAcl even when the parent is missing.
    let mut state = State::new();
    let mut admin_only = create_op("/adm", "v", CreateMode::Persistent);
    if let WriteOp::Create(create) = &mut admin_only {
        create.acl = world(perms::ADMIN);
    }
    run(&mut state, admin_only);
    assert_eq!(state.get_data("/adm", &ip()), Err(ErrorCode::NoAuth));
    assert_eq!(state.get_children("/adm", &ip()), Err(ErrorCode::NoAuth));
    assert_eq!(
        state.all_children_number("/adm", &ip()),
        Err(ErrorCode::NoAuth)
    );
    assert_eq!(state.get_acl("/adm", &ip()).unwrap().0, world(perms::ADMIN));
    assert!(state.exists("/adm").is_some());
    let check = WriteOp::Multi(vec![WriteOp::Check {
        path: "/adm".into(),
        version: 0,
    }]);
    assert_eq!(
        run(&mut state, check),
        OpResult::Multi(vec![OpResult::Error(ErrorCode::NoAuth)])
    );
    let mut write_only = create_op("/wo", "v", CreateMode::Persistent);
    if let WriteOp::Create(create) = &mut write_only {
        create.acl = world(perms::WRITE);
    }
    run(&mut state, write_only);
    assert_eq!(state.get_acl("/wo", &ip()), Err(ErrorCode::NoAuth));
    assert_eq!(
        run(&mut state, create_op("/wo/x", "", CreateMode::Persistent)),
        OpResult::Error(ErrorCode::NoAuth)
    );
    let mut no_acl = create_op("/nope/x", "", CreateMode::Persistent);
    if let WriteOp::Create(create) = &mut no_acl {
        create.acl = Vec::new();
    }
    assert_eq!(
        run(&mut state, no_acl),
        OpResult::Error(ErrorCode::InvalidAcl)
    );
    assert_eq!(state.get_data("/missing", &ip()), Err(ErrorCode::NoNode));
}

#[test]
fn get_acl_masks_digests_without_admin() {
    let mut state = State::new();
    let alice = Id::new("digest", "alice:hash=");
    let acl = vec![
        Acl {
            perms: perms::READ,
            id: Id::new("world", "anyone"),
        },
        Acl {
            perms: perms::ALL,
            id: alice.clone(),
        },
    ];
    let create = WriteOp::Create(CreateOp {
        path: "/d".into(),
        data: data(""),
        acl: acl.clone(),
        mode: CreateMode::Persistent,
        ttl_ms: -1,
    });
    run(&mut state, create);
    let (seen, _) = state.get_acl("/d", &ip()).unwrap();
    assert_eq!(seen[1].id, Id::new("digest", "alice:x"));
    let (seen, _) = state.get_acl("/d", &[alice]).unwrap();
    assert_eq!(seen, acl);
}

#[test]
fn delete_checks_version_before_children() {
    // (ZooKeeper 3.8) delete with a wrong version on a parent is BadVersion, with -1 NotEmpty.
    let mut state = State::new();
    ok_create(&mut state, "/p", CreateMode::Persistent);
    ok_create(&mut state, "/p/c", CreateMode::Persistent);
    assert_eq!(
        run(&mut state, delete_op("/p", 5)),
        OpResult::Error(ErrorCode::BadVersion)
    );
    assert_eq!(
        run(&mut state, delete_op("/p", -1)),
        OpResult::Error(ErrorCode::NotEmpty)
    );
    assert_eq!(
        run(&mut state, delete_op("/p/c", 1)),
        OpResult::Error(ErrorCode::BadVersion)
    );
    assert_eq!(run(&mut state, delete_op("/p/c", 0)), OpResult::Delete);
    assert_eq!(
        run(&mut state, delete_op("/p/c", 0)),
        OpResult::Error(ErrorCode::NoNode)
    );
    assert_eq!(
        run(&mut state, delete_op("/q/c", 0)),
        OpResult::Error(ErrorCode::NoNode)
    );
}

#[test]
fn set_data_and_set_acl_update_their_versions() {
    // (ZooKeeper 3.8) setAcl version 0 on /p -> aversion 1, nothing else; setData version 0 ->
    // version 1, mzxid and mtime of the txn, dataLength 3.
    let mut state = State::new();
    ok_create(&mut state, "/p", CreateMode::Persistent);
    let set_acl = |version| WriteOp::SetAcl {
        path: "/p".into(),
        acl: world(perms::ALL),
        version,
    };
    assert_eq!(
        run(&mut state, set_acl(3)),
        OpResult::Error(ErrorCode::BadVersion)
    );
    let applied = state.apply(&txn_at(TIME_MS, &ip(), set_acl(0)));
    assert!(applied.triggers.is_empty());
    let OpResult::SetAcl { stat: acl_stat } = applied.result else {
        panic!("setAcl failed");
    };
    assert_eq!(
        (acl_stat.aversion, acl_stat.version, acl_stat.mzxid),
        (1, 0, 1)
    );
    let applied = state.apply(&txn_at(TIME_MS + 9, &ip(), set_op("/p", "abc", 0)));
    let OpResult::SetData { stat: data_stat } = applied.result else {
        panic!("setData failed");
    };
    let expected = Stat {
        czxid: 1,
        mzxid: 4,
        pzxid: 1,
        ctime: TIME_MS,
        mtime: TIME_MS + 9,
        version: 1,
        aversion: 1,
        data_length: 3,
        ..Stat::default()
    };
    assert_eq!(data_stat, expected);
    assert_eq!(
        applied.triggers,
        vec![WatchTrigger {
            path: "/p".into(),
            event: EventType::NodeDataChanged,
            zxid: 4
        }]
    );
    assert_eq!(
        run(&mut state, set_op("/p", "", 0)),
        OpResult::Error(ErrorCode::BadVersion)
    );
    assert_eq!(
        run(&mut state, set_op("/q", "", -1)),
        OpResult::Error(ErrorCode::NoNode)
    );
    assert_eq!(state.approximate_data_size(), 44 + 2 + 3);
}

#[test]
fn housekeeping_finds_used_empty_containers_and_expired_ttl_nodes() {
    let mut state = State::new();
    ok_create(&mut state, "/c", CreateMode::Container);
    ok_create(&mut state, "/unused", CreateMode::Container);
    run(&mut state, ttl_op("/t", 1000));
    ok_create(&mut state, "/c/x", CreateMode::Persistent);
    assert!(state.housekeeping(TIME_MS).is_empty());
    assert_eq!(state.housekeeping(TIME_MS + 1001), vec!["/t"]);
    run(&mut state, delete_op("/c/x", -1));
    assert_eq!(state.housekeeping(TIME_MS + 1000), vec!["/c"]);
    let delete_container = |path: &str| WriteOp::DeleteContainer { path: path.into() };
    // A TTL node is removable only strictly after its TTL, judged at the txn's time.
    let early = state.apply(&txn_at(TIME_MS + 1000, &[], delete_container("/t")));
    assert_eq!(early.result, OpResult::Error(ErrorCode::BadVersion));
    let applied = state.apply(&txn_at(TIME_MS + 1001, &[], delete_container("/t")));
    assert_eq!(applied.result, OpResult::Delete);
    assert_eq!(applied.triggers[0].event, EventType::NodeDeleted);
    assert_eq!(
        run(&mut state, delete_container("/unused")),
        OpResult::Error(ErrorCode::BadVersion)
    );
    assert_eq!(
        run(&mut state, delete_container("/zookeeper")),
        OpResult::Error(ErrorCode::BadArguments)
    );
    assert_eq!(
        run(&mut state, delete_container("/t")),
        OpResult::Error(ErrorCode::NoNode)
    );
    ok_create(&mut state, "/c/y", CreateMode::Persistent);
    assert_eq!(
        run(&mut state, delete_container("/c")),
        OpResult::Error(ErrorCode::NotEmpty)
    );
    run(&mut state, delete_op("/c/y", -1));
    assert_eq!(run(&mut state, delete_container("/c")), OpResult::Delete);
    assert!(state.housekeeping(i64::MAX).is_empty());
    state.assert_invariants();
}

#[test]
fn all_children_number_counts_every_descendant() {
    // (ZooKeeper 3.8) getAllChildrenNumber / is every node but the root; /p counts its subtree.
    let mut state = State::new();
    for path in ["/p", "/p/a", "/p/a/b", "/p/c", "/q"] {
        ok_create(&mut state, path, CreateMode::Persistent);
    }
    assert_eq!(state.all_children_number("/p", &ip()), Ok(3));
    assert_eq!(state.all_children_number("/p/a/b", &ip()), Ok(0));
    assert_eq!(state.all_children_number("/", &ip()), Ok(8));
    assert_eq!(
        state.all_children_number("/x", &ip()),
        Err(ErrorCode::NoNode)
    );
    assert_eq!(state.get_children("/p", &ip()).unwrap().0, vec!["a", "c"]);
}

#[test]
fn approximate_data_size_counts_utf16_path_lengths() {
    let mut state = State::new();
    // "/éa" is 3 UTF-16 units but 4 bytes; ZooKeeper adds String.length().
    let applied = state.apply(&txn_at(
        TIME_MS,
        &ip(),
        create_op("/éa", "ab", CreateMode::Persistent),
    ));
    assert!(
        matches!(applied.result, OpResult::Create { .. }),
        "{:?}",
        applied.result
    );
    assert_eq!(state.approximate_data_size(), 44 + 3 + 2);
    run(&mut state, delete_op("/éa", -1));
    assert_eq!(state.approximate_data_size(), 44);
}

#[test]
fn large_directories_keep_children_sorted_and_counted() {
    let mut state = State::new();
    ok_create(&mut state, "/big", CreateMode::Persistent);
    for _ in 0..100 {
        ok_create(&mut state, "/big/n-", CreateMode::PersistentSequential);
    }
    for index in (0..100).step_by(3) {
        let path = format!("/big/n-{index:010}");
        assert_eq!(run(&mut state, delete_op(&path, 0)), OpResult::Delete);
    }
    let (children, parent) = state.get_children("/big", &ip()).unwrap();
    let expected: Vec<String> = (0..100)
        .filter(|index| index % 3 != 0)
        .map(|index| format!("n-{index:010}"))
        .collect();
    assert_eq!(children, expected);
    assert_eq!((parent.num_children, parent.cversion), (66, 134));
    assert_eq!(state.all_children_number("/big", &ip()), Ok(66));
    state.assert_invariants();
}
