//! corral-bench: load against any ZooKeeper-compatible server (being written).

fn main() {
    eprintln!("corral-bench: not built yet");
    std::process::exit(2);
}
