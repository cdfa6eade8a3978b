#!/usr/bin/env bash
# Drives Apache ZooKeeper's Java shell (zkCli.sh) through two scripted sessions against
# HOST:PORT and checks every answer against the exact text ZooKeeper 3.8 prints.
#
# Usage: tests/clients/zkcli.sh HOST:PORT
# Env:   ZKCLI (path to zkCli.sh), CLIENT_STEP_TIMEOUT_S (per-command wait, seconds).
# Exits non-zero with a MISMATCH report naming the command whose output differed.
set -euo pipefail

server="${1:?usage: zkcli.sh HOST:PORT}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/clients/lib.sh
source "$here/lib.sh"

zkcli="${ZKCLI:-}"
if [[ -z "$zkcli" ]]; then
    for candidate in /usr/share/zookeeper/bin/zkCli.sh /usr/lib/zookeeper/bin/zkCli.sh; do
        if [[ -x "$candidate" ]]; then
            zkcli="$candidate"
            break
        fi
    done
fi
[[ -n "$zkcli" && -x "$zkcli" ]] || {
    echo "zkcli.sh: zkCli.sh not found (install zookeeper-bin or set ZKCLI)" >&2
    exit 1
}

p="$(unique_prefix zkcli)"
# The digest ZooKeeper stores for alice:secret, base64(sha1("alice:secret")).
alice_digest="aYXlLOpEooaV1cRAvUL1fp9Qt7E="
echo "zkCli.sh ($zkcli) against $server, prefix $p"

# Session A: the owner. Creates every kind of node, checks versions and error texts,
# and protects one node with a digest ACL.
session_a() {
    session_start zkcli-owner "$zkcli" -server "$server"
    expect "WatchedEvent state:SyncConnected type:None path:null"

    send "create $p hello"
    expect "Created $p"
    send "create $p again"
    expect "Node already exists: $p"
    send "create $p/missing/child x"
    expect "Node does not exist: $p/missing/child"

    # Sequential names take the parent's cversion, so the counter skips numbers used
    # by other children: s-0, s-1, then e takes cversion 2, then es- gets 3.
    send "create -s $p/s- one"
    expect "Created $p/s-0000000000"
    send "create -s $p/s- two"
    expect "Created $p/s-0000000001"
    send "create -e $p/e eph"
    expect "Created $p/e"
    send "create -s -e $p/es- z"
    expect "Created $p/es-0000000003"

    send "ls $p"
    expect "[e, es-0000000003, s-0000000000, s-0000000001]"
    send "get $p"
    expect "hello"
    # `set` prints nothing; the stat that follows proves it landed.
    send "set $p world"
    send "stat $p"
    expect "dataVersion = 1" "dataLength = 5" "cversion = 4" "numChildren = 4" \
        "aclVersion = 0" "ephemeralOwner = 0x0"
    send "get $p"
    expect "world"
    send "stat $p/e"
    expect_re "ephemeralOwner = 0x[0-9a-f]*[1-9a-f][0-9a-f]*"
    expect "dataLength = 3"

    send "set -v 0 $p stale"
    expect "version No is not valid : $p"
    send "delete $p"
    expect "Node not empty: $p"
    send "delete -v 5 $p/s-0000000000"
    expect "version No is not valid : $p/s-0000000000"
    send "delete $p/s-0000000000"
    send "ls $p"
    expect "[e, es-0000000003, s-0000000001]"
    send "get $p/s-0000000000"
    expect "Node does not exist: $p/s-0000000000"
    send "sync $p"
    expect "Sync is OK"

    # TTL and container nodes: clients see ephemeralOwner 0 for both.
    send "create -t 100000 $p/ttl t"
    expect "Created $p/ttl"
    send "create -c $p/cont"
    expect "Created $p/cont"
    # A node created without data holds null, not an empty array: ZooKeeper returns a
    # buffer of length -1 and zkCli prints "null" (dataLength is still 0).
    send "get $p/cont"
    expect "null"
    send "stat $p/ttl"
    expect "ephemeralOwner = 0x0" "dataLength = 1" "dataVersion = 0"

    # ACLs: world-readable-only node, then a node only alice may touch.
    send "create $p/ro data world:anyone:r"
    expect "Created $p/ro"
    send "set $p/ro changed"
    expect "Insufficient permission : $p/ro"
    send "getAcl $p/ro"
    expect "'world,'anyone" ": r"
    send "create $p/acl secret-data"
    expect "Created $p/acl"
    send "addauth digest alice:secret"
    send "setAcl $p/acl auth:alice:secret:cdrwa"
    send "getAcl $p/acl"
    expect "'digest,'alice:$alice_digest" ": cdrwa"
    send "stat $p/acl"
    expect "aclVersion = 1"
    send "get $p/acl"
    expect "secret-data"

    session_end quit
}

# Session B: a stranger. Sees that A's ephemerals died with A's session, is refused by the
# ACL until it authenticates as alice, then removes the whole subtree.
session_b() {
    session_start zkcli-stranger "$zkcli" -server "$server"
    expect "WatchedEvent state:SyncConnected type:None path:null"

    send "ls $p"
    expect "[acl, cont, ro, s-0000000001, ttl]"
    send "get $p/acl"
    expect "Insufficient permission : $p/acl"
    send "addauth digest alice:wrong"
    send "get $p/acl"
    expect "Insufficient permission : $p/acl"
    send "addauth digest alice:secret"
    send "get $p/acl"
    expect "secret-data"

    send "deleteall $p"
    send "ls $p"
    expect "Node does not exist: $p"
    send "stat $p"
    expect "Node does not exist: $p"

    session_end quit
}

session_a
session_b
echo "zkcli.sh: all checks passed"
