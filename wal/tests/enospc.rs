//! A real full disk: a small tmpfs (mounting needs root; without it the test says it skipped).

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use corral_wal::{Wal, WalError, WalOptions};

/// Size of the filesystem: room for the ballast file and a few segments, not for more.
const FILESYSTEM_BYTES: u64 = 256 * 1024;
const SEGMENT_BYTES: u64 = 64 * 1024;
const BALLAST_BYTES: usize = 96 * 1024;
/// More appends than the filesystem can hold, so the loop ends by running out of space.
const APPENDS_MAX: u64 = 1000;

/// A tmpfs mounted on a temporary directory, unmounted when dropped.
struct SmallFilesystem {
    dir: tempfile::TempDir,
}

impl SmallFilesystem {
    fn mount() -> Result<SmallFilesystem, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={FILESYSTEM_BYTES}")])
            .arg("tmpfs")
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).trim().to_string());
        }
        Ok(SmallFilesystem { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallFilesystem {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn a_full_filesystem_fails_appends_until_space_returns() {
    let filesystem = match SmallFilesystem::mount() {
        Ok(filesystem) => filesystem,
        Err(reason) => {
            eprintln!("SKIPPED a_full_filesystem_fails_appends_until_space_returns: {reason}");
            return;
        }
    };
    let ballast = filesystem.path().join("ballast");
    std::fs::write(&ballast, vec![7u8; BALLAST_BYTES]).expect("write ballast");
    let dir = filesystem.path().join("wal");
    let options = WalOptions {
        segment_bytes: SEGMENT_BYTES,
        ..WalOptions::default()
    };
    let (mut wal, _) = Wal::open(&dir, options.clone()).expect("open");
    let mut acked = Vec::new();
    let error = loop {
        let index = acked.len() as u64 + 1;
        assert!(index <= APPENDS_MAX, "the filesystem never filled up");
        let one = entries(index, 1, 1, 1000);
        match wal.append(&refs(&one), None) {
            Ok(()) => acked.extend(one),
            Err(error) => break error,
        }
    };
    match &error {
        WalError::Io { source, .. } => assert_eq!(source.raw_os_error(), Some(libc::ENOSPC)),
        other => panic!("expected ENOSPC, got {other}"),
    }
    assert!(
        acked.len() > 14,
        "at least one segment filled: {}",
        acked.len()
    );
    // Still full: repair succeeds (it only deletes), but the next roll fails the same way.
    wal.repair().expect("repair while full");
    let next = entries(acked.len() as u64 + 1, 1, 1, 1000);
    assert!(wal.append(&refs(&next), None).is_err());
    // Space returns: appends resume, across another roll.
    std::fs::remove_file(&ballast).expect("remove ballast");
    wal.repair().expect("repair");
    let later = entries(acked.len() as u64 + 1, 20, 1, 1000);
    for one in later.chunks(1) {
        append(&mut wal, one, None);
    }
    drop(wal);
    let (_, recovered) = Wal::open(&dir, options).expect("reopen");
    assert_eq!(recovered.entries, [acked, later].concat());
    assert_eq!(recovered.truncated_tail_bytes, 0);
}
