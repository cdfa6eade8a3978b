//! `corral-cli` at a terminal: the binary runs under a pseudo-terminal, keys are typed into it
//! and the screen's text is read back, with bounded waits for each expected piece of text.

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use common::*;

/// Bound for one expected piece of output, connecting included.
const EXPECT_TIMEOUT: Duration = Duration::from_secs(20);
/// A wide screen, so that no line the tests look for is wrapped.
const SCREEN_COLUMNS: u16 = 250;
const SCREEN_ROWS: u16 = 50;
const UP_ARROW: &str = "\x1b[A";
const CTRL_D: &str = "\x04";
/// The editor asks where the cursor is with this; the tests' terminal answers "column 1".
const CURSOR_QUERY: &[u8] = b"\x1b[6n";
const CURSOR_REPLY: &[u8] = b"\x1b[1;1R";

/// Everything the program wrote to the terminal, and whether it has closed its side.
#[derive(Default)]
struct Screen {
    bytes: Vec<u8>,
    closed: bool,
}

/// `corral-cli` running on a pseudo-terminal.
struct Terminal {
    child: Child,
    keyboard: File,
    screen: Arc<(Mutex<Screen>, Condvar)>,
    /// How much of the cleaned screen text earlier expectations have used up.
    consumed: usize,
}

fn open_pty() -> (OwnedFd, OwnedFd) {
    let mut master = -1;
    let mut slave = -1;
    let size = libc::winsize {
        ws_row: SCREEN_ROWS,
        ws_col: SCREEN_COLUMNS,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two descriptors into the given integers and reads `size`.
    let result = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(result, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened and are owned by nothing else.
    unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) }
}

impl Terminal {
    /// Starts `corral-cli ARGS` on a fresh terminal with `home` as its home directory.
    fn start(args: &[&str], home: &Path) -> Terminal {
        let (master, slave) = open_pty();
        let stdio = || Stdio::from(slave.try_clone().expect("dup the terminal"));
        let mut command = Command::new(env!("CARGO_BIN_EXE_corral-cli"));
        command
            .args(args)
            .env("HOME", home)
            .env("TERM", "xterm")
            .stdin(stdio())
            .stdout(stdio())
            .stderr(stdio());
        // SAFETY: setsid and ioctl are async-signal-safe; the child gets the terminal as its
        // controlling terminal, as a shell would give it.
        unsafe {
            command.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().expect("spawn corral-cli");
        drop(command);
        drop(slave);
        let keyboard = File::from(master);
        let screen = Arc::new((Mutex::new(Screen::default()), Condvar::new()));
        let reader = keyboard.try_clone().expect("dup the terminal");
        let answerer = keyboard.try_clone().expect("dup the terminal");
        let shared = Arc::clone(&screen);
        std::thread::spawn(move || read_screen(reader, answerer, &shared));
        Terminal {
            child,
            keyboard,
            screen,
            consumed: 0,
        }
    }

    fn type_keys(&mut self, keys: &str) {
        self.keyboard.write_all(keys.as_bytes()).expect("type");
        self.keyboard.flush().expect("type");
    }

    /// Waits until `text` appears after what earlier calls used up; returns the text from
    /// there up to its end, and uses it up.
    fn expect(&mut self, text: &str) -> String {
        let deadline = Instant::now() + EXPECT_TIMEOUT;
        let (lock, changed) = &*self.screen;
        let mut screen = lock.lock().expect("screen lock");
        loop {
            let clean = clean_text(&screen.bytes);
            let unread = clean.get(self.consumed..).unwrap_or("");
            if let Some(index) = unread.find(text) {
                let found = unread[..index + text.len()].to_string();
                self.consumed += index + text.len();
                return found;
            }
            let now = Instant::now();
            if screen.closed || now >= deadline {
                panic!("{text:?} did not appear; the screen after earlier matches:\n{unread}");
            }
            screen = changed
                .wait_timeout(screen, deadline - now)
                .expect("screen lock")
                .0;
        }
    }

    /// Waits for the program to end after its terminal output is closed, and its exit code.
    fn exit_code(mut self) -> i32 {
        let deadline = Instant::now() + EXPECT_TIMEOUT;
        {
            let (lock, changed) = &*self.screen;
            let mut screen = lock.lock().expect("screen lock");
            while !screen.closed {
                let now = Instant::now();
                if now >= deadline {
                    self.child.kill().ok();
                    panic!("corral-cli did not exit within {EXPECT_TIMEOUT:?}");
                }
                screen = changed
                    .wait_timeout(screen, deadline - now)
                    .expect("screen lock")
                    .0;
            }
        }
        let status = self.child.wait().expect("wait for corral-cli");
        status.code().expect("exited, not signalled")
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.child.kill().ok();
            self.child.wait().ok();
        }
    }
}

