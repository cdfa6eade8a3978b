//! Output in zkCli's words: stats, dates, watch events and error messages.

use zookeeper_client as zk;

const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const MS_PER_DAY: i64 = 86_400_000;

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
    let days = epoch_ms.div_euclid(MS_PER_DAY);
    let ms_of_day = epoch_ms.rem_euclid(MS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let seconds = ms_of_day / 1000;
    // 1970-01-01 was a Thursday.
    let weekday = WEEKDAYS[usize::try_from((days + 4).rem_euclid(7)).unwrap_or(0)];
    format!(
        "{weekday} {} {day:02} {:02}:{:02}:{:02} UTC {year}",
        MONTHS[usize::from(month - 1)],
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// Year, month (1..=12) and day of the proleptic Gregorian calendar for days since 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    assert!((1..=12).contains(&month) && (1..=31).contains(&day));
    (year, month as u8, day as u8)
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
