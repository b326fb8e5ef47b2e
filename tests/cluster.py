"""A real Redis Cluster of three primaries on this machine, for the cluster tests.

``LocalCluster`` starts three ``redis-server --cluster-enabled yes`` on free
ports in a directory of its own, joins them with ``redis-cli --cluster
create`` (no replicas: nothing can fail over) and waits until every node
reports ``cluster_state:ok``. A node can be stopped and started again: it is
stopped with ``SHUTDOWN SAVE`` (an RDB snapshot, although the servers run with
``--save ''``) and comes back from its directory with its slots (the cluster
config file) and its keys (the snapshot).

``cluster-require-full-coverage no``: while one primary is down the others
keep serving their slots, which is what the restart test is about.

The ``redis_cluster`` fixture (tests/conftest.py) is session-scoped: the
cluster starts once, on first use, and the ``redis-cluster`` row of
``STORES`` runs on it. Without redis-server or redis-cli those tests are
skipped, and fail under CI (``CI=true``), like the other services.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

_READY_SECONDS = 60  # for a node, or the cluster, to be ready


def _free_ports(count: int) -> list[int]:
    """``count`` distinct free ports (each held until all are found)."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def _wait_for(ready: Callable[[], bool], what: str, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + _READY_SECONDS
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"The local Redis Cluster did not start: {what}; the server exited.")
        try:
            if ready():
                return
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.05)  # polling a real server for readiness, not waiting for time to pass
    raise RuntimeError(f"The local Redis Cluster did not get ready: {what} (see redis.log in its directory).")


class LocalCluster:
    """Three cluster-enabled redis-servers joined into one cluster (16384 slots over three primaries)."""

    def __init__(self, directory: Path, server: str, cli: str, size: int = 3) -> None:
        self.directory, self.server, self.cli = directory, server, cli
        # A node also listens on a cluster bus port, by default its port +
        # 10000, which may be taken or past 65535: each gets a free one too.
        ports = _free_ports(2 * size)
        self.ports, self.bus_ports = ports[:size], dict(zip(ports[:size], ports[size:], strict=True))
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        """A URL of one node: the cluster client finds the others from it."""
        return f"redis://127.0.0.1:{self.ports[0]}"

    def node(self, port: int) -> redis.Redis:
        """A plain client of one node, which gives up at once (the caller closes it)."""
        return redis.Redis(port=port, socket_timeout=10, retry=Retry(NoBackoff(), 0))

    def _answers(self, port: int) -> bool:
        client = self.node(port)
        try:
            return bool(client.ping())
        finally:
            client.close()

    def _spawn(self, port: int) -> None:
        home = self.directory / str(port)
        home.mkdir(exist_ok=True)
        options = {
            "port": port,
            "bind": "127.0.0.1",
            "dir": home,
            "cluster-enabled": "yes",
            "cluster-port": self.bus_ports[port],
            "cluster-config-file": f"nodes-{port}.conf",
            "cluster-require-full-coverage": "no",
            "save": "",
            "appendonly": "no",
            "logfile": "redis.log",
        }
        arguments = [part for name, value in options.items() for part in (f"--{name}", str(value))]
        self.processes[port] = subprocess.Popen(
            [self.server, *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def _info(self, port: int) -> dict[str, str]:
        client = self.node(port)
        try:
            text = client.execute_command("CLUSTER INFO")
        finally:
            client.close()
        if isinstance(text, bytes):
            text = text.decode()
        if isinstance(text, dict):
            return {key: str(value) for key, value in text.items()}
        return dict(line.split(":", 1) for line in str(text).split() if ":" in line)

    def _ready(self, port: int) -> bool:
        info = self._info(port)
        return (
            info.get("cluster_state") == "ok"
            and info.get("cluster_slots_ok") == "16384"
            and info.get("cluster_known_nodes") == str(len(self.ports))
        )

    def start(self) -> None:
        for port in self.ports:
            self._spawn(port)
        for port in self.ports:
            _wait_for(
                lambda port=port: self._answers(port),
                f"127.0.0.1:{port} did not answer PING",
                self.processes[port],
            )
        addresses = [f"127.0.0.1:{port}" for port in self.ports]
        created = subprocess.run(
            [self.cli, "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if created.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed:\n{created.stdout}\n{created.stderr}")
        for port in self.ports:
            _wait_for(lambda port=port: self._ready(port), f"127.0.0.1:{port} is not in cluster_state:ok")

    def stop_node(self, port: int) -> None:
        """A planned stop: the node writes its keys to disk and exits (no failover: no replicas)."""
        client = self.node(port)
        try:
            client.shutdown(save=True)
        except redis.ConnectionError:
            pass  # the server closes the connection as it exits
        finally:
            client.close()
        self.processes[port].wait(timeout=30)

    def start_node(self, port: int) -> None:
        """Start a stopped node again from its directory: its slots and keys come back."""
        self._spawn(port)
        _wait_for(lambda: self._ready(port), f"restarted 127.0.0.1:{port} is not in cluster_state:ok")
        for other in self.ports:
            _wait_for(lambda other=other: self._ready(other), f"127.0.0.1:{other} did not see the node back")

    def close(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)


@contextmanager
def running_cluster(directory: Path) -> Iterator[LocalCluster]:
    """A started cluster in ``directory``, killed on the way out."""
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    assert server is not None and cli is not None, "services.UP['redis-cluster'] checks for both"
    cluster = LocalCluster(directory, server, cli)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()
