//! Where a Corral data directory keeps its files, found without changing anything.
//!
//! WAL segments live in `<dataLogDir>/wal/`, snapshots in `<dataDir>/snapshots/` as
//! `snapshot-<index>-<term>.snap` (written as `.snap.tmp`, then renamed). The tool reads the
//! names itself instead of opening a `SnapshotStore`, which would create the directory and delete
//! leftover `.tmp` files: an inspector must not change what it inspects.

use std::path::{Path, PathBuf};

const WAL_SUBDIR: &str = "wal";
const SNAPSHOT_SUBDIR: &str = "snapshots";
const SNAPSHOT_PREFIX: &str = "snapshot-";
const SNAPSHOT_SUFFIX: &str = ".snap";
const TMP_SUFFIX: &str = ".tmp";

/// The WAL directory of `dir`, which may be the data log dir or its `wal/` subdirectory.
pub fn wal_dir(dir: &Path) -> PathBuf {
    let nested = dir.join(WAL_SUBDIR);
    if nested.is_dir() {
        nested
    } else {
        dir.to_path_buf()
    }
}

/// The snapshot directory of `dir`, which may be the data dir or its `snapshots/` subdirectory.
pub fn snapshot_dir(dir: &Path) -> PathBuf {
    let nested = dir.join(SNAPSHOT_SUBDIR);
    if nested.is_dir() {
        nested
    } else {
        dir.to_path_buf()
    }
}

/// The directories of one server: snapshots under the data dir, the WAL under the log dir
/// (the data dir unless `--log-dir` says otherwise, as with zoo.cfg's dataLogDir).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataLayout {
    pub snapshot_dir: PathBuf,
    pub wal_dir: PathBuf,
}

impl DataLayout {
    pub fn new(data_dir: &Path, log_dir: Option<&Path>) -> Result<DataLayout, String> {
        if !data_dir.is_dir() {
            return Err(format!("{}: not a directory", data_dir.display()));
        }
        if let Some(log_dir) = log_dir.filter(|dir| !dir.is_dir()) {
            return Err(format!("{}: not a directory", log_dir.display()));
        }
        Ok(DataLayout {
            snapshot_dir: data_dir.join(SNAPSHOT_SUBDIR),
            wal_dir: wal_dir(log_dir.unwrap_or(data_dir)),
        })
    }
}

/// A snapshot file as its name describes it (not yet validated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotFile {
    pub path: PathBuf,
    pub index: u64,
    pub term: u64,
    pub bytes: u64,
}

/// What a snapshot directory holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotListing {
    /// Newest (highest index, then term) first, as recovery tries them.
    pub snapshots: Vec<SnapshotFile>,
    /// `.tmp` files of snapshots that were never finished (the server deletes them at start).
    pub unfinished: Vec<PathBuf>,
}

/// Lists `dir` (which need not exist: a server that never wrote a snapshot has none).
pub fn list_snapshots(dir: &Path) -> Result<SnapshotListing, String> {
    let mut listing = SnapshotListing::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(listing),
        Err(error) => return Err(format!("{}: {error}", dir.display())),
    };
    for entry in entries {
        let entry = entry.map_err(|error| format!("{}: {error}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with(SNAPSHOT_PREFIX) {
            continue;
        }
        let path = entry.path();
        if name.ends_with(TMP_SUFFIX) {
            listing.unfinished.push(path);
        } else if let Some((index, term)) = parse_snapshot_name(&name) {
            let bytes = entry
                .metadata()
                .map_err(|error| format!("{}: {error}", path.display()))?
                .len();
            listing.snapshots.push(SnapshotFile {
                path,
                index,
                term,
                bytes,
            });
        }
    }
    listing
        .snapshots
        .sort_by_key(|file| std::cmp::Reverse((file.index, file.term)));
    listing.unfinished.sort();
    Ok(listing)
}

/// `snapshot-<index>-<term>.snap` → (index, term).
fn parse_snapshot_name(name: &str) -> Option<(u64, u64)> {
    let middle = name
        .strip_prefix(SNAPSHOT_PREFIX)?
        .strip_suffix(SNAPSHOT_SUFFIX)?;
    let (index, term) = middle.split_once('-')?;
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits(index) || !digits(term) {
        return None;
    }
    Some((index.parse().ok()?, term.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_takes_the_wal_from_the_log_dir_and_accepts_its_wal_subdir() {
        let data = tempfile::tempdir().expect("tempdir");
        let logs = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(logs.path().join("wal")).expect("mkdir");
        let layout = DataLayout::new(data.path(), Some(logs.path())).expect("layout");
        assert_eq!(layout.wal_dir, logs.path().join("wal"));
        assert_eq!(layout.snapshot_dir, data.path().join("snapshots"));
        let given_wal = DataLayout::new(data.path(), Some(&logs.path().join("wal")));
        assert_eq!(given_wal.expect("layout").wal_dir, logs.path().join("wal"));
        assert!(DataLayout::new(data.path(), Some(&data.path().join("absent"))).is_err());
        assert_eq!(snapshot_dir(data.path()), data.path().to_path_buf());
    }

    #[test]
    fn snapshot_names_parse_and_list_newest_first() {
        assert_eq!(
            parse_snapshot_name("snapshot-00000000000000000012-00000000000000000003.snap"),
            Some((12, 3))
        );
        assert_eq!(parse_snapshot_name("snapshot-12-3.snap.tmp"), None);
        assert_eq!(parse_snapshot_name("snapshot-x-3.snap"), None);
        let dir = tempfile::tempdir().expect("tempdir");
        for name in [
            "snapshot-5-1.snap",
            "snapshot-40-2.snap",
            "snapshot-9-1.snap.tmp",
        ] {
            std::fs::write(dir.path().join(name), b"x").expect("write");
        }
        let listing = list_snapshots(dir.path()).expect("list");
        let indexes: Vec<u64> = listing.snapshots.iter().map(|file| file.index).collect();
        assert_eq!(indexes, vec![40, 5]);
        assert_eq!(
            listing.unfinished,
            vec![dir.path().join("snapshot-9-1.snap.tmp")]
        );
        assert_eq!(
            list_snapshots(&dir.path().join("absent")),
            Ok(SnapshotListing::default())
        );
    }
}
