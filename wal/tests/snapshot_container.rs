//! The snapshot container: round trips, listing and purging, and every kind of damage being
//! reported with the file and the offset of the damaged part.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use corral_wal::limits::SNAPSHOT_BLOCK_BYTES;
use corral_wal::snapshot::{
    snapshot_file_name, wal_error_of, SnapshotInfo, SnapshotReader, SnapshotStore,
};
use corral_wal::WalError;

/// Format sizes from the crate documentation.
const HEADER_BYTES: u64 = 40;
const BLOCK_HEADER_BYTES: u64 = 24;
const TRAILER_BYTES: u64 = 48;
const BLOCK: u64 = SNAPSHOT_BLOCK_BYTES as u64;

/// Deterministic pseudo-random bytes (xorshift), so failures replay.
fn body(bytes: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..bytes)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// Writes `content` as snapshot (index, term) in uneven pieces.
fn write_snapshot(store: &SnapshotStore, index: u64, term: u64, content: &[u8]) -> SnapshotInfo {
    let mut writer = store.create(index, term).expect("create");
    let mut rest = content;
    let mut piece = 1;
    while !rest.is_empty() {
        let taken = piece.min(rest.len());
        writer.write_all(&rest[..taken]).expect("write");
        rest = &rest[taken..];
        piece = piece * 3 + 7;
    }
    assert_eq!(writer.body_bytes(), content.len() as u64);
    writer.finish().expect("finish")
}

/// Reads a whole snapshot back and finishes the reader.
fn read_snapshot(path: &Path) -> Result<(u64, u64, Vec<u8>), WalError> {
    let mut reader = SnapshotReader::open(path)?;
    let mut content = Vec::new();
    if let Err(error) = reader.read_to_end(&mut content) {
        return Err(owned_error(&error));
    }
    let (index, term) = (reader.index(), reader.term());
    reader.finish()?;
    Ok((index, term, content))
}

/// The `WalError` inside an io::Error from the reader, rebuilt so it can be compared.
fn owned_error(error: &std::io::Error) -> WalError {
    match wal_error_of(error) {
        Some(WalError::Corrupt {
            path,
            offset,
            reason,
        }) => WalError::Corrupt {
            path: path.clone(),
            offset: *offset,
            reason: reason.clone(),
        },
        other => panic!("not a corruption error: {other:?} from {error}"),
    }
}

/// The (path, offset) of a corruption error, failing the test on anything else.
fn corrupt_at(result: Result<(u64, u64, Vec<u8>), WalError>) -> (PathBuf, u64, String) {
    match result {
        Err(WalError::Corrupt {
            path,
            offset,
            reason,
        }) => (path, offset, reason),
        other => panic!("expected corruption, got {other:?}"),
    }
}

fn block_offset(number: u64) -> u64 {
    HEADER_BYTES + number * (BLOCK_HEADER_BYTES + BLOCK)
}

fn rewrite(path: &Path, edit: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = std::fs::read(path).expect("read file");
    edit(&mut bytes);
    std::fs::write(path, bytes).expect("write file");
}

#[test]
fn bodies_round_trip_at_every_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SnapshotStore::open(dir.path()).expect("open");
    let sizes = [
        0,
        1,
        BLOCK as usize - 1,
        BLOCK as usize,
        3 * BLOCK as usize + 17,
    ];
    for (index, size) in sizes.into_iter().enumerate() {
        let content = body(size, index as u64);
        let info = write_snapshot(&store, index as u64 + 10, 3, &content);
        assert_eq!(
            info.path,
            dir.path()
                .join(format!("snapshot-{:020}-{:020}.snap", index + 10, 3))
        );
        let blocks = (size as u64).div_ceil(BLOCK);
        let file_bytes = std::fs::metadata(&info.path).expect("stat").len();
        assert_eq!(
            file_bytes,
            HEADER_BYTES + blocks * BLOCK_HEADER_BYTES + size as u64 + TRAILER_BYTES
        );
        assert_eq!(
            read_snapshot(&info.path),
            Ok((index as u64 + 10, 3, content))
        );
    }
    // Nothing but the finished snapshots is left behind.
    let names = std::fs::read_dir(dir.path()).expect("list").count();
    assert_eq!(names, sizes.len());
}

