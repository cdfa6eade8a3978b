//! `corral-cli`: a command-line client in the manner of zkCli.sh; see `corral-cli --help`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    corral_tools::cli::main(&args)
}
