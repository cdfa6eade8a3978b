//! Output in zkCli's words: stats, dates, watch events and error messages.

use zookeeper_client as zk;

/// A stat in the layout of zkCli's `stat` and `get -s`, one `name = value` line per field.
pub fn format_stat(stat: &zk::Stat) -> String {
    format!(
        "cZxid = 0x{:x}\nctime = {}\nmZxid = 0x{:x}\nmtime = {}\npZxid = 0x{:x}\n\
         cversion = {}\ndataVersion = {}\naclVersion = {}\nephemeralOwner = 0x{:x}\n\
         dataLength = {}\nnumChildren = {}\n",
        stat.czxid,
        format_time_ms(stat.ctime),
        stat.mzxid,
        format_time_ms(stat.mtime),
        stat.pzxid,
        stat.cversion,
        stat.version,
        stat.aversion,
        stat.ephemeral_owner,
        stat.data_length,
        stat.num_children,
    )
}

/// Milliseconds since the epoch as Java's `Date.toString()` writes them, always in UTC
/// (`Wed Nov 25 11:49:13 UTC 2026`): the same text wherever the client runs.
pub fn format_time_ms(epoch_ms: i64) -> String {
    corral_net::fourlw::java_date_utc(epoch_ms)
}

/// A watch event as zkCli prints it, blank lines included.
pub fn format_event(event: &zk::WatchedEvent) -> String {
    let (kind, path) = match event.event_type {
        zk::EventType::Session => ("None".to_string(), "null"),
        other => (other.to_string(), event.path.as_str()),
    };
    format!(
        "\nWATCHER::\n\nWatchedEvent state:{} type:{kind} path:{path}\n",
        event.session_state
    )
}

/// The message zkCli prints for a failed request on `path`.
pub fn error_message(error: &zk::Error, path: &str) -> String {
    match error {
        zk::Error::NoNode => format!("Node does not exist: {path}"),
        zk::Error::NodeExists => format!("Node already exists: {path}"),
        zk::Error::NoAuth => format!("Insufficient permission : {path}"),
        zk::Error::BadVersion => format!("version No is not valid : {path}"),
        zk::Error::NotEmpty => format!("Node not empty: {path}"),
        zk::Error::NoChildrenForEphemerals => format!("Ephemerals cannot have children: {path}"),
        zk::Error::InvalidAcl => format!("Acl is not valid : {path}"),
        other => format!("{other}: {path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_known_instants_format_as_java_dates() {
        assert_eq!(format_time_ms(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(
            format_time_ms(1_795_607_353_000),
            "Wed Nov 25 11:49:13 UTC 2026"
        );
        assert_eq!(
            format_time_ms(951_782_400_000),
            "Tue Feb 29 00:00:00 UTC 2000"
        );
    }

    #[test]
    fn node_event_prints_like_zkcli() {
        let event = zk::WatchedEvent::new(zk::EventType::NodeDataChanged, "/x");
        assert_eq!(
            format_event(&event),
            "\nWATCHER::\n\nWatchedEvent state:SyncConnected type:NodeDataChanged path:/x\n"
        );
    }
}
