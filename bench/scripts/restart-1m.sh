#!/usr/bin/env bash
# Restart-to-serving time and RSS with a large tree, Corral next to Apache ZooKeeper 3.8.
#
#   bench/scripts/restart-1m.sh [--nodes N] [--value-bytes V] [--servers "corral zookeeper"]
#                               [--dir DIR] [--no-build]
#
# For each server, on a fresh data directory under DIR (default $CORRAL_BENCH_DIR, else the
# working directory) and a free port: populate N nodes of V bytes (default 1000000 × 100) with
# bench/examples/populate.rs, sample VmRSS, then twice stop and restart it — first with SIGKILL,
# then with SIGTERM (graceful) — measuring restart-to-serving (from just before the exec until a
# `get` of the node populate created last succeeds, bench/examples/ready_probe.rs) and VmRSS two
# seconds after it serves. ZooKeeper runs with -Xmx$ZK_HEAP (default 4g). Extra zoo.cfg lines for
# both servers can be given in EXTRA_CFG. Every server started is stopped on exit.
set -euo pipefail

nodes=1000000
value_bytes=100
servers="corral zookeeper"
dir="${CORRAL_BENCH_DIR:-$PWD}"
build=1
while (($#)); do
    case "$1" in
    --nodes) nodes="$2"; shift 2 ;;
    --value-bytes) value_bytes="$2"; shift 2 ;;
    --servers) servers="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

repo="$(cd "$(dirname "$0")/../.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"
# shellcheck source=lib-servers.sh
source "$repo/bench/scripts/lib-servers.sh"

mkdir -p "$dir"
work="$(mktemp -d "$dir/restart-1m.XXXXXX")"
trap 'stop_all_started; rm -rf "$work"' EXIT
if [[ "$servers" == *zookeeper* ]]; then
    install_zookeeper
fi
if ((build)); then
    build_tools
fi

# measure SERVER: appends one table row to `rows` (not run in a subshell: it starts servers).
measure() {
    local server="$1" data="$work/$1" port marker line rate rss_loaded
    port="$(free_port)"
    write_cfg "$server" "$data" "$port"
    start_server "$server" "$data"
    probe "$port" / >/dev/null
    echo "$server: populating $nodes nodes of $value_bytes bytes on port $port" >&2
    line="$("$target_dir/release/examples/populate" "127.0.0.1:$port" "$nodes" "$value_bytes")"
    echo "$server: $line" >&2
    rate="$(sed -n 's/.* rate=\([0-9]*\).*/\1/p' <<<"$line")"
    marker="$(sed -n 's/.* marker=\(.*\)$/\1/p' <<<"$line")"
    sleep 2
    rss_loaded="$(rss_mb "$server_pid")"
    local row="$server $rate $rss_loaded"
    for signal in KILL TERM; do
        local stop_s ready_ms rss_after
        stop_server "$server_pid" "$signal"
        stop_s="$stop_seconds"
        start_server "$server" "$data"
        ready_ms="$(probe "$port" "$marker")"
        sleep 2
        rss_after="$(rss_mb "$server_pid")"
        echo "$server: SIG$signal stop ${stop_s}s, serving again after ${ready_ms} ms, RSS ${rss_after} MiB" >&2
        row+=" $stop_s $ready_ms $rss_after"
    done
    stop_server "$server_pid" TERM
    row+=" $(du -sm "$data" | cut -f1)"
    rows+=("$row")
}

rows=()
for server in $servers; do
    measure "$server"
done

echo
echo "Restart with $nodes znodes of $value_bytes bytes ($(date -u +%FT%TZ); ZooKeeper -Xmx$ZK_HEAP)"
printf '%-10s %9s %9s | %-26s | %-26s | %7s\n' "" "populate" "RSS" "after SIGKILL" \
    "after SIGTERM (graceful)" "data"
printf '%-10s %9s %9s | %6s %10s %8s | %6s %10s %8s | %7s\n' server "creates/s" "MiB" \
    "stop s" "serving ms" "RSS MiB" "stop s" "serving ms" "RSS MiB" "MiB"
for row in "${rows[@]}"; do
    # shellcheck disable=SC2086
    printf '%-10s %9s %9s | %6s %10s %8s | %6s %10s %8s | %7s\n' $row
done
