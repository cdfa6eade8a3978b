#!/usr/bin/env bash
# Drives Apache ZooKeeper's C client shell (cli_mt, from Debian's zookeeper-bin) through a
# scripted session against HOST:PORT and checks its exact output. cli_mt prints every
# answer on stderr as "<path>: rc = <code>" (0 = ok, -101 no node, -102 no auth,
# -110 node exists, -111 not empty) and every watch event it receives.
#
# Usage: tests/clients/cli_mt.sh HOST:PORT
# Env:   CLI_MT (path to cli_mt), ZKCLI (zkCli.sh, used once to create an ACL-protected
#        node, which cli_mt itself cannot do), CLIENT_STEP_TIMEOUT_S.
set -euo pipefail

server="${1:?usage: cli_mt.sh HOST:PORT}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/clients/lib.sh
source "$here/lib.sh"

cli_mt="${CLI_MT:-/usr/lib/zookeeper/bin/cli_mt}"
zkcli="${ZKCLI:-/usr/share/zookeeper/bin/zkCli.sh}"
for tool in "$cli_mt" "$zkcli"; do
    [[ -x "$tool" ]] || {
        echo "cli_mt.sh: $tool not found (install zookeeper-bin or set CLI_MT / ZKCLI)" >&2
        exit 1
    }
done

p="$(unique_prefix climt)"
tab=$'\t'
echo "cli_mt ($cli_mt) against $server, prefix $p"

# cli_mt always stores the three bytes "new" as a created node's data and cannot attach
# ACLs, so the protected node comes from the Java shell first.
make_protected_node() {
    session_start climt-setup "$zkcli" -server "$server"
    expect "WatchedEvent state:SyncConnected type:None path:null"
    send "create $p-acl secret"
    expect "Created $p-acl"
    send "addauth digest alice:secret"
    send "setAcl $p-acl auth:alice:secret:cdrwa"
    send "getAcl $p-acl"
    expect ": cdrwa"
    session_end quit
}

# Creates, lists, reads and updates nodes, checking the watch events that reads leave.
basic_operations() {
    send "create $p"
    expect "[$p]: rc = 0" "${tab}name = $p"
    send "create $p"
    expect "[$p]: rc = -110"
    send "create +s $p/s-"
    expect "[$p/s-]: rc = 0" "${tab}name = $p/s-0000000000"
    send "create +e $p/e"
    expect "[$p/e]: rc = 0" "${tab}name = $p/e"
    send "create +es $p/es-"
    expect "${tab}name = $p/es-0000000002"
    send "create +t=60000 $p/ttl"
    expect "[$p/ttl]: rc = 0"
    send "create +c $p/cont"
    expect "[$p/cont]: rc = 0"

    # ls leaves a child watch on $p; its child order is the server's, so check each line.
    send "ls $p"
    expect "$p: rc = 0" "${tab}s-0000000000" "${tab}e" "${tab}es-0000000002" \
        "${tab}ttl" "${tab}cont"
    # get leaves a data watch on $p.
    send "get $p"
    expect "$p: rc = 0" " value_len = 3" "new" "${tab}version=0${tab}aversion=0" \
        "${tab}ephemeralOwner = 0"
    send "set $p hello"
    expect "$p: rc = 0 Stat:" "${tab}version=1${tab}aversion=0" \
        "Watcher CHANGED_EVENT state = CONNECTED_STATE for path $p"
    send "get $p"
    expect " value_len = 5" "hello" "${tab}version=1${tab}aversion=0"
    send "create $p/w"
    expect "[$p/w]: rc = 0" "Watcher CHILD_EVENT state = CONNECTED_STATE for path $p"
    send "get $p/e"
    expect "$p/e: rc = 0"
    expect_re "${tab}ephemeralOwner = [0-9a-f]*[1-9a-f][0-9a-f]*"
    send "get $p/missing"
    expect "$p/missing: rc = -101"
    send "sync $p"
    expect "[$p]: rc = 0"
}

# Checks digest authentication against the node made by make_protected_node.
acl_checks() {
    send "get $p-acl"
    expect "$p-acl: rc = -102"
    send "addauth digest alice:secret"
    send "get $p-acl"
    expect "$p-acl: rc = 0" " value_len = 6" "secret" "${tab}version=0${tab}aversion=1"
}

# Deletes everything, checking not-empty and deleted-node watch events.
cleanup_tree() {
    send "delete $p"
    expect "$p: rc = -111"
    # The earlier `get $p/e` left a data watch, so deleting e fires it.
    send "delete $p/e"
    expect "$p/e: rc = 0" "Watcher DELETED_EVENT state = CONNECTED_STATE for path $p/e"
    local child
    for child in s-0000000000 es-0000000002 ttl cont w; do
        send "delete $p/$child"
        expect "$p/$child: rc = 0"
    done
    send "delete $p"
    expect "$p: rc = 0" "Watcher DELETED_EVENT state = CONNECTED_STATE for path $p"
    send "delete $p-acl"
    expect "$p-acl: rc = 0" "Watcher DELETED_EVENT state = CONNECTED_STATE for path $p-acl"
    send "delete $p"
    expect "$p: rc = -101"
}

make_protected_node
session_start climt "$cli_mt" "$server"
expect "Watcher SESSION_EVENT state = CONNECTED_STATE"
expect_re "Got a new session id: 0x[0-9a-f]+"
basic_operations
acl_checks
cleanup_tree
session_end quit
echo "cli_mt.sh: all checks passed"
