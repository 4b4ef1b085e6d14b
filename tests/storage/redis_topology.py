"""Real Redis topologies on 127.0.0.1, built from the installed `redis-server` and `redis-cli`.

- `SentinelTopology`: a primary, one replica and three Sentinels (quorum 2, a primary is
  declared down after `down_after_ms`), storage URL `redis+sentinel://.../mymaster`;
- `ClusterTopology`: a Redis Cluster of three primaries with one replica each, storage URL
  `redis+cluster://...`.

Each node runs in a temporary directory of its own, without persistence, on a free port.
`start()` returns only once the topology is healthy (or raises `TopologyError` after a bounded
wait); `stop()` ends every process it started (also at interpreter exit, and with the parent
process on Linux). The kill / freeze methods are for failover and acknowledgement drills.

By hand (prints the storage URL, stops on Ctrl-C)::

    python -m tests.storage.redis_topology sentinel
    python -m tests.storage.redis_topology cluster
"""

from __future__ import annotations

import atexit
import ctypes
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis

HOST = "127.0.0.1"
SERVICE = "mymaster"
START_TIMEOUT = 30.0  # seconds a topology may take to become healthy
STOP_TIMEOUT = 5.0  # seconds a node may take to exit on SIGTERM before it is killed
CLUSTER_BUS_OFFSET = 10000  # a Cluster node also listens on port + 10000
# Replicas sync at once instead of waiting for more replicas to share one transfer.
_NODE_LINES = ["save \"\"", "appendonly no", "repl-diskless-sync yes", "repl-diskless-sync-delay 0",
               "enable-debug-command local"]


class TopologyError(RuntimeError):
    """A topology did not start, or did not reach the state waited for, in time."""


def missing_tools() -> str | None:
    """Why topologies cannot run here, or None when they can."""
    for tool in ("redis-server", "redis-cli"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


def wait_until(check: Callable[[], object], what: str, timeout: float = START_TIMEOUT) -> object:
    """Poll `check` until it returns something true; Redis errors count as 'not yet'."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except (redis.RedisError, OSError) as exc:
            last = exc
        time.sleep(0.05)
    raise TopologyError(f"timed out after {timeout:g}s waiting for {what} (last error: {last!r})")


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port(with_bus: bool = False) -> int:
    """A port free on 127.0.0.1 now (and port + 10000 too when `with_bus`)."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind((HOST, 0))
            port = probe.getsockname()[1]
        if not with_bus or (port + CLUSTER_BUS_OFFSET < 65536 and _port_free(port + CLUSTER_BUS_OFFSET)):
            return port
    raise TopologyError("no free port pair for a cluster node")


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """On Linux, the node gets SIGKILL when the process that started it dies."""
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Node:
    """One redis-server (or Sentinel) process with its own directory and config file."""

    def __init__(self, root: Path, name: str, lines: list[str], *, port: int, sentinel: bool = False) -> None:
        self.name, self.port, self.sentinel = name, port, sentinel
        self.dir = root / name
        self.dir.mkdir()
        self.config = self.dir / "redis.conf"
        self.config.write_text("\n".join([
            f"port {port}", f"bind {HOST}", "daemonize no", f"dir {self.dir}",
            f"logfile {self.dir / 'redis.log'}", *lines]) + "\n")
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [shutil.which("redis-server") or "redis-server", str(self.config)]
        if self.sentinel:
            command.append("--sentinel")
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL,
                                        preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        wait_until(lambda: self.client().ping(), f"{self.name} on port {self.port} to answer", START_TIMEOUT)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def client(self, **options) -> redis.Redis:
        """A short-lived client of this node (close it, or use it in a `with`)."""
        return redis.Redis(host=HOST, port=self.port, socket_timeout=2, socket_connect_timeout=1, **options)

    def call(self, *command):
        with self.client(decode_responses=True) as client:
            return client.execute_command(*command)

    def info(self, section: str) -> dict:
        with self.client(decode_responses=True) as client:
            return client.info(section)

    def kill(self) -> None:
        """SIGKILL: the node vanishes as a crashed machine does."""
        if self.alive:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT)

    def freeze(self) -> None:
        """SIGSTOP: the node holds its connections but answers nothing (a stalled machine)."""
        if self.alive:
            self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.alive:
            self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if not self.alive:
            return
        self.thaw()
        self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()


