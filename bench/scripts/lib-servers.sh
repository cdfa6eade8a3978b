# shellcheck shell=bash
# The callers set repo and target_dir, and read server_pid, start_ns and stop_seconds:
# shellcheck disable=SC2034,SC2154
# Shared by restart-1m.sh and snapshot-impact.sh (sourced, not run): starting, probing and
# stopping Corral and Apache ZooKeeper 3.8 on a free port with a fresh data directory.
#
# Binaries come from $CARGO_TARGET_DIR (default: the repository's target/); the callers' --no-build
# uses them as they are instead of running `cargo build --release` first.
#
# Callers set: repo, target_dir, work (a scratch directory on the disk to measure), and may set
# ZK_HEAP (default 4g), ZK_CLASSPATH, and EXTRA_CFG (lines appended to every zoo.cfg).

ZK_HEAP="${ZK_HEAP:-4g}"
ZK_CLASSPATH="${ZK_CLASSPATH:-/usr/share/java/*:/etc/zookeeper/conf}"
EXTRA_CFG="${EXTRA_CFG:-}"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

install_zookeeper() {
    [[ -d /usr/share/zookeeper ]] && return 0
    echo "installing zookeeper" >&2
    local sudo_cmd=()
    ((EUID == 0)) || sudo_cmd=(sudo)
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends zookeeper zookeeper-bin >/dev/null
}

build_tools() {
    echo "building corral, populate, ready_probe, set_rate (release)" >&2
    (cd "$repo" && cargo build --release -q -p corral-tools --bin corral --example set_rate &&
        cargo build --release -q -p corral-bench --example populate --example ready_probe)
}

# write_cfg SERVER DATA_DIR PORT: a zoo.cfg both servers read.
write_cfg() {
    local data="$2" port="$3"
    mkdir -p "$data"
    {
        printf 'tickTime=2000\ndataDir=%s\nclientPort=%s\nmaxClientCnxns=0\n' "$data" "$port"
        printf '4lw.commands.whitelist=*\nadmin.enableServer=false\nextendedTypesEnabled=true\n'
        if [[ -n "$EXTRA_CFG" ]]; then
            printf '%s\n' "$EXTRA_CFG"
        fi
    } >"$data/zoo.cfg"
}

# start_server SERVER DATA_DIR: starts it in the background with DATA_DIR/zoo.cfg, output to
# DATA_DIR/server.log; sets server_pid and start_ns (taken just before the exec).
start_server() {
    local server="$1" data="$2"
    start_ns="$(date +%s%N)"
    case "$server" in
    corral)
        CORRAL_LOG=warn "$target_dir/release/corral" "$data/zoo.cfg" >>"$data/server.log" 2>&1 &
        ;;
    zookeeper)
        java "-Xmx$ZK_HEAP" -Dzookeeper.log.dir="$data" -cp "$ZK_CLASSPATH" \
            org.apache.zookeeper.server.quorum.QuorumPeerMain "$data/zoo.cfg" \
            >>"$data/server.log" 2>&1 &
        ;;
    *) echo "unknown server $server" >&2; return 2 ;;
    esac
    server_pid=$!
}

# probe PORT PATH: waits for a get of PATH to succeed; prints ready_ms.
probe() {
    "$target_dir/release/examples/ready_probe" "127.0.0.1:$1" "$2" "$start_ns" 900 |
        sed -n 's/^ready_ms=\([0-9.]*\).*/\1/p'
}

# rss_mb PID: resident set size in MiB.
rss_mb() {
    awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"
}

# stop_server PID SIGNAL: sends SIGNAL and waits for the exit; sets stop_seconds. Never call it
# in a subshell: only the shell that started the server can reap it (a zombie still counts as
# running for kill -0).
stop_server() {
    local pid="$1" signal="$2" started
    started="$(date +%s%N)"
    kill "-$signal" "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
        if (($(date +%s%N) - started > 120000000000)); then
            echo "pid $pid still running 120s after SIG$signal; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        sleep 0.05
    done
    wait "$pid" 2>/dev/null || true
    stop_seconds="$(awk -v a="$started" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')"
}

# Kills the servers still running among this shell's background jobs (only servers run there),
# for the exit trap.
stop_all_started() {
    local pid
    for pid in $(jobs -p); do
        kill -KILL "$pid" 2>/dev/null || true
    done
    return 0
}

median() {
    sort -g | awk '{ a[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
