//! The session and the plumbing around it: connecting and closing, watches waiting to fire,
//! output, and commands read from a stdin that is not a terminal.

use std::future::Future;
use std::io::{BufRead, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::mpsc;
use zookeeper_client as zk;

use super::exec::Failure;
use super::limits::{
    CLOSE_TIMEOUT, CONNECT_TIMEOUT, LINES_QUEUED_MAX, LINE_BYTES_MAX, SESSION_TIMEOUT,
    WATCHES_PENDING_MAX,
};
use super::shell::{Shell, Step};

type PendingWatch = Pin<Box<dyn Future<Output = zk::WatchedEvent> + Send>>;

/// Watches set by commands that have not fired yet, in the order they were set.
#[derive(Default)]
pub struct Watches {
    pending: Vec<PendingWatch>,
}

impl Watches {
    pub fn add(&mut self, watcher: zk::OneshotWatcher) -> Result<(), Failure> {
        if self.pending.len() >= WATCHES_PENDING_MAX {
            return Err(Failure::Usage(format!(
                "{WATCHES_PENDING_MAX} watches are pending already; this one is not kept"
            )));
        }
        self.pending.push(Box::pin(watcher.changed()));
        Ok(())
    }

    fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<zk::WatchedEvent> {
        for index in 0..self.pending.len() {
            if let Poll::Ready(event) = self.pending[index].as_mut().poll(cx) {
                drop(self.pending.remove(index));
                return Poll::Ready(event);
            }
        }
        Poll::Pending
    }

    /// Resolves with the next watch to fire; pending forever while none is set.
    pub async fn next(&mut self) -> zk::WatchedEvent {
        std::future::poll_fn(|cx| self.poll_fired(cx)).await
    }

    /// The event of a watch that has fired already, without waiting.
    pub async fn fired(&mut self) -> Option<zk::WatchedEvent> {
        std::future::poll_fn(|cx| match self.poll_fired(cx) {
            Poll::Ready(event) => Poll::Ready(Some(event)),
            Poll::Pending => Poll::Ready(None),
        })
        .await
    }
}

/// Writes to stdout; a closed stdout (say, piped to `head`) is not worth a panic.
pub fn print_out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// Writes text that is not an error to stderr, as zkCli does with `Created /path`.
pub fn print_notice(text: &str) {
    if !text.is_empty() {
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
}

/// Writes a line to stderr, ignoring a closed stderr as [`print_out`] does.
pub fn print_err(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// Opens a session to `server`, failing after [`CONNECT_TIMEOUT`] rather than retrying on.
pub async fn connect(server: &str) -> Result<zk::Client, String> {
    let mut connector = zk::Client::connector();
    connector.session_timeout(SESSION_TIMEOUT).fail_eagerly();
    match tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(server)).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(error)) => Err(format!("Unable to connect to {server}: {error}")),
        Err(_) => Err(format!(
            "Unable to connect to {server} within {CONNECT_TIMEOUT:?}"
        )),
    }
}

/// Drops the session and waits (bounded) for the server to confirm the close, so that
/// ephemeral nodes are gone when the process exits.
pub async fn close(client: zk::Client) {
    let mut state = client.state_watcher();
    drop(client);
    let closed = async {
        while !state.state().is_terminated() {
            state.changed().await;
        }
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, closed).await;
}

/// Reads commands from stdin until `quit` or the end of input, printing watch events as
/// they fire, with no prompt: the way scripts feed zkCli.
pub async fn run_stream(shell: &mut Shell) {
    let mut lines = spawn_line_reader();
    loop {
        let line = tokio::select! {
            biased;
            news = shell.news() => {
                print_out(&news);
                continue;
            }
            line = lines.recv() => line,
        };
        let step = match line {
            None => break,
            Some(Ok(line)) => shell.run_line(&line).await,
            Some(Err(why)) => shell.refuse(why),
        };
        if step == Step::Quit {
            break;
        }
    }
}

/// A thread reading stdin line by line into a bounded channel; it ends with the input.
fn spawn_line_reader() -> mpsc::Receiver<Result<String, String>> {
    let (sender, receiver) = mpsc::channel(LINES_QUEUED_MAX);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        while let Some(line) = read_line_bounded(&mut stdin) {
            if sender.blocking_send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// The next line without its newline; `None` at the end of input (or a read error, said
/// on stderr), `Err` for a line too long or not UTF-8.
fn read_line_bounded(input: &mut impl BufRead) -> Option<Result<String, String>> {
    let mut bytes = Vec::new();
    let limit = u64::try_from(LINE_BYTES_MAX + 1).unwrap_or(u64::MAX);
    match input.by_ref().take(limit).read_until(b'\n', &mut bytes) {
        Ok(0) => return None,
        Ok(_) => {}
        Err(error) => {
            print_err(&format!("reading stdin: {error}"));
            return None;
        }
    }
    if bytes.last() != Some(&b'\n') && bytes.len() > LINE_BYTES_MAX {
        let _ = input.skip_until(b'\n');
        return Some(Err(format!(
            "line longer than {LINE_BYTES_MAX} bytes ignored"
        )));
    }
    while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        bytes.pop();
    }
    Some(String::from_utf8(bytes).map_err(|_| "line is not UTF-8; ignored".to_string()))
}
