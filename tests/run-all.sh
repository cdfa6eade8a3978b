#!/usr/bin/env bash
# THE test command: sets up everything a fresh Debian machine lacks, then runs every check.
#
#   bash tests/run-all.sh
#
# Steps: install dependencies, cargo fmt, cargo clippy, cargo build --release, cargo tests,
# then start one server and run kazoo's own test suite (from its source distribution) and the
# zkCli.sh and cli_mt scripted sessions against it, then `corral-bench compare --quick` (a
# check that the benchmark runs and reports well-formed results, never a speed). Each step prints a header; a summary
# table comes last; the exit status is non-zero if any step failed.
#
# Environment:
#   CORRAL_TEST_AGAINST_ZK=1  run the server-based steps against Apache ZooKeeper 3.8 (Debian's
#                             package) instead of Corral, to compare behaviour side by side.
#   CORRAL_CI_STEPS=a,b,...   run only these steps (default: all): deps fmt clippy build test
#                             kazoo clients bench. The server starts if kazoo or clients is selected.
#   CORRAL_CI_DIR=DIR         where the venv, downloads, logs and junit files go
#                             (default: $CARGO_TARGET_DIR/ci, else target/ci).
#   KAZOO_PYTEST_ARGS="..."   extra pytest arguments, e.g. "-k TestClient" while debugging.
#   CARGO_TARGET_DIR          honoured as cargo does; the corral binary is looked up there.
#   CORRAL_BIN=PATH           run this corral binary instead of $CARGO_TARGET_DIR/release/corral
#                             (with CORRAL_CI_STEPS=kazoo,clients: test a build made elsewhere).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

# ---- settings -----------------------------------------------------------------------------
KAZOO_VERSION="2.11.0"
# sha256 of kazoo-2.11.0.tar.gz as published on PyPI; a mismatch stops the run.
KAZOO_SDIST_SHA256="57e7e6f69295c8f922511488eeb79680729e14bb8eb382d5cad83aa11345c36c"
# kazoo's own pytest config allows 180 s per test; none of its tests legitimately needs
# more than about 30 s against a local server, so a hang costs at most this much.
KAZOO_TEST_TIMEOUT_S=120
# The whole kazoo run takes about 2.5 minutes against ZooKeeper; this only stops a runaway.
KAZOO_RUN_TIMEOUT_S=1800
# Each scripted client session normally finishes in a few seconds.
CLIENT_SCRIPT_TIMEOUT_S=300
# How long a server may take to start answering (a cold JVM on a loaded 2-core machine).
SERVER_START_TIMEOUT_S=90
# How long a server may take to exit after SIGTERM before it is killed.
SERVER_STOP_TIMEOUT_S=30

target_dir="${CARGO_TARGET_DIR:-$repo/target}"
ci_dir="${CORRAL_CI_DIR:-$target_dir/ci}"
against_zk="${CORRAL_TEST_AGAINST_ZK:-0}"
steps="${CORRAL_CI_STEPS:-deps,fmt,clippy,build,test,kazoo,clients,bench}"
venv="$ci_dir/venv"
run_id="$(date +%Y%m%d-%H%M%S)-$$"
run_dir="$ci_dir/runs/$run_id"
mkdir -p "$run_dir"

sudo_cmd=()
if [[ "$(id -u)" != 0 ]]; then
    sudo_cmd=(sudo)
fi

# ---- step bookkeeping ---------------------------------------------------------------------
step_names=()
step_results=()
step_seconds=()
server_pid=""
server_addr=""
server_log=""
step_pid=""
step_ok=1

wants() { [[ ",$steps," == *",$1,"* ]]; }

header() {
    echo
    echo "=================================================================================="
    echo "==== $1"
    echo "=================================================================================="
}

record() {
    step_names+=("$1")
    step_results+=("$2")
    step_seconds+=("$3")
}

# run_step NAME FUNCTION: runs FUNCTION in a background subshell so that `set -e` stays in
# force inside it, records PASS or FAIL in step_ok, and never fails itself. It must not be
# called from an `if`, `&&` or `||` context: bash then ignores -e in everything it runs,
# subshells included, and a failing command in the middle of a step would go unnoticed.
run_step() {
    local name="$1" fn="$2" start=$SECONDS rc=0
    header "$name"
    ("$fn") &
    step_pid=$!
    wait "$step_pid" || rc=$?
    step_pid=""
    if ((rc == 0)); then
        record "$name" PASS $((SECONDS - start))
        step_ok=1
    else
        echo "---- step '$name' FAILED (exit $rc)"
        record "$name" FAIL $((SECONDS - start))
        step_ok=0
    fi
}

skip_step() {
    header "$1"
    echo "skipped: $2"
    record "$1" "SKIP ($2)" 0
}

# ---- step: dependencies -------------------------------------------------------------------
deb_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

