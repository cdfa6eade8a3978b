//! The shell: its session (or none), its numbered history, printing watch events, and running
//! one line at a time the way zkCli's `executeLine` does, whatever the lines come from.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use zookeeper_client as zk;

use super::args::split_words;
use super::command::{help_text, parse_request, Request};
use super::exec::{execute, Failure};
use super::format::format_event;
use super::limits::{HISTORY_LISTED, SHELL_HISTORY_MAX};
use super::session::{self, print_err, print_notice, print_out, Watches};

/// What the shell does after a line.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Step {
    Continue,
    Quit,
}

/// The session the shell talks through, shared with the line editor so that path completion
/// can ask the server for children. Only the shell replaces it.
pub type SharedClient = Arc<Mutex<Option<zk::Client>>>;

/// Locks the shared client; a panic elsewhere while it was held leaves a usable value.
pub fn lock_client(shared: &SharedClient) -> std::sync::MutexGuard<'_, Option<zk::Client>> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

pub struct Shell {
    server: String,
    client: Option<zk::Client>,
    shared: SharedClient,
    state: Option<zk::StateWatcher>,
    watches: Watches,
    /// Lines run so far by their number, the latest [`SHELL_HISTORY_MAX`] of them.
    history: BTreeMap<usize, String>,
    command_count: usize,
    print_watches: bool,
    /// Exit status of the last command that failed, 0 while none has.
    status: u8,
}

impl Shell {
    /// A shell on `client`, a session to `server`, or on no session when connecting failed.
    pub fn new(server: String, client: Option<zk::Client>) -> Shell {
        let mut shell = Shell {
            server,
            client: None,
            shared: SharedClient::default(),
            state: None,
            watches: Watches::default(),
            history: BTreeMap::new(),
            command_count: 0,
            print_watches: true,
            status: 0,
        };
        if let Some(client) = client {
            shell.adopt(client);
        }
        shell
    }

    fn adopt(&mut self, client: zk::Client) {
        // `state_watcher` starts after the current state: only changes from here on are news.
        self.state = Some(client.state_watcher());
        *lock_client(&self.shared) = Some(client.clone());
        self.client = Some(client);
    }

    pub fn shared_client(&self) -> SharedClient {
        Arc::clone(&self.shared)
    }

    pub fn status(&self) -> u8 {
        self.status
    }

    pub fn is_connected(&self) -> bool {
        self.client.is_some()
    }

    /// zkCli's prompt: `[zk: HOST:PORT(STATE) N] ` with the Java client's state names.
    pub fn prompt(&self) -> String {
        let state = match self.client.as_ref().map(zk::Client::state) {
            Some(zk::SessionState::SyncConnected) => "CONNECTED",
            Some(zk::SessionState::ConnectedReadOnly) => "CONNECTEDREADONLY",
            Some(zk::SessionState::Disconnected) => "CONNECTING",
            Some(zk::SessionState::AuthFailed) => "AUTH_FAILED",
            Some(zk::SessionState::Expired | zk::SessionState::Closed) | None => "CLOSED",
        };
        format!("[zk: {}({state}) {}] ", self.server, self.command_count)
    }

    /// Prints the event zkCli's watcher prints when its session is established.
    pub fn print_connected(&self) {
        if self.print_watches {
            let event = zk::WatchedEvent::new_session(zk::SessionState::SyncConnected);
            print_out(&format_event(&event));
        }
    }

    /// The text of the next watch event or session state change to print; pending forever
    /// while nothing can happen. A node watch that ends with its session (say, on expiry) is
    /// not reported on its own: the state change is, once, as zkCli's single watcher does.
    pub async fn news(&mut self) -> String {
        loop {
            let (event, from_node_watch) = match self.state.as_mut() {
                Some(state) => tokio::select! {
                    biased;
                    event = self.watches.next() => (event, true),
                    new_state = state.changed() => (zk::WatchedEvent::new_session(new_state), false),
                },
                None => (self.watches.next().await, true),
            };
            let repeated = from_node_watch && event.event_type == zk::EventType::Session;
            if self.print_watches && !repeated {
                return format_event(&event);
            }
        }
    }

    /// Runs one input line: blank lines are skipped, others are numbered and kept.
    pub async fn run_line(&mut self, line: &str) -> Step {
        if line.trim().is_empty() {
            return Step::Continue;
        }
        let number = self.command_count;
        self.remember(number, line.to_string());
        let step = match split_words(line) {
            Ok(words) => self.run_numbered(number, &words).await,
            Err(why) => self.fail(Failure::Usage(why)),
        };
        self.command_count += 1;
        step
    }

    fn remember(&mut self, number: usize, line: String) {
        self.history.insert(number, line);
        while self.history.len() > SHELL_HISTORY_MAX {
            self.history.pop_first();
        }
    }