class Topology:
    """Nodes started together in one temporary directory and stopped together."""

    kind = ""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=f"scimflask-redis-{self.kind}-"))
        self.nodes: list[Node] = []
        atexit.register(self.stop)

    def _node(self, name: str, lines: list[str], *, sentinel: bool = False, bus: bool = False) -> Node:
        node = Node(self.root, name, lines, port=free_port(with_bus=bus), sentinel=sentinel)
        self.nodes.append(node)
        return node

    def start(self):
        """Start every node and wait until the topology is healthy; returns the topology."""
        if self.nodes:
            raise TopologyError("this topology was started already")
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        raise NotImplementedError

    @property
    def url(self) -> str:
        raise NotImplementedError

    def node_on(self, port: int) -> Node:
        return next(node for node in self.nodes if node.port == port)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


class SentinelTopology(Topology):
    """A primary, one replica, three Sentinels watching them (quorum 2)."""

    kind = "sentinel"

    def __init__(self, down_after_ms: int = 1000, failover_timeout_ms: int = 3000) -> None:
        super().__init__()
        self.down_after_ms, self.failover_timeout_ms = down_after_ms, failover_timeout_ms
        self.data: list[Node] = []
        self.sentinels: list[Node] = []

    def _start(self) -> None:
        primary = self._node("primary", _NODE_LINES)
        primary.start()
        replica = self._node("replica", [*_NODE_LINES, f"replicaof {HOST} {primary.port}"])
        replica.start()
        self.data = [primary, replica]
        for i in range(3):
            sentinel = self._node(f"sentinel{i}", [
                f"sentinel monitor {SERVICE} {HOST} {primary.port} 2",
                f"sentinel down-after-milliseconds {SERVICE} {self.down_after_ms}",
                f"sentinel failover-timeout {SERVICE} {self.failover_timeout_ms}",
                f"sentinel parallel-syncs {SERVICE} 1"], sentinel=True)
            sentinel.start()
            self.sentinels.append(sentinel)
        self.wait_healthy()

    @property
    def url(self) -> str:
        return "redis+sentinel://" + ",".join(f"{HOST}:{s.port}" for s in self.sentinels) + f"/{SERVICE}"

    def _reported_primary(self, sentinel: Node) -> int:
        return int(sentinel.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE)[1])

    def primary(self) -> Node:
        """The node every live Sentinel names as the primary."""
        ports = {self._reported_primary(s) for s in self.sentinels if s.alive}
        if len(ports) != 1:
            raise TopologyError(f"the Sentinels disagree on the primary: {sorted(ports)}")
        return self.node_on(ports.pop())

    def primary_for(self, key: str) -> Node:
        """The primary (it holds every key)."""
        return self.primary()

    def replicas(self) -> list[Node]:
        primary = self.primary()
        return [node for node in self.data if node is not primary]

    def _healthy(self) -> bool:
        primary = self.primary()
        if not primary.alive or primary.info("replication")["role"] != "master":
            return False
        for sentinel in self.sentinels:
            replicas = sentinel.call("SENTINEL", "REPLICAS", SERVICE)  # one dict per replica
            if not any(r["master-link-status"] == "ok" and "down" not in r["flags"] for r in replicas):
                return False
            if len(sentinel.call("SENTINEL", "SENTINELS", SERVICE)) != len(self.sentinels) - 1:
                return False
        return all(node.info("replication").get("master_link_status") == "up" for node in self.replicas())

    def wait_healthy(self, timeout: float = START_TIMEOUT) -> None:
        """Every Sentinel names one live primary, sees a synced replica and the other Sentinels."""
        wait_until(self._healthy, "the Sentinels to see a primary with a synced replica", timeout)

    def kill_primary(self, key: str | None = None) -> Node:
        """SIGKILL the current primary (it holds every key, `key` included); the Sentinels then
        promote the replica."""
        primary = self.primary()
        primary.kill()
        return primary

    def wait_promoted(self, old: Node, key: str | None = None, timeout: float = START_TIMEOUT) -> Node:
        """Wait until every live Sentinel names a new primary that acts as one; return it."""
        def promoted():
            ports = {self._reported_primary(s) for s in self.sentinels if s.alive}
            if len(ports) == 1 and old.port not in ports:
                node = self.node_on(ports.pop())
                return node if node.info("replication")["role"] == "master" else None
            return None

        return wait_until(promoted, f"a primary other than port {old.port}", timeout)