/// Copies the terminal's output into `shared` until the program closes it (reads then fail
/// with EIO), answering the editor's cursor queries on the way.
fn read_screen(mut reader: File, mut answerer: File, shared: &(Mutex<Screen>, Condvar)) {
    let mut buffer = [0u8; 4096];
    let mut answered = 0;
    loop {
        let count = reader.read(&mut buffer).unwrap_or(0);
        let (lock, changed) = shared;
        let mut screen = lock.lock().expect("screen lock");
        if count == 0 {
            screen.closed = true;
            changed.notify_all();
            return;
        }
        screen.bytes.extend_from_slice(&buffer[..count]);
        let queries = screen
            .bytes
            .windows(CURSOR_QUERY.len())
            .filter(|window| *window == CURSOR_QUERY)
            .count();
        while answered < queries {
            answerer.write_all(CURSOR_REPLY).ok();
            answered += 1;
        }
        changed.notify_all();
    }
}

/// The screen's bytes as text without carriage returns and escape sequences; an escape
/// sequence cut off at the end is left out, so the text of a prefix is a prefix of the text.
fn clean_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut clean = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {}
            // A control sequence is ESC, '[', parameters, then one final character in
            // '@'..='~'; other escapes are two characters long.
            '\x1b' => {
                if chars.next() == Some('[') {
                    while chars.next().is_some_and(|c| !('@'..='~').contains(&c)) {}
                }
            }
            c => clean.push(c),
        }
    }
    clean
}

/// A home directory for one test, so history files never mix.
fn home() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary home")
}

fn prompt(server: &Server, state: &str, number: usize) -> String {
    format!("[zk: {}({state}) {number}] ", server.address())
}

/// Starts the shell and waits for its first prompt.
fn start_shell(server: &Server, home: &Path) -> Terminal {
    let mut terminal = Terminal::start(&["-server", &server.address()], home);
    terminal.expect(&format!("Connecting to {}", server.address()));
    terminal.expect("WatchedEvent state:SyncConnected type:None path:null");
    terminal.expect(&prompt(server, "CONNECTED", 0));
    terminal
}

/// Types `line` and Enter, then waits for `output` and then the prompt numbered `next`.
fn run(terminal: &mut Terminal, server: &Server, line: &str, output: &str, next: usize) {
    terminal.type_keys(&format!("{line}\r"));
    terminal.expect(output);
    terminal.expect(&prompt(server, "CONNECTED", next));
}

/// Runs one command in a separate `corral-cli` process, as another client would.
fn other_client(server: &Server, command: &str) {
    let status = Command::new(env!("CARGO_BIN_EXE_corral-cli"))
        .args(["-server", &server.address(), "-c", command])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run another corral-cli");
    assert!(status.success(), "{command}: {status}");
}

#[test]
fn commands_run_at_the_prompt_and_ctrl_d_exits_zero() {
    let server = Server::start();
    let root = unique_root();
    let home = home();
    let mut terminal = start_shell(&server, home.path());
    run(
        &mut terminal,
        &server,
        &format!("create {root} hello"),
        &format!("Created {root}\n"),
        1,
    );
    run(&mut terminal, &server, &format!("get {root}"), "hello\n", 2);
    run(
        &mut terminal,
        &server,
        &format!("stat {root}"),
        "dataLength = 5\nnumChildren = 0\n",
        3,
    );
    // Failed commands are numbered too, and their error shows on the terminal.
    run(
        &mut terminal,
        &server,
        &format!("get {root}/none"),
        &format!("Node does not exist: {root}/none\n"),
        4,
    );
    let listed = format!(
        "0 - create {root} hello\n1 - get {root}\n2 - stat {root}\n\
         3 - get {root}/none\n4 - history\n"
    );
    run(&mut terminal, &server, "history", &listed, 5);
    // A redo is filed under its own number as the line it ran, as zkCli files it.
    run(&mut terminal, &server, "redo 1", "hello\n", 6);
    let listed = format!("5 - get {root}\n6 - history\n");
    run(&mut terminal, &server, "history", &listed, 7);
    run(&mut terminal, &server, "redo 5", "hello\n", 8);
    run(
        &mut terminal,
        &server,
        "redo 99",
        "Command index out of range\n",
        9,
    );
    terminal.type_keys(CTRL_D);
    // The status is the last failure's: 2 for a usage error such as that redo.
    assert_eq!(terminal.exit_code(), 2);

    let mut terminal = start_shell(&server, home.path());
    run(&mut terminal, &server, &format!("get {root}"), "hello\n", 1);
    terminal.type_keys(CTRL_D);
    assert_eq!(terminal.exit_code(), 0);
}