    async fn run_numbered(&mut self, number: usize, words: &[String]) -> Step {
        match parse_request(words) {
            Ok(Request::Redo { index }) => match self.recall(index) {
                Ok((line, request)) => {
                    // zkCli files the redone command under the redo's own number.
                    self.remember(number, line);
                    self.run_request(request).await
                }
                Err(failure) => self.fail(failure),
            },
            Ok(request) => self.run_request(request).await,
            Err(why) => self.fail(Failure::Usage(why)),
        }
    }

    /// The line numbered `index` and its request, refusing redos of redos as zkCli does.
    fn recall(&self, index: usize) -> Result<(String, Request), Failure> {
        let out_of_range = || Failure::Usage("Command index out of range".to_string());
        if index >= self.command_count {
            return Err(out_of_range());
        }
        let line = self.history.get(&index).ok_or_else(out_of_range)?;
        let words = split_words(line).map_err(Failure::Usage)?;
        match parse_request(&words).map_err(Failure::Usage)? {
            Request::Redo { .. } => Err(Failure::Usage("No redoing redos".to_string())),
            request => Ok((line.clone(), request)),
        }
    }

    /// Runs words given on the command line (`-c` or trailing arguments), unnumbered.
    pub async fn run_words(&mut self, words: &[String]) -> Step {
        match parse_request(words) {
            Ok(request) => self.run_request(request).await,
            Err(why) => self.fail(Failure::Usage(why)),
        }
    }

    async fn run_request(&mut self, request: Request) -> Step {
        match request {
            Request::Quit => return Step::Quit,
            Request::Help => print_out(&help_text()),
            Request::History => print_out(&self.history_text()),
            Request::PrintWatches { on: None } => {
                let word = if self.print_watches { "on" } else { "off" };
                print_out(&format!("printwatches is {word}\n"));
            }
            Request::PrintWatches { on: Some(on) } => self.print_watches = on,
            Request::Close => self.close().await,
            Request::Connect { server } => {
                let server = server.unwrap_or_else(|| self.server.clone());
                self.connect(server).await;
            }
            // Words from the command line have no history to redo from.
            Request::Redo { .. } => {
                return self.fail(Failure::Usage("Command index out of range".to_string()));
            }
            request => self.run_on_session(request).await,
        }
        self.print_fired().await;
        Step::Continue
    }

    async fn run_on_session(&mut self, request: Request) {
        let Some(client) = self.client.as_ref().filter(|c| !c.state().is_terminated()) else {
            print_out("Not connected\n");
            return;
        };
        match execute(client, request).await {
            Ok(outcome) => {
                print_out(&outcome.output);
                print_notice(&outcome.notice);
                if let Some(watcher) = outcome.watch {
                    if let Err(failure) = self.watches.add(watcher) {
                        self.fail(failure);
                    }
                }
            }
            Err(failure) => {
                self.fail(failure);
            }
        }
    }

    /// Reports an input line that could not be read as a command.
    pub fn refuse(&mut self, why: String) -> Step {
        self.fail(Failure::Usage(why))
    }

    /// Reports a failed command on stderr and remembers its exit status.
    fn fail(&mut self, failure: Failure) -> Step {
        print_err(failure.message());
        self.status = failure.exit_status();
        Step::Continue
    }

    /// zkCli's `history`: the numbers and lines of the latest commands, this one included.
    fn history_text(&self) -> String {
        let first = (self.command_count + 1).saturating_sub(HISTORY_LISTED);
        self.history
            .range(first..=self.command_count)
            .map(|(number, line)| format!("{number} - {line}\n"))
            .collect()
    }

    /// Prints the events of watches that have fired already.
    async fn print_fired(&mut self) {
        while let Some(event) = self.watches.fired().await {
            if self.print_watches && event.event_type != zk::EventType::Session {
                print_out(&format_event(&event));
            }
        }
    }

    /// Ends the session, if any, and says so as zkCli's watcher does.
    pub async fn close(&mut self) {
        if self.end_session().await && self.print_watches {
            let event = zk::WatchedEvent::new_session(zk::SessionState::Closed);
            print_out(&format_event(&event));
        }
    }

    /// Ends the session without a word; true when there was one.
    pub async fn end_session(&mut self) -> bool {
        lock_client(&self.shared).take();
        self.state = None;
        self.watches = Watches::default();
        match self.client.take() {
            Some(client) => {
                session::close(client).await;
                true
            }
            None => false,
        }
    }

    async fn connect(&mut self, server: String) {
        self.close().await;
        self.server = server;
        match session::connect(&self.server).await {
            Ok(client) => {
                self.adopt(client);
                self.print_connected();
            }
            Err(why) => {
                self.fail(Failure::Server(why));
            }
        }
    }
}
