//! `corral-inspect`: looks inside a Corral data directory; see `corral-inspect --help`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    corral_tools::inspect::main(&args)
}
