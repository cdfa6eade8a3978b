//! `corral-cli`, a command-line client in the manner of zkCli.sh.
//!
//! - `args`: the process's arguments and splitting a command line into words.
//! - `command`: the table of commands and parsing words into a `Request`.
//! - `exec`: running a `Request` on a session and rendering the answer.
//! - `shell`: the shell's state (session, numbered history, watch printing) and running a line.
//! - `interactive`: the shell at a terminal: prompt, line editing, history file, completion.
//! - `session`: connecting and closing, pending watches, output, commands piped on stdin.
//! - `acl`, `format`: ACL text, stats, dates, events and error messages as zkCli writes them.
//! - `limits`: the client's bounds.

mod acl;
mod args;
mod command;
mod exec;
mod format;
mod interactive;
mod limits;
mod session;
mod shell;

use std::io::IsTerminal;
use std::process::ExitCode;

use args::{parse_invocation, Invocation};
use command::{help_text, parse_request, Request};
use session::{print_err, print_out};
use shell::Shell;

const USAGE: &str = "\
usage: corral-cli [-server HOST:PORT] [-c 'CMD ARGS'] [CMD ARGS...]

Connects to a ZooKeeper-compatible server (default 127.0.0.1:2181) and runs one command
given with -c or as trailing arguments, exiting 0 on success, 1 when the server refuses and
2 on a usage error. Without a command it reads commands from stdin, one a line, and prints
watch events as they fire; at a terminal that is an interactive shell with a prompt, line
editing, tab completion and a history kept in ~/.corral_cli_history.

";

/// Runs the client with the process's arguments (without the program name).
pub fn main(args: &[String]) -> ExitCode {
    let (server, command) = match parse_invocation(args) {
        Ok(Invocation::Help) => {
            print_out(&format!("{USAGE}{}", help_text()));
            return ExitCode::SUCCESS;
        }
        Ok(Invocation::Run { server, command }) => (server, command),
        Err(why) => {
            print_err(&format!("corral-cli: {why}\n{USAGE}"));
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            print_err(&format!("corral-cli: cannot start the runtime: {error}"));
            return ExitCode::FAILURE;
        }
    };
    ExitCode::from(runtime.block_on(run(&server, command)))
}

async fn run(server: &str, command: Option<Vec<String>>) -> u8 {
    if let Some(words) = &command {
        // Usage errors, help and quit need no server.
        match parse_request(words) {
            Err(why) => {
                print_err(&why);
                return 2;
            }
            Ok(Request::Help) => {
                print_out(&help_text());
                return 0;
            }
            Ok(Request::Quit) => return 0,
            Ok(_) => {}
        }
    }
    let interactive = command.is_none() && std::io::stdin().is_terminal();
    if interactive {
        print_out(&format!("Connecting to {server}\n"));
    }
    let client = match session::connect(server).await {
        Ok(client) => Some(client),
        // At a terminal the shell starts anyway, so that `connect` can try elsewhere.
        Err(why) if interactive => {
            print_err(&why);
            None
        }
        Err(why) => {
            print_err(&why);
            return 1;
        }
    };
    let mut shell = Shell::new(server.to_string(), client);
    match command {
        Some(words) => {
            shell.run_words(&words).await;
        }
        None if interactive => {
            if shell.is_connected() {
                shell.print_connected();
            }
            interactive::run(&mut shell).await;
        }
        None => session::run_stream(&mut shell).await,
    }
    shell.end_session().await;
    shell.status()
}
