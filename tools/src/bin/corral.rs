//! `corral`: a standalone Corral server.
//!
//! Prints `corral listening on IP:PORT` on stdout once it serves clients; logs go to stderr
//! (`CORRAL_LOG=debug|info|warn|error`, default info). SIGTERM or SIGINT stops it cleanly.

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use corral_net::config::{parse_args, ConfigError};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    corral_tools::logging::init();
    let config = match parse_args(std::env::args().skip(1)) {
        Ok(config) => config,
        Err(ConfigError::HelpRequested(usage)) => {
            print!("{usage}");
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("corral: {error}");
            return ExitCode::from(2);
        }
    };
    for warning in &config.warnings {
        log::warn!("{warning}");
    }
    let shutdown = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        if let Err(error) = signal_hook::flag::register(signal, shutdown.clone()) {
            eprintln!("corral: cannot install a handler for signal {signal}: {error}");
            return ExitCode::FAILURE;
        }
    }
    let outcome = corral_net::server::run(config, shutdown, |address| {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "corral listening on {address}");
        let _ = stdout.flush();
        log::info!("serving clients on {address}");
    });
    match outcome {
        Ok(()) => {
            log::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(error) => {
            log::error!("{error}");
            eprintln!("corral: {error}");
            ExitCode::FAILURE
        }
    }
}
