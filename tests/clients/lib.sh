# shellcheck shell=bash
# Shared helpers for the scripted command-line client sessions (zkcli.sh, cli_mt.sh).
#
# A session is one long-lived client process whose stdin is a named pipe and whose
# stdout and stderr go to one file. The script sends one command at a time and then
# waits until the lines it expects appear in the output written SINCE that command.
# Waiting for each answer before sending the next command keeps the transcript in a
# known order even for cli_mt, whose commands are asynchronous, and it pins every
# mismatch to the command that caused it.
#
# Source this file; it expects `set -euo pipefail` in the caller. Set CLIENT_TRANSCRIPT_DIR
# to keep each finished session's full output there.

# How long one command may take to produce its expected output. Generous because a
# JVM client on a loaded two-core CI machine can stall for seconds.
CLIENT_STEP_TIMEOUT_S="${CLIENT_STEP_TIMEOUT_S:-30}"
# How long a client may take to exit after `quit` before it is killed.
CLIENT_EXIT_TIMEOUT_S=20

SESSION_NAME=""
SESSION_PID=""
SESSION_FD=""
SESSION_OUT=""
SESSION_OFFSET=0
SESSION_LAST_CMD="(session start)"
CLIENT_WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/corral-clients.XXXXXX")"

# Kills a session left running by a failed check; installed as an EXIT trap.
client_cleanup() {
    if [[ -n "$SESSION_PID" ]] && kill -0 "$SESSION_PID" 2>/dev/null; then
        kill -- "-$SESSION_PID" 2>/dev/null || true
        sleep 0.5
        kill -9 -- "-$SESSION_PID" 2>/dev/null || true
    fi
    rm -rf "$CLIENT_WORK_DIR"
}
trap client_cleanup EXIT
# An outer `timeout` sends SIGTERM; exiting through the EXIT trap still reaps the client,
# which setsid has put outside the group the signal reaches.
trap 'exit 143' TERM INT

# Prints a mismatch with the output the offending command produced, then exits.
client_fail() {
    local message="$1"
    echo "MISMATCH [$SESSION_NAME] after command: $SESSION_LAST_CMD" >&2
    echo "  $message" >&2
    echo "  ---- output since that command ----" >&2
    tail -c +"$((SESSION_OFFSET + 1))" "$SESSION_OUT" | sed 's/^/  | /' >&2 || true
    echo "  ---- end of output ----" >&2
    if [[ -n "${CLIENT_TRANSCRIPT_DIR:-}" ]]; then
        mkdir -p "$CLIENT_TRANSCRIPT_DIR"
        cp "$SESSION_OUT" "$CLIENT_TRANSCRIPT_DIR/$SESSION_NAME.failed.txt" || true
    fi
    exit 1
}

# session_start NAME COMMAND [ARGS...]: starts a client reading commands from a pipe.
session_start() {
    SESSION_NAME="$1"
    shift
    local dir="$CLIENT_WORK_DIR/$SESSION_NAME"
    mkdir -p "$dir"
    mkfifo "$dir/in"
    SESSION_OUT="$dir/out"
    : >"$SESSION_OUT"
    # The client blocks opening the pipe until this shell opens its write end below.
    # setsid gives it its own process group, so cleanup also reaches the JVM that
    # zkCli.sh starts as a child instead of exec'ing.
    setsid "$@" <"$dir/in" >"$SESSION_OUT" 2>&1 &
    SESSION_PID=$!
    exec {SESSION_FD}>"$dir/in"
    SESSION_OFFSET=0
    SESSION_LAST_CMD="(session start)"
    echo "  [$SESSION_NAME] started (pid $SESSION_PID)"
}

# send COMMAND: writes one command line; later expectations look only at newer output.
send() {
    SESSION_LAST_CMD="$1"
    SESSION_OFFSET=$(stat -c %s "$SESSION_OUT")
    if ! kill -0 "$SESSION_PID" 2>/dev/null; then
        client_fail "the client process exited before this command was sent"
    fi
    printf '%s\n' "$1" >&"$SESSION_FD"
}

# Succeeds when the output since the last command has a line matching $2 (grep mode $1).
output_has_line() {
    tail -c +"$((SESSION_OFFSET + 1))" "$SESSION_OUT" | grep -q "$1" -- "$2"
}

# wait_for MODE PATTERN: polls until a line matches or the step timeout passes.
wait_for() {
    local mode="$1" pattern="$2"
    local deadline=$((SECONDS + CLIENT_STEP_TIMEOUT_S))
    until output_has_line "$mode" "$pattern"; do
        if ((SECONDS >= deadline)); then
            client_fail "expected a line $([[ $mode == -xF ]] && echo equal to || echo matching) '$pattern' within ${CLIENT_STEP_TIMEOUT_S}s"
        fi
        if ! kill -0 "$SESSION_PID" 2>/dev/null && ! output_has_line "$mode" "$pattern"; then
            client_fail "the client exited without printing '$pattern'"
        fi
        sleep 0.05
    done
}

# expect LINE...: every LINE must appear, exactly and as a whole line, after the last command.
expect() {
    local line
    for line in "$@"; do
        wait_for -xF "$line"
    done
}

# expect_re REGEX...: every extended REGEX must match a whole line after the last command.
expect_re() {
    local regex
    for regex in "$@"; do
        wait_for -xE "$regex"
    done
}

# session_end: sends the quit command $1 and waits for the client to exit on its own.
session_end() {
    send "$1"
    exec {SESSION_FD}>&-
    local deadline=$((SECONDS + CLIENT_EXIT_TIMEOUT_S))
    while kill -0 "$SESSION_PID" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            client_fail "the client did not exit within ${CLIENT_EXIT_TIMEOUT_S}s of '$1'"
        fi
        sleep 0.1
    done
    wait "$SESSION_PID" 2>/dev/null || true
    if [[ -n "${CLIENT_TRANSCRIPT_DIR:-}" ]]; then
        mkdir -p "$CLIENT_TRANSCRIPT_DIR"
        cp "$SESSION_OUT" "$CLIENT_TRANSCRIPT_DIR/$SESSION_NAME.txt"
    fi
    echo "  [$SESSION_NAME] finished"
    SESSION_PID=""
}

# unique_prefix NAME: a znode path no other run (or concurrent CI job) uses.
unique_prefix() {
    printf '/corral-ci-%s-%s-%s' "$1" "$$" "$(date +%s%N)"
}