#[test]
fn list_is_newest_first_and_purge_keeps_the_newest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SnapshotStore::open(dir.path()).expect("open");
    for (index, term) in [(5, 1), (300, 2), (20, 1), (300, 3), (7, 1)] {
        write_snapshot(&store, index, term, b"state");
    }
    std::fs::write(dir.path().join("snapshot-junk.snap"), b"x").expect("write");
    std::fs::write(dir.path().join("notes.txt"), b"x").expect("write");
    let listed: Vec<(u64, u64)> = store
        .list()
        .expect("list")
        .iter()
        .map(|info| (info.index, info.term))
        .collect();
    assert_eq!(listed, vec![(300, 3), (300, 2), (20, 1), (7, 1), (5, 1)]);

    let purged = store.purge(2).expect("purge");
    let purged: Vec<(u64, u64)> = purged.iter().map(|info| (info.index, info.term)).collect();
    assert_eq!(purged, vec![(20, 1), (7, 1), (5, 1)]);
    let listed: Vec<u64> = store.list().expect("list").iter().map(|i| i.term).collect();
    assert_eq!(listed, vec![3, 2]);
    assert!(dir.path().join("notes.txt").exists());
    assert_eq!(store.purge(5).expect("purge"), vec![]);
    assert!(matches!(
        store.purge(0),
        Err(WalError::InvalidOptions { .. })
    ));
}

