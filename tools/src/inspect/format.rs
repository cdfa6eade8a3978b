//! How nodes, stats, ACLs, data and txns are written: one line per item, `key=value` words that
//! a script can split on spaces, values in the units ZooKeeper's own tools use.

use std::fmt::Write as _;

use corral_engine::types::{is_null_data, perms, Acl, CreateMode, Data, Stat, Txn, WriteOp};

use super::limits::{DATA_PRINT_BYTES_MAX, MULTI_OPS_PRINT_MAX};

/// A zxid, session id or ephemeralOwner in hex, as zkCli prints them.
pub fn hex(value: i64) -> String {
    format!("{value:#x}")
}

/// Every field of a client `Stat`, under ZooKeeper's own names and in its order. Times are
/// milliseconds since the epoch, exactly as stored.
pub fn stat_words(stat: &Stat) -> String {
    format!(
        "czxid={} mzxid={} ctime={} mtime={} version={} cversion={} aversion={} \
         ephemeralOwner={} dataLength={} numChildren={} pzxid={}",
        hex(stat.czxid),
        hex(stat.mzxid),
        stat.ctime,
        stat.mtime,
        stat.version,
        stat.cversion,
        stat.aversion,
        hex(stat.ephemeral_owner),
        stat.data_length,
        stat.num_children,
        hex(stat.pzxid),
    )
}

/// zkCli's permission letters, in its order (`cdrwa`).
pub fn perm_letters(mask: i32) -> String {
    [
        (perms::CREATE, 'c'),
        (perms::DELETE, 'd'),
        (perms::READ, 'r'),
        (perms::WRITE, 'w'),
        (perms::ADMIN, 'a'),
    ]
    .iter()
    .filter(|(bit, _)| mask & bit != 0)
    .map(|(_, letter)| *letter)
    .collect()
}

/// An ACL list as `scheme:id:perms` entries joined by commas (`world:anyone:cdrwa`).
pub fn acl_text(acl: &[Acl]) -> String {
    let entries: Vec<String> = acl
        .iter()
        .map(|entry| {
            format!(
                "{}:{}:{}",
                entry.id.scheme,
                entry.id.id,
                perm_letters(entry.perms)
            )
        })
        .collect();
    entries.join(",")
}

/// Node data in one word: `null` for ZooKeeper's null data, `"text"` (with `"` and `\` escaped)
/// when it is printable UTF-8, else `0x` and its bytes in hex. Past `DATA_PRINT_BYTES_MAX` the
/// value is cut and `...(N bytes)` gives the full length.
pub fn data_text(data: &Data) -> String {
    if is_null_data(data) {
        return "null".to_string();
    }
    let shown = &data[..data.len().min(DATA_PRINT_BYTES_MAX)];
    let mut text = match std::str::from_utf8(shown) {
        Ok(printable) if printable.chars().all(|c| !c.is_control()) => {
            let escaped = printable.replace('\\', "\\\\").replace('"', "\\\"");
            format!("\"{escaped}\"")
        }
        _ => {
            let mut hex = String::with_capacity(2 + 2 * shown.len());
            hex.push_str("0x");
            for byte in shown {
                let _ = write!(hex, "{byte:02x}");
            }
            hex
        }
    };
    if shown.len() < data.len() {
        let _ = write!(text, "...({} bytes)", data.len());
    }
    text
}

fn mode_name(mode: CreateMode) -> &'static str {
    match mode {
        CreateMode::Persistent => "persistent",
        CreateMode::Ephemeral => "ephemeral",
        CreateMode::PersistentSequential => "persistent_sequential",
        CreateMode::EphemeralSequential => "ephemeral_sequential",
        CreateMode::Container => "container",
        CreateMode::PersistentWithTtl => "persistent_ttl",
        CreateMode::PersistentSequentialWithTtl => "persistent_sequential_ttl",
    }
}

