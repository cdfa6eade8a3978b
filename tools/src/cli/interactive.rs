//! The interactive shell at a terminal: a prompt in zkCli's manner, line editing, history kept
//! in `~/.corral_cli_history`, tab completion of command names and paths, and watch events
//! printed above the prompt while it waits.
//!
//! The line editor runs on a thread of its own, because reading a line blocks. The shell asks
//! it for one line at a time, sending the prompt, and runs each line before asking for the
//! next; so a command's output never interleaves with the prompt, and the prompt always shows
//! the state and number after the last command. While the editor waits, events go through its
//! external printer, which prints above the prompt and redraws the line being typed.

use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;

use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Config, Editor, ExternalPrinter, Helper};
use tokio::sync::mpsc;

use super::command::SPECS;
use super::limits::{COMPLETIONS_MAX, COMPLETION_TIMEOUT, EDITOR_HISTORY_MAX};
use super::session::{print_err, print_out};
use super::shell::{lock_client, SharedClient, Shell, Step};

/// The history file's name in the home directory.
const HISTORY_FILE_NAME: &str = ".corral_cli_history";

/// What the editor read after a prompt.
enum Input {
    Line(String),
    /// Ctrl-C: the line is dropped and the prompt comes again.
    Interrupted,
    /// Ctrl-D on an empty line, or the terminal went away.
    End,
}

type Printer = Box<dyn ExternalPrinter + Send>;

/// Runs the shell on the terminal until `quit` or Ctrl-D.
pub async fn run(shell: &mut Shell) {
    let completion = Completion {
        client: shell.shared_client(),
        runtime: tokio::runtime::Handle::current(),
    };
    let (prompts, prompts_receiver) = std_mpsc::sync_channel::<String>(1);
    let (inputs_sender, mut inputs) = mpsc::channel::<Input>(1);
    let (mut printer, editor_thread) =
        match start_editor(completion, prompts_receiver, inputs_sender) {
            Ok(started) => started,
            Err(why) => {
                print_err(&format!("corral-cli: no line editing: {why}"));
                return super::session::run_stream(shell).await;
            }
        };
    loop {
        if prompts.send(shell.prompt()).is_err() {
            break;
        }
        let input = loop {
            tokio::select! {
                biased;
                news = shell.news() => {
                    // Printing can fail only if the terminal is gone; the editor then ends too.
                    let _ = printer.print(news);
                }
                input = inputs.recv() => break input,
            }
        };
        let step = match input {
            Some(Input::Line(line)) => shell.run_line(&line).await,
            Some(Input::Interrupted) => Step::Continue,
            Some(Input::End) | None => Step::Quit,
        };
        if step == Step::Quit {
            break;
        }
    }
    // The editor is between lines now, waiting for a prompt; without one it saves and ends.
    drop(prompts);
    let _ = editor_thread.join();
}

type LineEditor = Editor<Completion, DefaultHistory>;

/// Starts the editor thread; it hands back its external printer once the terminal is set up.
fn start_editor(
    completion: Completion,
    prompts: std_mpsc::Receiver<String>,
    inputs: mpsc::Sender<Input>,
) -> Result<(Printer, JoinHandle<()>), String> {
    let (ready_sender, ready) = std_mpsc::sync_channel::<Result<Printer, String>>(1);
    let thread = std::thread::spawn(move || {
        let mut editor = match new_editor(completion) {
            Ok(editor) => editor,
            Err(why) => {
                let _ = ready_sender.send(Err(why));
                return;
            }
        };
        let printer = editor.create_external_printer();
        let printer = printer.map(|p| Box::new(p) as Printer);
        if ready_sender
            .send(printer.map_err(|e| e.to_string()))
            .is_err()
        {
            return;
        }
        read_lines(&mut editor, &prompts, &inputs);
    });
    match ready.recv() {
        Ok(Ok(printer)) => Ok((printer, thread)),
        Ok(Err(why)) => Err(why),
        Err(_) => Err("the line editor stopped".to_string()),
    }
}