install_debian_packages() {
    local wanted=(zookeeper zookeeper-bin) missing=() pkg
    command -v java >/dev/null || wanted+=(default-jre-headless)
    python3 -m venv --help >/dev/null 2>&1 || wanted+=(python3-venv)
    for pkg in "${wanted[@]}"; do
        deb_installed "$pkg" || missing+=("$pkg")
    done
    if ((${#missing[@]} == 0)); then
        echo "Debian packages present: ${wanted[*]}"
        return 0
    fi
    echo "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Creates the venv and installs the pinned packages once per requirements-file content.
install_python_packages() {
    local requirements="$repo/tests/kazoo/requirements.txt"
    local stamp="$venv/.corral-requirements.sha256"
    local want
    want="$(sha256sum "$requirements" | cut -d' ' -f1)"
    if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        echo "Python venv up to date: $venv"
        return 0
    fi
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
    # See requirements.txt for why pyjks goes in without its dependencies.
    "$venv/bin/pip" install -q --disable-pip-version-check --no-deps pyjks==20.0.0
    echo "$want" >"$stamp"
    echo "Python venv ready: $venv"
}

# Downloads kazoo's source distribution (tests included) and unpacks a fresh copy.
fetch_kazoo_source() {
    local cache="$ci_dir/downloads"
    local sdist="$cache/kazoo-$KAZOO_VERSION.tar.gz"
    mkdir -p "$cache"
    if [[ ! -f "$sdist" ]]; then
        # --no-binary for kazoo only: its build helpers may still come as wheels.
        "$venv/bin/pip" download -q --disable-pip-version-check --no-binary kazoo --no-deps \
            -d "$cache" "kazoo==$KAZOO_VERSION"
    fi
    echo "$KAZOO_SDIST_SHA256  $sdist" | sha256sum --check --quiet
    rm -rf "$ci_dir/kazoo-src"
    mkdir -p "$ci_dir/kazoo-src"
    tar -xzf "$sdist" -C "$ci_dir/kazoo-src"
    echo "kazoo $KAZOO_VERSION source: $ci_dir/kazoo-src/kazoo-$KAZOO_VERSION"
}

step_deps() {
    install_debian_packages
    java -version 2>&1 | head -1
    install_python_packages
    fetch_kazoo_source
}

# ---- steps: cargo -------------------------------------------------------------------------
step_fmt() { cargo fmt --all -- --check; }
step_clippy() { cargo clippy --workspace --all-targets -- -D warnings; }
step_build() {
    cargo build --release --bin corral
    ls -l "$target_dir/release/corral"
}
step_test() {
    # The bench crate's tests start this server binary (built by the build step).
    export CORRAL_BIN="${CORRAL_BIN:-$target_dir/release/corral}"
    if cargo nextest --version >/dev/null 2>&1; then
        echo "using cargo-nextest (plus doc tests via cargo test --doc)"
        cargo nextest run --workspace --no-fail-fast
        cargo test --workspace --doc
    else
        echo "cargo-nextest not installed; using cargo test"
        cargo test --workspace --no-fail-fast
    fi
}

# The quick side-by-side comparison with Apache ZooKeeper; its script checks the output.
step_bench() {
    cargo build --release --bin corral --bin corral-bench
    mkdir -p "$run_dir/bench-data"
    CORRAL_BENCH_DIR="$run_dir/bench-data" bash bench/scripts/ci-quick.sh "$target_dir/release" \
        "$run_dir/bench"
}

# ---- the server under test ----------------------------------------------------------------
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Settings shared by Corral and ZooKeeper, in zoo.cfg format. Four-letter words must be
# open (kazoo reads the server version through `envi`) and TTL nodes enabled.
write_common_config() {
    cat >"$1" <<'EOF'
tickTime=2000
maxClientCnxns=0
4lw.commands.whitelist=*
extendedTypesEnabled=true
EOF
}

four_letter() {
    local host="${1%:*}" port="${1##*:}"
    # shellcheck disable=SC2016 # the inner script expands its own positional parameters.
    timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "%s" "$2" >&3 && cat <&3' \
        "$host" "$port" "$2" 2>/dev/null || true
}

start_zookeeper() {
    local dir="$run_dir/zookeeper" port
    mkdir -p "$dir/data"
    port="$(free_port)"
    write_common_config "$dir/zoo.cfg"
    printf 'dataDir=%s\nclientPort=%s\nadmin.enableServer=false\n' "$dir/data" "$port" >>"$dir/zoo.cfg"
    local classpath="/etc/zookeeper/conf:/usr/share/java/zookeeper.jar"
    classpath+=":/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar"
    server_log="$dir/server.log"
    java -Dzookeeper.root.logger=INFO,CONSOLE -cp "$classpath" \
        org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" >"$server_log" 2>&1 &
    server_pid=$!
    local deadline=$((SECONDS + SERVER_START_TIMEOUT_S))
    until [[ "$(four_letter "127.0.0.1:$port" ruok)" == imok ]]; do
        kill -0 "$server_pid" 2>/dev/null || { tail -20 "$server_log"; return 1; }
        ((SECONDS < deadline)) || { echo "ZooKeeper did not answer ruok"; return 1; }
        sleep 0.5
    done
    server_addr="127.0.0.1:$port"
}

start_corral() {
    local dir="$run_dir/corral" bin="${CORRAL_BIN:-$target_dir/release/corral}"
    [[ -x "$bin" ]] || { echo "no binary at $bin (did the build step run?)"; return 1; }
    mkdir -p "$dir/data"
    write_common_config "$dir/zoo.cfg"
    server_log="$dir/server.log"
    : >"$dir/stdout"
    "$bin" --port 0 --data-dir "$dir/data" --config "$dir/zoo.cfg" >"$dir/stdout" 2>"$server_log" &
    server_pid=$!
    local deadline=$((SECONDS + SERVER_START_TIMEOUT_S)) line=""
    until line="$(grep -m1 '^corral listening on ' "$dir/stdout")"; do
        kill -0 "$server_pid" 2>/dev/null || { tail -20 "$server_log"; return 1; }
        ((SECONDS < deadline)) || { echo "corral printed no 'listening' line"; return 1; }
        sleep 0.2
    done
    local addr="${line#corral listening on }" host port
    port="${addr##*:}"
    host="${addr%:*}"
    # A wildcard bind address is not something to connect to.
    case "$host" in 0.0.0.0 | "[::]" | "::") host=127.0.0.1 ;; esac
    server_addr="$host:$port"
}

# Runs in the main shell (not a step subshell) so the EXIT trap knows the server's pid.
start_server() {
    local name start=$SECONDS
    if [[ "$against_zk" == 1 ]]; then name="start Apache ZooKeeper"; else name="start corral"; fi
    header "$name"
    server_log=""
    if { [[ "$against_zk" == 1 ]] && start_zookeeper; } || { [[ "$against_zk" != 1 ]] && start_corral; }; then
        echo "server at $server_addr (pid $server_pid, log $server_log)"
        record "$name" PASS $((SECONDS - start))
        return 0
    fi
    record "$name" FAIL $((SECONDS - start))
    return 1
}

# Sends SIGTERM and waits; Corral's contract is a clean exit with status 0.
stop_server() {
    [[ -n "$server_pid" ]] || return 0
    local pid="$server_pid" rc=0 deadline=$((SECONDS + SERVER_STOP_TIMEOUT_S))
    server_pid=""
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            echo "server pid $pid ignored SIGTERM for ${SERVER_STOP_TIMEOUT_S}s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
            return 1
        fi
        sleep 0.2
    done
    wait "$pid" 2>/dev/null || rc=$?
    echo "server exited with status $rc"
    # The JVM reports 143 on SIGTERM; only Corral promises 0.
    [[ "$against_zk" == 1 || "$rc" == 0 ]]
}

on_exit() {
    # An interrupted run must not leave a step's cargo or pytest, or the server, behind.
    if [[ -n "$step_pid" ]]; then
        kill -TERM "$step_pid" 2>/dev/null || true
    fi
    if [[ -n "$server_pid" ]]; then
        kill -KILL "$server_pid" 2>/dev/null || true
    fi
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# ---- steps against the server -------------------------------------------------------------
step_kazoo() {
    local src="$ci_dir/kazoo-src/kazoo-$KAZOO_VERSION"
    [[ -d "$src" ]] || { echo "kazoo source missing at $src (run the deps step)"; return 1; }
    cp "$repo/tests/kazoo/conftest.py" "$src/conftest.py"
    cd "$src"
    local junit="$run_dir/kazoo-junit.xml" rc=0
    # shellcheck disable=SC2086 # KAZOO_PYTEST_ARGS is deliberately split into words.
    CORRAL_TEST_SERVER="$server_addr" CORRAL_TEST_SERVER_LOG="$server_log" \
        CORRAL_KAZOO_EXCLUDED="$repo/tests/kazoo/excluded.txt" \
        timeout -k 10 "$KAZOO_RUN_TIMEOUT_S" "$venv/bin/python" -m pytest kazoo/tests \
        -q -rfE --color=no -o log_cli=false -p no:cacheprovider \
        --timeout="$KAZOO_TEST_TIMEOUT_S" --junitxml="$junit" ${KAZOO_PYTEST_ARGS:-} \
        >"$run_dir/kazoo-pytest.log" 2>&1 || rc=$?
    # The full log is long (kazoo logs every reconnect); show the verdicts and pytest's
    # closing line.
    grep -E '^(FAILED|ERROR) ' "$run_dir/kazoo-pytest.log" || true
    grep -E '^=+ .* in [0-9.]+s' "$run_dir/kazoo-pytest.log" | tail -1 || true
    echo "full log: $run_dir/kazoo-pytest.log; junit: $junit"
    summarize_junit "$junit" | tee "$run_dir/kazoo-counts.txt"
    return "$rc"
}

# Prints "kazoo: P passed, F failed, E errors, S skipped (X of them excluded)" from junit XML.
summarize_junit() {
    [[ -f "$1" ]] || { echo "kazoo: no junit report (run aborted?)"; return 0; }
    python3 - "$1" <<'EOF'
import sys
import xml.etree.ElementTree as ET

cases = ET.parse(sys.argv[1]).getroot().iter("testcase")
counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0, "excluded": 0}
for case in cases:
    kinds = {child.tag for child in case}
    if "failure" in kinds:
        counts["failed"] += 1
    elif "error" in kinds:
        counts["errors"] += 1
    elif "skipped" in kinds:
        counts["skipped"] += 1
        message = case.find("skipped").get("message", "")
        if "corral-excluded:" in message:
            counts["excluded"] += 1
    else:
        counts["passed"] += 1
print(
    "kazoo: {passed} passed, {failed} failed, {errors} errors, {skipped} skipped "
    "({excluded} of them excluded by tests/kazoo/excluded.txt)".format(**counts)
)
EOF
}

step_clients() {
    local rc=0 script
    for script in zkcli.sh cli_mt.sh; do
        echo "---- tests/clients/$script"
        CLIENT_TRANSCRIPT_DIR="$run_dir/clients" \
            timeout -k 10 "$CLIENT_SCRIPT_TIMEOUT_S" bash "$repo/tests/clients/$script" "$server_addr" ||
            {
                echo "---- tests/clients/$script FAILED"
                rc=1
            }
    done
    return "$rc"
}

# ---- main ---------------------------------------------------------------------------------
main() {
    local started=$SECONDS build_ok=1
    echo "Corral CI: repo $repo, run dir $run_dir"
    echo "steps: $steps; server: $([[ "$against_zk" == 1 ]] && echo 'Apache ZooKeeper' || echo corral)"

    if wants deps; then
        run_step "dependencies (apt, venv, kazoo sdist)" step_deps
        if ((!step_ok)); then
            print_summary "$started"
        fi
    fi
    if wants fmt; then run_step "cargo fmt --check" step_fmt; fi
    if wants clippy; then run_step "cargo clippy -D warnings" step_clippy; fi
    if wants build; then
        run_step "cargo build --release --bin corral" step_build
        build_ok=$step_ok
    fi
    if wants test; then run_step "cargo tests" step_test; fi

    if wants kazoo || wants clients; then
        if [[ "$against_zk" != 1 && "$build_ok" == 0 ]]; then
            wants kazoo && skip_step "kazoo test suite" "the build failed"
            wants clients && skip_step "zkCli.sh and cli_mt sessions" "the build failed"
        elif start_server; then
            if wants kazoo; then run_step "kazoo $KAZOO_VERSION test suite" step_kazoo; fi
            if wants clients; then run_step "zkCli.sh and cli_mt sessions" step_clients; fi
            local stop_start=$SECONDS
            header "stop server (SIGTERM)"
            if stop_server; then
                record "stop server (SIGTERM)" PASS $((SECONDS - stop_start))
            else
                record "stop server (SIGTERM)" FAIL $((SECONDS - stop_start))
            fi
        else
            wants kazoo && skip_step "kazoo test suite" "the server did not start"
            wants clients && skip_step "zkCli.sh and cli_mt sessions" "the server did not start"
        fi
    fi
    if wants bench; then
        if [[ "$build_ok" == 0 ]]; then
            skip_step "corral-bench compare --quick" "the build failed"
        else
            run_step "corral-bench compare --quick" step_bench
        fi
    fi
    print_summary "$started"
}

print_summary() {
    local i failed=0
    header "summary ($((SECONDS - $1)) s total)"
    for i in "${!step_names[@]}"; do
        printf '  %-6s %5ss  %s\n' "${step_results[$i]%% *}" "${step_seconds[$i]}" "${step_names[$i]}"
        [[ "${step_results[$i]}" == FAIL ]] && failed=1
        [[ "${step_results[$i]}" == SKIP* ]] && echo "                ${step_results[$i]#SKIP }"
    done
    if [[ -f "$run_dir/kazoo-counts.txt" ]]; then
        echo "  $(cat "$run_dir/kazoo-counts.txt")"
    fi
    echo "  logs: $run_dir"
    if ((failed)); then
        echo "RESULT: FAILED"
        exit 1
    fi
    echo "RESULT: OK"
}

main "$@"