#[test]
fn a_watch_event_appears_at_the_waiting_prompt() {
    let server = Server::start();
    let root = unique_root();
    let home = home();
    let mut terminal = start_shell(&server, home.path());
    run(
        &mut terminal,
        &server,
        &format!("create {root} one"),
        "Created",
        1,
    );
    run(
        &mut terminal,
        &server,
        &format!("get -w {root}"),
        "one\n",
        2,
    );
    // Half a command is typed when the event comes; it is kept and finished afterwards.
    terminal.type_keys(&format!("get {ro}", ro = &root[..2]));
    other_client(&server, &format!("set {root} two"));
    terminal.expect(&format!(
        "\nWATCHER::\n\nWatchedEvent state:SyncConnected type:NodeDataChanged path:{root}\n"
    ));
    // The prompt and the half-typed line are drawn again below the event.
    terminal.expect(&format!(
        "{}get {}",
        prompt(&server, "CONNECTED", 2),
        &root[..2]
    ));
    run(&mut terminal, &server, &root[2..], "two\n", 3);
    run(&mut terminal, &server, &format!("ls -w {root}"), "[]\n", 4);
    other_client(&server, &format!("create {root}/kid"));
    terminal.expect(&format!(
        "WatchedEvent state:SyncConnected type:NodeChildrenChanged path:{root}\n"
    ));
    terminal.type_keys(CTRL_D);
    assert_eq!(terminal.exit_code(), 0);
}

#[test]
fn up_arrow_recalls_lines_also_from_an_earlier_run() {
    let server = Server::start();
    let root = unique_root();
    let home = home();
    let mut terminal = start_shell(&server, home.path());
    run(
        &mut terminal,
        &server,
        &format!("create {root} kept"),
        "Created",
        1,
    );
    run(&mut terminal, &server, &format!("get {root}"), "kept\n", 2);
    terminal.type_keys(&format!("{UP_ARROW}\r"));
    terminal.expect("kept\n");
    terminal.expect(&prompt(&server, "CONNECTED", 3));
    terminal.type_keys(CTRL_D);
    assert_eq!(terminal.exit_code(), 0);
    let file = std::fs::read_to_string(home.path().join(".corral_cli_history"))
        .expect("history file written");
    assert!(file.contains(&format!("get {root}\n")), "{file}");

    // A new shell starts with the old lines: the latest is one arrow away.
    let mut terminal = start_shell(&server, home.path());
    terminal.type_keys(&format!("{UP_ARROW}\r"));
    terminal.expect("kept\n");
    terminal.expect(&prompt(&server, "CONNECTED", 1));
    terminal.type_keys(CTRL_D);
    assert_eq!(terminal.exit_code(), 0);
}

#[test]
fn tab_completes_command_names_and_paths() {
    let server = Server::start();
    let root = unique_root();
    let home = home();
    let mut terminal = start_shell(&server, home.path());
    run(
        &mut terminal,
        &server,
        &format!("create {root}"),
        "Created",
        1,
    );
    run(
        &mut terminal,
        &server,
        &format!("create {root}/alpha completed"),
        "Created",
        2,
    );
    // "getA" has one completion, "getAcl"; "/alp" one too, "alpha".
    terminal.type_keys(&format!("getA\t -s {root}/alp\t\r"));
    terminal.expect(&format!("getAcl -s {root}/alpha"));
    terminal.expect("'world,'anyone\n: cdrwa\ncZxid = ");
    terminal.expect(&prompt(&server, "CONNECTED", 3));
    terminal.type_keys(&format!("get {root}/al\t\r"));
    terminal.expect("completed\n");
    // Ctrl-D only once the shell reads again: typed while it still runs the command, the
    // terminal's line discipline could take it before the shell switches to raw mode.
    terminal.expect(&prompt(&server, "CONNECTED", 4));
    terminal.type_keys(CTRL_D);
    assert_eq!(terminal.exit_code(), 0);
}

#[test]
fn close_and_connect_end_and_renew_the_session() {
    let server = Server::start();
    let root = unique_root();
    let home = home();
    let mut terminal = start_shell(&server, home.path());
    run(
        &mut terminal,
        &server,
        &format!("create -e {root} mine"),
        "Created",
        1,
    );
    terminal.type_keys("close\r");
    terminal.expect("\nWATCHER::\n\nWatchedEvent state:Closed type:None path:null\n");
    terminal.expect(&prompt(&server, "CLOSED", 2));
    terminal.type_keys(&format!("get {root}\r"));
    terminal.expect("Not connected\n");
    terminal.expect(&prompt(&server, "CLOSED", 3));
    terminal.type_keys(&format!("connect {}\r", server.address()));
    terminal.expect("WatchedEvent state:SyncConnected type:None path:null\n");
    terminal.expect(&prompt(&server, "CONNECTED", 4));
    // The ephemeral node went with the closed session.
    run(
        &mut terminal,
        &server,
        &format!("stat {root}"),
        &format!("Node does not exist: {root}\n"),
        5,
    );
    run(
        &mut terminal,
        &server,
        "printwatches",
        "printwatches is on\n",
        6,
    );
    terminal.type_keys("quit\r");
    assert_eq!(terminal.exit_code(), 1, "the stat above failed");
}