fn new_editor(completion: Completion) -> Result<LineEditor, String> {
    let config = Config::builder()
        .max_history_size(EDITOR_HISTORY_MAX)
        .and_then(|builder| builder.history_ignore_dups(true))
        .map_err(|e| e.to_string())?
        .history_ignore_space(true)
        .completion_type(CompletionType::List)
        .build();
    let mut editor = LineEditor::with_config(config).map_err(|e| e.to_string())?;
    editor.set_helper(Some(completion));
    if let Some(path) = history_path() {
        // A first run has no file yet; an unreadable one only costs the old lines.
        let _ = editor.load_history(&path);
    }
    Ok(editor)
}

/// `~/.corral_cli_history`, or none when there is no home directory.
fn history_path() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").filter(|home| !home.is_empty())?;
    Some(PathBuf::from(home).join(HISTORY_FILE_NAME))
}

/// Reads one line per prompt received, until the prompts or the shell stop.
fn read_lines(
    editor: &mut LineEditor,
    prompts: &std_mpsc::Receiver<String>,
    inputs: &mpsc::Sender<Input>,
) {
    let history = history_path();
    while let Ok(prompt) = prompts.recv() {
        let input = match editor.readline(&prompt) {
            Ok(line) => {
                if !line.trim().is_empty() && editor.add_history_entry(line.as_str()).is_ok() {
                    if let Some(path) = &history {
                        // Kept line by line, so that a killed shell loses nothing.
                        let _ = editor.append_history(path);
                    }
                }
                Input::Line(line)
            }
            Err(ReadlineError::Interrupted) => Input::Interrupted,
            Err(ReadlineError::Eof) => Input::End,
            Err(error) => {
                print_out(&format!("corral-cli: reading the terminal: {error}\n"));
                Input::End
            }
        };
        if inputs.blocking_send(input).is_err() {
            break;
        }
    }
}

/// Tab completion: command names for the first word, and node paths for words starting with
/// `/`, asking the server for the children of the path's parent.
struct Completion {
    client: SharedClient,
    runtime: tokio::runtime::Handle,
}

impl Completion {
    fn commands(prefix: &str) -> Vec<String> {
        SPECS
            .iter()
            .map(|spec| spec.name)
            .filter(|name| name.starts_with(prefix))
            .map(str::to_string)
            .collect()
    }

    /// Paths below `word`'s parent that start with `word`, sorted; none when the server does
    /// not answer within [`COMPLETION_TIMEOUT`].
    fn paths(&self, word: &str) -> Vec<String> {
        let Some((parent, prefix)) = word.rsplit_once('/') else {
            return Vec::new();
        };
        let Some(client) = lock_client(&self.client).clone() else {
            return Vec::new();
        };
        let listed = self.runtime.block_on(async {
            let parent = if parent.is_empty() { "/" } else { parent };
            tokio::time::timeout(COMPLETION_TIMEOUT, client.list_children(parent)).await
        });
        let Ok(Ok(mut children)) = listed else {
            return Vec::new();
        };
        children.retain(|child| child.starts_with(prefix));
        children.sort_unstable();
        children.truncate(COMPLETIONS_MAX);
        children
            .iter()
            .map(|child| format!("{parent}/{child}"))
            .collect()
    }
}

impl Completer for Completion {
    type Candidate = String;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _context: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        let before = line.get(..pos).unwrap_or(line);
        let start = before
            .rfind(char::is_whitespace)
            .map_or(0, |index| index + 1);
        let word = &before[start..];
        let candidates = if before[..start].trim().is_empty() {
            Self::commands(word)
        } else if word.starts_with('/') {
            self.paths(word)
        } else {
            Vec::new()
        };
        Ok((start, candidates))
    }
}

impl Hinter for Completion {
    type Hint = String;
}

impl Highlighter for Completion {}

impl Validator for Completion {}

impl Helper for Completion {}
