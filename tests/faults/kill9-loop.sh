#!/usr/bin/env bash
# Runs the kill -9 loop (tools/tests/durability_kill9_loop.rs) with N trials on a release build
# and prints its summary: trials, acknowledged writes checked, lost (always 0 when it passes).
#
#   tests/faults/kill9-loop.sh [N] [SEED]
#
# N defaults to 100. SEED replays an earlier run (each run prints its seed first).
# CARGO_TARGET_DIR is honoured as usual.
set -euo pipefail

trials="${1:-100}"
cd "$(dirname "$0")/../.."

export CORRAL_KILL9_TRIALS="$trials"
if [ -n "${2:-}" ]; then
    export CORRAL_KILL9_SEED="$2"
fi

log="$(mktemp -t corral-kill9-loop.XXXXXX)"
trap 'rm -f "$log"' EXIT

status=0
cargo test --release -p corral-tools --test durability_kill9_loop -- --nocapture --test-threads=1 \
    2>&1 | tee "$log" || status=$?

echo
echo "=== kill -9 loop, $trials trials ==="
grep -oE 'seed [0-9]+ \(set CORRAL_KILL9_SEED=[0-9]+ to replay\)' "$log" | head -n 1 || true
if grep -E '^kill9 loop summary:' "$log"; then
    :
else
    echo "no summary: the run failed (status $status); its seed is printed above"
fi
grep -E 'kill -9 loop failed' "$log" | head -n 5 || true
exit "$status"
