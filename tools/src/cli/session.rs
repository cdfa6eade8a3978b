//! The session: connecting, one command or a stream of them, and reporting fired watches.

use std::future::Future;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::sync::mpsc;
use zookeeper_client as zk;

use super::args::split_words;
use super::command::parse_request;
use super::exec::{execute, Failure};
use super::format::format_event;
use super::limits::{
    CLOSE_TIMEOUT, CONNECT_TIMEOUT, LINES_QUEUED_MAX, LINE_BYTES_MAX, SESSION_TIMEOUT,
    WATCHES_PENDING_MAX,
};

type PendingWatch = Pin<Box<dyn Future<Output = zk::WatchedEvent> + Send>>;

/// Watches set by commands that have not fired yet, in the order they were set.
#[derive(Default)]
pub struct Watches {
    pending: Vec<PendingWatch>,
}

impl Watches {
    fn add(&mut self, watcher: zk::OneshotWatcher) -> Result<(), Failure> {
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
    async fn next(&mut self) -> zk::WatchedEvent {
        std::future::poll_fn(|cx| self.poll_fired(cx)).await
    }

    /// The event of a watch that has fired already, without waiting.
    async fn fired(&mut self) -> Option<zk::WatchedEvent> {
        std::future::poll_fn(|cx| match self.poll_fired(cx) {
            Poll::Ready(event) => Poll::Ready(Some(event)),
            Poll::Pending => Poll::Ready(None),
        })
        .await
    }

    /// Prints every event that has arrived; the client hands an event over as it reads it,
    /// before the reply that follows it, so a change this session made is reported at once.
    async fn print_fired(&mut self) {
        while let Some(event) = self.fired().await {
            print_out(&format_event(&event));
        }
    }
}

/// Writes to stdout; a closed stdout (say, piped to `head`) is not worth a panic.
pub fn print_out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
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

/// Runs one command given as words and prints its output; `Ok(true)` asks to quit.
pub async fn run_words(
    client: &zk::Client,
    words: &[String],
    watches: &mut Watches,
) -> Result<bool, Failure> {
    let request = parse_request(words).map_err(Failure::Usage)?;
    let outcome = execute(client, request).await?;
    print_out(&outcome.output);
    if let Some(watcher) = outcome.watch {
        watches.add(watcher)?;
    }
    Ok(outcome.quit)
}

/// Reads commands from stdin until `quit` or end of input, printing watch events as they
/// fire. Returns the exit status of the last command that failed, 0 when none did.
pub async fn run_stream(client: &zk::Client, server: &str) -> u8 {
    let prompt = std::io::stdin()
        .is_terminal()
        .then(|| format!("[corral: {server}] "));
    let mut lines = spawn_line_reader();
    let mut watches = Watches::default();
    let mut state = client.state_watcher();
    // Only changes from here on are news; the session is connected now.
    state.state();
    let mut status = 0;
    loop {
        if let Some(prompt) = &prompt {
            print_out(prompt);
        }
        let line = tokio::select! {
            biased;
            event = watches.next() => {
                print_out(&format_event(&event));
                continue;
            }
            // Disconnection, reconnection and expiry, as zkCli reports them.
            new_state = state.changed() => {
                print_out(&format_event(&zk::WatchedEvent::new_session(new_state)));
                continue;
            }
            line = lines.recv() => line,
        };
        let Some(line) = line else {
            break;
        };
        match run_line(client, line, &mut watches).await {
            Ok(true) => break,
            Ok(false) => {}
            Err(failure) => {
                print_err(failure.message());
                status = failure.exit_status();
            }
        }
        watches.print_fired().await;
    }
    status
}

async fn run_line(
    client: &zk::Client,
    line: Result<String, String>,
    watches: &mut Watches,
) -> Result<bool, Failure> {
    let words = split_words(&line.map_err(Failure::Usage)?).map_err(Failure::Usage)?;
    if words.is_empty() {
        return Ok(false);
    }
    run_words(client, &words, watches).await
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