class ClusterTopology(Topology):
    """A Redis Cluster: three primaries, one replica each, every slot covered."""

    kind = "cluster"

    def __init__(self, node_timeout_ms: int = 2000) -> None:
        super().__init__()
        self.node_timeout_ms = node_timeout_ms

    def _start(self) -> None:
        for i in range(6):
            self._node(f"node{i}", [*_NODE_LINES, "cluster-enabled yes", "cluster-config-file nodes.conf",
                                    f"cluster-node-timeout {self.node_timeout_ms}"], bus=True).start()
        create = [shutil.which("redis-cli") or "redis-cli", "--cluster", "create",
                  *(f"{HOST}:{node.port}" for node in self.nodes), "--cluster-replicas", "1", "--cluster-yes"]
        try:
            done = subprocess.run(create, capture_output=True, text=True, timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            raise TopologyError("redis-cli --cluster create did not finish") from exc
        if done.returncode != 0:
            raise TopologyError(f"redis-cli --cluster create failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")
        self.wait_healthy()

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"{HOST}:{node.port}" for node in self.nodes if node.alive)

    def _healthy(self) -> bool:
        for node in self.nodes:
            if not node.alive:
                continue
            info = node.call("CLUSTER", "INFO")
            if "cluster_state:ok" not in info or "cluster_slots_ok:16384" not in info:
                return False
        primaries = self.primaries()
        return len(primaries) == 3 and all(self.replica_of(p) is not None for p in primaries)

    def wait_healthy(self, timeout: float = START_TIMEOUT) -> None:
        """Every live node says `cluster_state:ok` with all 16384 slots served, and each of the
        three primaries has a replica whose link is up."""
        wait_until(self._healthy, "the cluster to cover every slot with three replicated primaries", timeout)

    def primaries(self) -> list[Node]:
        return [node for node in self.nodes if node.alive and node.info("replication")["role"] == "master"]

    def replica_of(self, primary: Node) -> Node | None:
        """A live replica of `primary` with its replication link up, if any."""
        for node in self.nodes:
            if node is primary or not node.alive:
                continue
            info = node.info("replication")
            if (info["role"] == "slave" and int(info["master_port"]) == primary.port
                    and info.get("master_link_status") == "up"):
                return node
        return None

    def primary_for(self, key: str) -> Node:
        """The primary serving `key`'s hash slot, as the live nodes' slot map says."""
        live = next(node for node in self.nodes if node.alive)
        slot = live.call("CLUSTER", "KEYSLOT", key)
        for start, end, owner, *_ in live.call("CLUSTER", "SLOTS"):
            if start <= slot <= end:
                return self.node_on(int(owner[1]))
        raise TopologyError(f"no node serves slot {slot}")

    def kill_primary(self, key: str | None = None) -> Node:
        """SIGKILL the primary serving `key` (the first primary without one); the Cluster then
        promotes its replica once the others mark it failed (after `node_timeout_ms`)."""
        primary = self.primary_for(key) if key is not None else self.primaries()[0]
        primary.kill()
        return primary

    def wait_promoted(self, old: Node, key: str, timeout: float = START_TIMEOUT) -> Node:
        """Wait until a live node other than `old` serves `key` as a primary; return it."""
        def promoted():
            node = self.primary_for(key)
            return node if node is not old and node.info("replication")["role"] == "master" else None

        return wait_until(promoted, f"a primary other than port {old.port} for {key!r}", timeout)


TOPOLOGIES = {"sentinel": SentinelTopology, "cluster": ClusterTopology}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in TOPOLOGIES:
        print(f"usage: python -m tests.storage.redis_topology {'|'.join(TOPOLOGIES)}", file=sys.stderr)
        return 2
    problem = missing_tools()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    topology = TOPOLOGIES[argv[0]]()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with topology:
        print(topology.url, flush=True)
        print(f"nodes: {' '.join(f'{n.name}={n.port}' for n in topology.nodes)}; Ctrl-C stops them",
              file=sys.stderr, flush=True)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
