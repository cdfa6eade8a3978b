//! Starts the real `corral` binary on port 0 for the load-generator tests, as the tools tests
//! do (a minimal copy: this crate cannot import another package's test code).
//!
//! The binary is `CORRAL_BIN` when set, else `corral` next to this test's target directory
//! (`cargo build -p corral-tools --bin corral` builds it; `cargo test --workspace` does too).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long the server may take to print its listening line.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A running `corral`, killed and reaped on drop.
pub struct Server {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Server {
        let dir = tempfile::tempdir().expect("temporary directory");
        let config = dir.path().join("zoo.cfg");
        let data_dir = dir.path().join("data");
        std::fs::write(
            &config,
            "tickTime=2000\nmaxClientCnxns=0\n4lw.commands.whitelist=*\nadmin.enableServer=false\npreAllocSize=1024\n",
        )
        .expect("write zoo.cfg");
        let binary = corral_binary();
        let mut child = Command::new(&binary)
            .arg("--config")
            .arg(&config)
            .args(["--port", "0", "--data-dir"])
            .arg(&data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("spawn {}: {error}", binary.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let port = wait_for_port(stdout).unwrap_or_else(|why| {
            child.kill().ok();
            child.wait().ok();
            panic!("corral did not start: {why}")
        });
        Server {
            child,
            address: format!("127.0.0.1:{port}"),
            _dir: dir,
        }
    }

    pub fn address(&self) -> String {
        self.address.clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn corral_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CORRAL_BIN") {
        return PathBuf::from(path);
    }
    // target/<profile>/deps/<test> → target/<profile>/corral
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target profile directory");
    let binary = profile_dir.join("corral");
    assert!(
        binary.exists(),
        "{} is missing: build it with `cargo build -p corral-tools --bin corral` or set CORRAL_BIN",
        binary.display()
    );
    binary
}

/// Reads stdout until `corral listening on IP:PORT`; a thread keeps draining the rest so the
/// server never blocks on a full pipe.
fn wait_for_port(stdout: std::process::ChildStdout) -> Result<u16, String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let mut sent = false;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if !sent {
                let port = line
                    .trim()
                    .strip_prefix("corral listening on ")
                    .and_then(|rest| rest.rsplit_once(':'))
                    .and_then(|(_, port)| port.parse::<u16>().ok());
                if let Some(port) = port {
                    sent = true;
                    sender.send(port).ok();
                }
            }
        }
    });
    receiver
        .recv_timeout(START_TIMEOUT)
        .map_err(|_| format!("no listening line within {START_TIMEOUT:?}"))
}