#[test]
fn open_creates_the_directory_and_removes_unfinished_snapshots() {
    let dir = tempfile::tempdir().expect("tempdir");
    let snapshots = dir.path().join("data").join("snapshots");
    let store = SnapshotStore::open(&snapshots).expect("open creates");
    write_snapshot(&store, 4, 1, b"kept");
    let leftover = snapshots.join(format!("{}.tmp", snapshot_file_name(9, 1)));
    std::fs::write(&leftover, b"half a snapshot").expect("write");
    // An unfinished writer leaves its .tmp on disk until dropped; a crash would leave it for good.
    let writer = store.create(10, 1).expect("create");
    let second = store.create(10, 1);
    assert!(matches!(
        second,
        Err(WalError::Io { ref source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists
    ));
    std::mem::forget(writer);
    let store = SnapshotStore::open(&snapshots).expect("reopen");
    let mut names: Vec<String> = std::fs::read_dir(&snapshots)
        .expect("list")
        .map(|dirent| {
            dirent
                .expect("dirent")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert_eq!(names, vec![snapshot_file_name(4, 1)]);
    assert_eq!(store.list().expect("list").len(), 1);

    // A writer dropped without finish removes its own .tmp.
    let mut writer = store.create(11, 1).expect("create");
    writer.write_all(b"abandoned").expect("write");
    drop(writer);
    assert_eq!(std::fs::read_dir(&snapshots).expect("list").count(), 1);
}

#[test]
fn a_flipped_byte_in_any_block_names_that_block() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SnapshotStore::open(dir.path()).expect("open");
    let content = body(3 * BLOCK as usize + 100, 7);
    let info = write_snapshot(&store, 1, 1, &content);
    let pristine = std::fs::read(&info.path).expect("read");
    // In each of the four blocks: a header byte, the first and the last body byte.
    for number in 0..4 {
        let start = block_offset(number);
        let body_bytes = if number == 3 { 100 } else { BLOCK };
        for at in [
            start + 5,
            start + BLOCK_HEADER_BYTES,
            start + BLOCK_HEADER_BYTES + body_bytes - 1,
        ] {
            std::fs::write(&info.path, &pristine).expect("restore");
            rewrite(&info.path, |bytes| bytes[at as usize] ^= 0x40);
            let (path, offset, reason) = corrupt_at(read_snapshot(&info.path));
            assert_eq!(path, info.path);
            assert_eq!(offset, start, "byte {at} in block {number}: {reason}");
        }
    }
    // The trailer is checked too.
    let trailer = block_offset(4) - BLOCK + 100;
    std::fs::write(&info.path, &pristine).expect("restore");
    rewrite(&info.path, |bytes| bytes[trailer as usize + 9] ^= 1);
    assert_eq!(corrupt_at(read_snapshot(&info.path)).1, trailer);
}

#[test]
fn the_bytes_before_damage_are_handed_out_but_never_the_damaged_block() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SnapshotStore::open(dir.path()).expect("open");
    let content = body(2 * BLOCK as usize, 8);
    let info = write_snapshot(&store, 1, 1, &content);
    rewrite(&info.path, |bytes| {
        bytes[block_offset(1) as usize + 30] ^= 1
    });
    let mut reader = SnapshotReader::open(&info.path).expect("open");
    let mut received = Vec::new();
    let mut chunk = vec![0u8; 1000];
    let error = loop {
        match reader.read(&mut chunk) {
            Ok(0) => panic!("damaged snapshot read to its end"),
            Ok(count) => received.extend_from_slice(&chunk[..count]),
            Err(error) => break error,
        }
    };
    assert_eq!(received, content[..BLOCK as usize]);
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    let expected = WalError::Corrupt {
        path: info.path.clone(),
        offset: block_offset(1),
        reason: "snapshot block 1 checksum mismatch".to_string(),
    };
    assert_eq!(owned_error(&error), expected);
    // The reader stays failed, and finish reports the same error.
    assert_eq!(
        owned_error(&reader.read(&mut chunk).expect_err("still failed")),
        expected
    );
    assert_eq!(reader.finish(), Err(expected));
}

#[test]
fn a_truncated_file_names_where_it_ends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SnapshotStore::open(dir.path()).expect("open");
    let content = body(2 * BLOCK as usize + 10, 9);
    let info = write_snapshot(&store, 1, 1, &content);
    let pristine = std::fs::read(&info.path).expect("read");
    let trailer = block_offset(2) + BLOCK_HEADER_BYTES + 10;
    let cases = [
        (HEADER_BYTES - 1, 0, "file ends inside the snapshot header"),
        (
            HEADER_BYTES,
            HEADER_BYTES,
            "file ends before the snapshot trailer",
        ),
        (
            HEADER_BYTES + 3,
            HEADER_BYTES,
            "file ends before the snapshot trailer",
        ),
        (
            block_offset(1) - 1,
            block_offset(0),
            "file ends inside snapshot block 0",
        ),
        (
            block_offset(1) + 30,
            block_offset(1),
            "file ends inside snapshot block 1",
        ),
        (trailer, trailer, "file ends before the snapshot trailer"),
        (
            trailer + 30,
            trailer,
            "file ends inside the snapshot trailer",
        ),
    ];
    for (length, offset, reason) in cases {
        std::fs::write(&info.path, &pristine[..length as usize]).expect("truncate");
        let expected = WalError::Corrupt {
            path: info.path.clone(),
            offset,
            reason: reason.to_string(),
        };
        assert_eq!(read_snapshot(&info.path), Err(expected), "length {length}");
    }
    // Bytes after the trailer are refused as well.
    let mut padded = pristine.clone();
    padded.push(0);
    std::fs::write(&info.path, &padded).expect("pad");
    let end = pristine.len() as u64;
    assert_eq!(corrupt_at(read_snapshot(&info.path)).1, end);
}

#[test]
fn a_bad_header_is_refused_at_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SnapshotStore::open(dir.path()).expect("open");
    let info = write_snapshot(&store, 1, 1, b"state");
    let pristine = std::fs::read(&info.path).expect("read");
    let refuse = |edit: &dyn Fn(&mut Vec<u8>), reason: &str| {
        std::fs::write(&info.path, &pristine).expect("restore");
        rewrite(&info.path, edit);
        let expected = WalError::Corrupt {
            path: info.path.clone(),
            offset: 0,
            reason: reason.to_string(),
        };
        assert_eq!(SnapshotReader::open(&info.path).err(), Some(expected));
    };
    refuse(&|bytes| bytes[0] = b'X', "not a snapshot file (bad magic)");
    refuse(&|bytes| bytes[17] ^= 1, "snapshot header checksum mismatch");
    // A version this code does not know, with a checksum that matches.
    refuse(
        &|bytes| {
            bytes[4] = 2;
            let crc = crc32c::crc32c(&bytes[..36]);
            bytes[36..40].copy_from_slice(&crc.to_le_bytes());
        },
        "snapshot format version 2 is not supported",
    );
    assert!(matches!(
        SnapshotReader::open(&dir.path().join("absent.snap")),
        Err(WalError::Io { offset: 0, .. })
    ));
}

#[test]
fn a_block_from_another_snapshot_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SnapshotStore::open(dir.path()).expect("open");
    let content = body(100, 1);
    let first = write_snapshot(&store, 1, 1, &content);
    let second = write_snapshot(&store, 2, 1, &content);
    // Same body, same block number: only the chained header checksum tells them apart.
    let foreign = std::fs::read(&second.path).expect("read");
    let block = HEADER_BYTES as usize..(block_offset(0) + BLOCK_HEADER_BYTES + 100) as usize;
    rewrite(&first.path, |bytes| {
        bytes[block.clone()].copy_from_slice(&foreign[block.clone()]);
    });
    assert_eq!(corrupt_at(read_snapshot(&first.path)).1, HEADER_BYTES);
}

