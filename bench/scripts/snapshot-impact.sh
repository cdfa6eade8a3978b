#!/usr/bin/env bash
# Durable `set` throughput with a large tree loaded, with snapshots effectively off versus
# snapshots running back to back; Corral and, for reference, Apache ZooKeeper 3.8.
#
#   bench/scripts/snapshot-impact.sh [--nodes N] [--runs R] [--seconds S] [--clients C]
#                                    [--servers "corral zookeeper"] [--snap-count-busy K]
#                                    [--dir DIR] [--no-build]
#
# For each server, on a fresh data directory under DIR (default $CORRAL_BENCH_DIR, else the
# working directory): start it with snapCount=1000000000 (no snapshot will trigger), populate N
# nodes of 100 bytes (default 1000000), run tools/examples/set_rate.rs R times (default 3; C=64
# clients, S=8 seconds, 100-byte values), then restart it with snapCount=K (default 1000: at
# tens of thousands of sets per second a new snapshot is due as soon as the previous one ends)
# and run set_rate R times again. Prints the medians and their ratio (target: ≥ 0.9), and how
# many snapshot files each phase left. Every server started is stopped on exit.
set -euo pipefail

nodes=1000000
runs=3
seconds=8
clients=64
servers="corral zookeeper"
snap_count_busy=1000
snap_count_off=1000000000
dir="${CORRAL_BENCH_DIR:-$PWD}"
build=1
while (($#)); do
    case "$1" in
    --nodes) nodes="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    --servers) servers="$2"; shift 2 ;;
    --snap-count-busy) snap_count_busy="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

repo="$(cd "$(dirname "$0")/../.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
# shellcheck source=lib-servers.sh
source "$repo/bench/scripts/lib-servers.sh"

mkdir -p "$dir"
work="$(mktemp -d "$dir/snapshot-impact.XXXXXX")"
trap 'stop_all_started; rm -rf "$work"' EXIT
if [[ "$servers" == *zookeeper* ]]; then
    install_zookeeper
fi
if ((build)); then
    build_tools
fi

# Snapshot files in a data directory: Corral's snapshots/ and ZooKeeper's version-2/.
count_snapshots() {
    find "$1" \( -name 'snapshot-*.snap' -o -name 'snapshot.*' \) -type f 2>/dev/null | wc -l
}

# set_rates PORT PHASE: runs set_rate `runs` times, logging each line; prints the median rate.
set_rates() {
    local port="$1" phase="$2" run line
    for ((run = 1; run <= runs; run++)); do
        line="$("$target_dir/release/examples/set_rate" "127.0.0.1:$port" "$clients" "$seconds" 100)"
        echo "$server $phase run $run: $line" >&2
        echo "$line" >>"$work/$server-$phase.txt"
    done
    sed -n 's/.* rate=\([0-9]*\).*/\1/p' "$work/$server-$phase.txt" | median
}

# measure SERVER: appends one table row to `rows` (not run in a subshell: it starts servers).
measure() {
    server="$1"
    local data="$work/$1" port line marker off busy snaps_off snaps_busy
    port="$(free_port)"
    EXTRA_CFG="snapCount=$snap_count_off" write_cfg "$server" "$data" "$port"
    start_server "$server" "$data"
    probe "$port" / >/dev/null
    echo "$server: populating $nodes nodes on port $port" >&2
    line="$("$target_dir/release/examples/populate" "127.0.0.1:$port" "$nodes" 100)"
    echo "$server: $line" >&2
    marker="$(sed -n 's/.* marker=\(.*\)$/\1/p' <<<"$line")"
    snaps_off="$(count_snapshots "$data")"
    off="$(set_rates "$port" off)"
    snaps_off="$(($(count_snapshots "$data") - snaps_off))"
    stop_server "$server_pid" TERM
    EXTRA_CFG="snapCount=$snap_count_busy" write_cfg "$server" "$data" "$port"
    start_server "$server" "$data"
    echo "$server: restarted with snapCount=$snap_count_busy, serving after $(probe "$port" "$marker") ms" >&2
    snaps_busy="$(count_snapshots "$data")"
    busy="$(set_rates "$port" busy)"
    snaps_busy="$(($(count_snapshots "$data") - snaps_busy))"
    stop_server "$server_pid" TERM
    rows+=("$server $off $snaps_off $busy $snaps_busy $(awk -v b="$busy" -v o="$off" 'BEGIN { printf "%.2f", (o > 0 ? b / o : 0) }')")
}

rows=()
for server in $servers; do
    measure "$server"
done

echo
echo "set throughput with $nodes znodes, $clients clients, 100-byte values, medians of $runs runs of ${seconds}s ($(date -u +%FT%TZ))"
printf '%-10s %16s %9s %18s %9s %7s\n' server "no snapshots/s" "new snaps" \
    "snapCount=$snap_count_busy /s" "new snaps" ratio
for row in "${rows[@]}"; do
    # shellcheck disable=SC2086
    printf '%-10s %16s %9s %18s %9s %7s\n' $row
done
echo "(new snaps: snapshot files added during the runs; Corral purges down to its retain count,"
echo " so for Corral it undercounts once the retain count is reached)"
