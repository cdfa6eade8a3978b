#!/usr/bin/env bash
# Durable `set` throughput with a large tree loaded, with snapshots effectively off versus
# snapshots running back to back; Corral and, for reference, Apache ZooKeeper 3.8.
#
#   bench/scripts/snapshot-impact.sh [--nodes N] [--runs R] [--seconds S] [--clients C]
#                                    [--servers "corral zookeeper"] [--snap-count-busy K]
#                                    [--dir DIR] [--populate-in-flight P] [--from-data D]
#                                    [--no-build]
#
# For each server, on a fresh data directory under DIR (default $CORRAL_BENCH_DIR, else the
# working directory): start it with snapCount=1000000000 (no snapshot will trigger), populate N
# nodes of 100 bytes (default 1000000; P requests in flight on each of 8 sessions, default 256:
# lower it on a loaded machine where populate's sessions time out), stop it, and copy its data
# directory (--from-data D: copy D, a data directory populated that way before, instead; for
# one server only). Then start two copies side by side, "off" with snapCount=1000000000 and "busy" with
# snapCount=K (default 1000: at tens of thousands of sets per second a new snapshot is due as
# soon as the previous one ends), both recovering the same tree, and run
# tools/examples/set_rate.rs R times against each, alternating off, busy, off, busy... (default
# 3 each; C=64 clients, S=8 seconds, 100-byte values). Alternating keeps a slow stretch of a
# shared machine from landing on one phase only; before each "off" run the script waits until
# the busy copy has gone quiet (its last snapshot written), so no snapshot overlaps an "off"
# run. Prints every run with the load average, the medians and their ratio (target: ≥ 0.9),
# and how many snapshot files each copy left. Every server started is stopped on exit.
set -euo pipefail

nodes=1000000
runs=3
seconds=8
clients=64
servers="corral zookeeper"
snap_count_busy=1000
snap_count_off=1000000000
dir="${CORRAL_BENCH_DIR:-$PWD}"
populate_in_flight=256
from_data=""
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
    --populate-in-flight) populate_in_flight="$2"; shift 2 ;;
    --from-data) from_data="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h | --help) sed -n '2,23p' "$0"; exit 0 ;;
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

# cpu_ticks PID: user + system clock ticks the process has used so far.
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# wait_quiet PID: waits (at most 120 s) until the process uses under 5% of a core over a
# second: the busy copy's snapshot in progress has ended.
wait_quiet() {
    local pid="$1" before after tries=0
    local hz
    hz="$(getconf CLK_TCK)"
    while ((tries++ < 120)); do
        before="$(cpu_ticks "$pid")"
        sleep 1
        after="$(cpu_ticks "$pid")"
        if (((after - before) * 20 < hz)); then
            return 0
        fi
    done
    echo "pid $pid still busy after 120 s; measuring anyway" >&2
}

# set_rate_once PORT PHASE RUN: one set_rate run, logged with the load average.
set_rate_once() {
    local port="$1" phase="$2" run="$3" line
    line="$("$target_dir/release/examples/set_rate" "127.0.0.1:$port" "$clients" "$seconds" 100)"
    echo "$server $phase run $run: $line load=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)" >&2
    echo "$line" >>"$work/$server-$phase.txt"
}

# median_rate PHASE: the median of the phase's rates.
median_rate() {
    sed -n 's/.* rate=\([0-9]*\).*/\1/p' "$work/$server-$1.txt" | median
}

# measure SERVER: appends one table row to `rows` (not run in a subshell: it starts servers).
measure() {
    server="$1"
    local data="$work/$1" port line marker off busy snaps_off snaps_busy run
    local off_port busy_port off_pid busy_pid
    if [[ -n "$from_data" ]]; then
        cp -a "$from_data" "$data"
        marker=/corral-bench/done
    else
        port="$(free_port)"
        EXTRA_CFG="snapCount=$snap_count_off" write_cfg "$server" "$data" "$port"
        start_server "$server" "$data"
        probe "$port" / >/dev/null
        echo "$server: populating $nodes nodes on port $port" >&2
        line="$("$target_dir/release/examples/populate" "127.0.0.1:$port" "$nodes" 100 8 "$populate_in_flight")"
        echo "$server: $line" >&2
        marker="$(sed -n 's/.* marker=\(.*\)$/\1/p' <<<"$line")"
        stop_server "$server_pid" TERM
    fi
    cp -a "$data" "$data-busy"
    mv "$data" "$data-off"
    off_port="$(free_port)"
    EXTRA_CFG="snapCount=$snap_count_off" write_cfg "$server" "$data-off" "$off_port"
    start_server "$server" "$data-off"
    off_pid="$server_pid"
    echo "$server: off copy serving after $(probe "$off_port" "$marker") ms" >&2
    busy_port="$(free_port)"
    EXTRA_CFG="snapCount=$snap_count_busy" write_cfg "$server" "$data-busy" "$busy_port"
    start_server "$server" "$data-busy"
    busy_pid="$server_pid"
    echo "$server: busy copy (snapCount=$snap_count_busy) serving after $(probe "$busy_port" "$marker") ms" >&2
    snaps_off="$(count_snapshots "$data-off")"
    snaps_busy="$(count_snapshots "$data-busy")"
    for ((run = 1; run <= runs; run++)); do
        wait_quiet "$busy_pid"
        set_rate_once "$off_port" off "$run"
        set_rate_once "$busy_port" busy "$run"
    done
    off="$(median_rate off)"
    busy="$(median_rate busy)"
    snaps_off="$(($(count_snapshots "$data-off") - snaps_off))"
    snaps_busy="$(($(count_snapshots "$data-busy") - snaps_busy))"
    stop_server "$busy_pid" TERM
    stop_server "$off_pid" TERM
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