#[test]
fn finish_catches_a_reader_that_stopped_early() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SnapshotStore::open(dir.path()).expect("open");
    let content = body(2 * BLOCK as usize, 3);
    let info = write_snapshot(&store, 1, 1, &content);

    let mut reader = SnapshotReader::open(&info.path).expect("open");
    let mut part = vec![0u8; 10];
    reader.read_exact(&mut part).expect("read");
    let expected = WalError::Corrupt {
        path: info.path.clone(),
        offset: HEADER_BYTES + BLOCK_HEADER_BYTES + 10,
        reason: format!(
            "snapshot body not read to its end ({} bytes left in block 0)",
            BLOCK - 10
        ),
    };
    assert_eq!(reader.finish(), Err(expected));

    // Stopped at a block boundary with another block to come.
    let mut reader = SnapshotReader::open(&info.path).expect("open");
    let mut first_block = vec![0u8; BLOCK as usize];
    reader.read_exact(&mut first_block).expect("read");
    let (_, offset, _) = corrupt_at(reader.finish().map(|()| (0, 0, Vec::new())));
    assert_eq!(offset, block_offset(1));

    // Read exactly to the end without seeing end-of-file: finish reads and checks the trailer.
    let mut reader = SnapshotReader::open(&info.path).expect("open");
    let mut everything = vec![0u8; content.len()];
    reader.read_exact(&mut everything).expect("read");
    assert_eq!(everything, content);
    assert_eq!(reader.finish(), Ok(()));
}

#[test]
fn a_failed_write_sync_or_rename_leaves_no_snapshot_behind() {
    use corral_wal::fault::{FaultPlan, FileOp, Trigger};
    use std::sync::Arc;

    let content = body(3 * BLOCK as usize, 5);
    // The second write is the first block's (the header is the first); there is one sync and
    // one rename.
    for (op, nth, errno) in [
        (FileOp::Write, 2, libc::ENOSPC),
        (FileOp::Sync, 1, libc::EIO),
        (FileOp::Rename, 1, libc::EIO),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let plan = Arc::new(FaultPlan::new().fail(op, Trigger::Nth(nth), errno));
        let store = SnapshotStore::open_with_faults(dir.path(), Some(plan.clone())).expect("open");
        let mut writer = store.create(8, 2).expect("create");
        let written = writer.write_all(&content);
        let finished = match written {
            Ok(()) => writer.finish(),
            Err(error) => {
                assert_eq!(error.raw_os_error(), None, "{op:?}: wrapped with its file");
                assert_eq!(error.kind(), std::io::ErrorKind::StorageFull, "{op:?}");
                // Once a write failed, finish refuses with the same error.
                let expected = wal_error_of(&error).map(|e| e.to_string());
                let finished = writer.finish();
                assert_eq!(finished.as_ref().err().map(|e| e.to_string()), expected);
                finished
            }
        };
        assert!(finished.is_err(), "{op:?}");
        assert_eq!(plan.injected(), 1, "{op:?}");
        assert_eq!(store.list().expect("list"), vec![], "{op:?}");
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("list").count(),
            0,
            "{op:?}: the .tmp file is gone"
        );
    }
}

#[test]
fn a_paced_writer_keeps_to_its_bandwidth_and_its_bytes() {
    use corral_wal::limits::SNAPSHOT_WRITEBACK_BYTES;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = SnapshotStore::open(dir.path()).expect("open");
    // Three writeback ranges at 40 MB/s: the writer must not be done before ~0.3 s.
    let rate = 40_000_000u64;
    store.set_write_rate(Some(rate));
    let size = 3 * SNAPSHOT_WRITEBACK_BYTES as usize + 12_345;
    let content = body(size, 99);
    let started = std::time::Instant::now();
    let info = write_snapshot(&store, 7, 2, &content);
    let elapsed = started.elapsed().as_secs_f64();
    let paced = (3 * SNAPSHOT_WRITEBACK_BYTES) as f64 / rate as f64;
    assert!(elapsed >= paced, "{elapsed} s < {paced} s");
    assert_eq!(read_snapshot(&info.path), Ok((7, 2, content.clone())));

    // Unlimited, the same bytes come out the same.
    store.set_write_rate(None);
    let info = write_snapshot(&store, 8, 2, &content);
    assert_eq!(read_snapshot(&info.path), Ok((8, 2, content)));
}
