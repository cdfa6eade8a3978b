//! The shape of the tree `populate` builds: `ROOT/dDDDD/nNNNNNNNNNN`, `POPULATE_FANOUT` nodes per
//! directory, so a million nodes make a thousand directories of a thousand children each.

use crate::limits::POPULATE_FANOUT;

/// How many directory nodes hold `nodes` leaves.
pub fn directory_count(nodes: u64) -> u64 {
    nodes.div_ceil(POPULATE_FANOUT)
}

/// Path of directory `directory` under `root`.
pub fn directory_path(root: &str, directory: u64) -> String {
    format!("{root}/d{directory:05}")
}

/// Path of leaf `node` (counted from 0) under `root`.
pub fn node_path(root: &str, node: u64) -> String {
    let directory = directory_path(root, node / POPULATE_FANOUT);
    format!("{directory}/n{node:010}")
}

/// Path of the node `populate` creates after every other one, so that reading it back after a
/// restart proves the whole population was recovered.
pub fn marker_path(root: &str) -> String {
    format!("{root}/done")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_million_nodes_fill_a_thousand_directories_of_a_thousand() {
        assert_eq!(directory_count(1_000_000), 1000);
        assert_eq!(directory_count(1_000_001), 1001);
        assert_eq!(directory_count(0), 0);
        assert_eq!(node_path("/b", 0), "/b/d00000/n0000000000");
        assert_eq!(node_path("/b", 999_999), "/b/d00999/n0000999999");
        assert_eq!(node_path("/b", 1000), "/b/d00001/n0000001000");
        assert_eq!(marker_path("/b"), "/b/done");
    }
}