/// One op as `name path key=value…`, under ZooKeeper's op-code names. A multi gives only its
/// size here: `txn_lines` lists its ops on their own lines.
pub fn op_text(op: &WriteOp) -> String {
    match op {
        WriteOp::Create(create) => {
            let mut text = format!(
                "create {} mode={} data={} acl={}",
                create.path,
                mode_name(create.mode),
                data_text(&create.data),
                acl_text(&create.acl)
            );
            if create.mode.is_ttl() {
                let _ = write!(text, " ttl={}", create.ttl_ms);
            }
            text
        }
        WriteOp::Delete { path, version } => format!("delete {path} version={version}"),
        WriteOp::SetData {
            path,
            data,
            version,
        } => format!("setData {path} version={version} data={}", data_text(data)),
        WriteOp::SetAcl { path, acl, version } => {
            format!("setACL {path} version={version} acl={}", acl_text(acl))
        }
        WriteOp::Check { path, version } => format!("check {path} version={version}"),
        WriteOp::Multi(ops) => format!("multi ops={}", ops.len()),
        WriteOp::CreateSession { timeout_ms, .. } => {
            format!("createSession timeout={timeout_ms}")
        }
        WriteOp::CloseSession => "closeSession".to_string(),
        WriteOp::DeleteContainer { path } => format!("deleteContainer {path}"),
        WriteOp::Sync { path } => format!("sync {path}"),
        WriteOp::Refused { code } => format!("error code={}", code.code()),
    }
}

/// A txn as one line (`zxid`, when known, then who sent it and the op), followed by one
/// indented line per op of a multi. `zxid` is `None` when the log does not say (its start is
/// not known) and for `sync`, which takes none.
pub fn txn_lines(txn: &Txn, zxid: Option<i64>, indent: &str) -> Vec<String> {
    let zxid_text = zxid.map_or_else(|| "?".to_string(), hex);
    let mut lines = vec![format!(
        "{indent}txn zxid={zxid_text} session={} cxid={} time={} {}",
        hex(txn.session_id),
        txn.cxid,
        txn.time_ms,
        op_text(&txn.op)
    )];
    if let WriteOp::Multi(ops) = &txn.op {
        for op in ops.iter().take(MULTI_OPS_PRINT_MAX) {
            lines.push(format!("{indent}  op {}", op_text(op)));
        }
        if ops.len() > MULTI_OPS_PRINT_MAX {
            lines.push(format!(
                "{indent}  ... {} more ops",
                ops.len() - MULTI_OPS_PRINT_MAX
            ));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use corral_engine::types::{null_data, CreateOp, Id};

    use super::*;

    #[test]
    fn perms_print_in_zkcli_order() {
        assert_eq!(perm_letters(perms::ALL), "cdrwa");
        assert_eq!(perm_letters(perms::READ | perms::ADMIN), "ra");
        assert_eq!(perm_letters(0), "");
        let acl = vec![
            Acl {
                perms: perms::ALL,
                id: Id::new("world", "anyone"),
            },
            Acl {
                perms: perms::READ,
                id: Id::new("digest", "u:abc="),
            },
        ];
        assert_eq!(acl_text(&acl), "world:anyone:cdrwa,digest:u:abc=:r");
    }

    #[test]
    fn data_is_text_hex_or_null() {
        assert_eq!(data_text(&null_data()), "null");
        assert_eq!(data_text(&Arc::from(Vec::new())), "\"\"");
        assert_eq!(
            data_text(&Arc::from(b"a \"b\"".to_vec())),
            "\"a \\\"b\\\"\""
        );
        assert_eq!(data_text(&Arc::from(vec![0u8, 255, 10])), "0x00ff0a");
        let long: Data = Arc::from(vec![b'x'; DATA_PRINT_BYTES_MAX + 5]);
        let text = data_text(&long);
        assert!(text.ends_with(&format!("\"...({} bytes)", DATA_PRINT_BYTES_MAX + 5)));
    }

    #[test]
    fn txn_lines_name_zxid_session_op_and_path() {
        let create = WriteOp::Create(CreateOp {
            path: "/a".to_string(),
            data: Arc::from(b"v".to_vec()),
            acl: Vec::new(),
            mode: CreateMode::EphemeralSequential,
            ttl_ms: -1,
        });
        let txn = Txn {
            session_id: 0x100,
            cxid: 7,
            time_ms: 1000,
            auth: Vec::new(),
            op: WriteOp::Multi(vec![
                create,
                WriteOp::Check {
                    path: "/b".to_string(),
                    version: 2,
                },
            ]),
        };
        assert_eq!(
            txn_lines(&txn, Some(0x2a), ""),
            vec![
                "txn zxid=0x2a session=0x100 cxid=7 time=1000 multi ops=2".to_string(),
                "  op create /a mode=ephemeral_sequential data=\"v\" acl=".to_string(),
                "  op check /b version=2".to_string(),
            ]
        );
        assert!(txn_lines(&txn, None, "  ")[0].starts_with("  txn zxid=? "));
    }
}
