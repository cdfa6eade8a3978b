"""Run kazoo's own test suite against one already-running server.

kazoo's harness (kazoo/testing/harness.py) normally builds a three-node Java
ZooKeeper cluster through get_global_cluster(). tests/run-all.sh copies this file
to the root of the unpacked kazoo source tree, where pytest loads it before
kazoo/tests/conftest.py, and it replaces that cluster with ExternalCluster: one
server, started and stopped by run-all.sh, whose address comes from the
CORRAL_TEST_SERVER environment variable (host:port).

It also applies tests/kazoo/excluded.txt (path in CORRAL_KAZOO_EXCLUDED): every
listed test is reported as skipped with the reason written next to it.
"""

import fnmatch
import os
import pathlib

import pytest

# How many lines of the server's log to attach to a failing test's report.
SERVER_LOG_LINES_MAX = 40
SKIP_PREFIX = "corral-excluded: "


class ExternalServer:
    """One server the harness may connect to but never start, stop or restart."""

    def __init__(self, host, port, log_path):
        self.host = host
        self.client_port = port
        self.log_path = log_path

    @property
    def address(self):
        return "%s:%s" % (self.host, self.client_port)

    @property
    def secure_address(self):
        raise RuntimeError("TLS is not configured; exclude this test")

    @property
    def running(self):
        return True

    def run(self):
        """The server is already running; run-all.sh owns its lifetime."""

    def stop(self):
        # A silent no-op would make a test that expects an outage fail in a
        # confusing way; name the real cause instead.
        raise RuntimeError(
            "this harness cannot stop the external server; "
            "add the test to tests/kazoo/excluded.txt"
        )

    reset = stop

    def destroy(self):
        """Nothing to remove: the data directory belongs to run-all.sh."""

    def get_logs(self, num_lines=SERVER_LOG_LINES_MAX):
        if not self.log_path:
            return []
        try:
            with open(self.log_path, errors="replace") as log_file:
                return log_file.readlines()[-num_lines:]
        except OSError:
            return []


class ExternalCluster:
    """Enough of kazoo.testing.common.ZookeeperCluster for the harness and tests."""

    def __init__(self, server):
        self._servers = [server]

    def __getitem__(self, index):
        return self._servers[index]

    def __iter__(self):
        return iter(self._servers)

    def __len__(self):
        return len(self._servers)

    def start(self):
        """Already started by run-all.sh."""

    def stop(self):
        self._servers[0].stop()

    def terminate(self):
        """KazooTestCase.tearDownClass calls this after every class; keep serving."""

    def reset(self):
        self._servers[0].reset()

    def get_logs(self):
        return self._servers[0].get_logs()

    def get_ssl_client_configuration(self):
        raise RuntimeError("TLS is not configured; exclude this test")


def _external_cluster():
    address = os.environ.get("CORRAL_TEST_SERVER", "")
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise pytest.UsageError(
            "set CORRAL_TEST_SERVER=host:port (got %r)" % address
        )
    log_path = os.environ.get("CORRAL_TEST_SERVER_LOG")
    return ExternalCluster(ExternalServer(host, int(port), log_path))


def _read_exclusions():
    """Returns [(pattern, reason)] from the file in CORRAL_KAZOO_EXCLUDED."""
    path = os.environ.get("CORRAL_KAZOO_EXCLUDED")
    if not path:
        return []
    exclusions = []
    for number, raw in enumerate(pathlib.Path(path).read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pattern, sep, reason = line.partition(" ")
        if not sep or not reason.strip():
            raise pytest.UsageError(
                "%s:%d: expected '<test id pattern> <reason>'" % (path, number)
            )
        exclusions.append((pattern, reason.strip()))
    return exclusions


def pytest_configure(config):
    # Import here, after pytest has put the unpacked source tree on sys.path, so the
    # patched module is the one the tests import.
    import kazoo.testing.harness as harness

    cluster = _external_cluster()
    harness.get_global_cluster = lambda: cluster
    config._corral_exclusions = _read_exclusions()


def pytest_collection_modifyitems(config, items):
    exclusions = config._corral_exclusions
    used = set()
    for item in items:
        for pattern, reason in exclusions:
            if fnmatch.fnmatchcase(item.nodeid, pattern):
                item.add_marker(pytest.mark.skip(reason=SKIP_PREFIX + reason))
                used.add(pattern)
                break
    # A pattern that matches nothing means the list went stale (kazoo renamed a
    # test); say so loudly rather than silently running less than we think.
    for pattern, _ in exclusions:
        if pattern not in used and items:
            print("WARNING: excluded.txt pattern matched no test: %s" % pattern)
