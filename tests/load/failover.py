"""Failover drills: disturbances `run_load` applies to a distributed store while clients run.

- `PrimaryFailover`: SIGKILL the Redis primary that holds the server's tenant (Sentinel or
  Cluster), wait until the replica is promoted, then start the killed node again so that it
  rejoins as the new primary's replica (writes that wait for a replica can then succeed).
- `PostgresRestart`: `pg_ctlcluster ... restart` of the local PostgreSQL cluster.
- `StorageStall`: the TCP proxy in front of the store forwards nothing for a while but keeps
  every connection open (a hung server, a black-holed network).

Each records when it acted, so a test can tell the exchanges it caused from the others.
`Outcome` sums up what the clients saw around such a window.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from scimflask_redis import keys

from ..storage.redis_topology import HOST, Node, SentinelTopology, Topology, wait_until
from .drills import sleep_until
from .ledger import Exchange, Ledger
from .proxy import TcpProxy
from .server import GunicornServer

PROMOTION_TIMEOUT = 30.0  # seconds the topology may take to promote a replica
REJOIN_TIMEOUT = 30.0     # seconds the killed node may take to serve as a replica again
RESTART_TIMEOUT = 60.0    # seconds pg_ctlcluster may take
DELIVERY_SECONDS = 1.0    # after a stall: the proxy delivers what it held, the store runs it


@dataclass
class PrimaryFailover:
    """Kill the primary holding the server's tenant `after` seconds into the run."""

    topology: Topology
    prefix: str
    after: float
    rejoin: bool = True
    killed_at: float = 0.0
    promoted_at: float = 0.0
    rejoined_at: float = 0.0
    lag_bytes: int = 0  # replication stream the replica had not received when the primary died

    def __call__(self, server: GunicornServer, ledger: Ledger, started: float) -> None:
        key = keys.tenant_base(self.prefix, server.tenant)
        sleep_until(started + self.after)
        primary = self.topology.primary_for(key)
        replica = self._replica(primary)
        sent = int(primary.info("replication")["master_repl_offset"])
        primary.kill()
        self.killed_at = time.monotonic()
        received = int(replica.info("replication").get("slave_repl_offset", sent)) if replica else sent
        self.lag_bytes = max(0, sent - received)
        new = self.topology.wait_promoted(primary, key, timeout=PROMOTION_TIMEOUT)
        self.promoted_at = time.monotonic()
        if self.rejoin:
            if isinstance(self.topology, SentinelTopology):
                _start_as_replica_of(primary, new)
            else:
                primary.start()  # its nodes.conf makes it a replica of the node that took its slots
            wait_until(lambda: _has_online_replica(new), "the killed node to replicate again", REJOIN_TIMEOUT)
            self.rejoined_at = time.monotonic()

    def _replica(self, primary: Node) -> Node | None:
        for node in self.topology.nodes:
            if node is primary or not node.alive or node.sentinel:
                continue
            info = node.info("replication")
            if info.get("role") == "slave" and int(info.get("master_port", 0)) == primary.port:
                return node
        return None


def _start_as_replica_of(node: Node, primary: Node) -> None:
    """Start a killed Sentinel node as a replica of the new primary at once, as an orchestrator
    would (left alone, the Sentinels convert it on their next 10 s INFO round)."""
    lines = [line for line in node.config.read_text().splitlines() if not line.startswith("replicaof ")]
    node.config.write_text("\n".join([*lines, f"replicaof {HOST} {primary.port}"]) + "\n")
    node.start()


def _has_online_replica(primary: Node) -> bool:
    info = primary.info("replication")
    return any(isinstance(value, dict) and value.get("state") == "online"
               for name, value in info.items() if name.startswith("slave"))


def postgres_version() -> str | None:
    """The one local PostgreSQL cluster version pg_ctlcluster manages, if there is one."""
    versions = sorted(p.name for p in Path("/etc/postgresql").glob("*")) if Path("/etc/postgresql").is_dir() else []
    return versions[-1] if versions and shutil.which("pg_ctlcluster") else None


@dataclass
class PostgresRestart:
    """Restart the local PostgreSQL server (fast mode: sessions are terminated) once."""

    version: str
    after: float
    began: float = 0.0
    ended: float = 0.0

    def __call__(self, server: GunicornServer, ledger: Ledger, started: float) -> None:
        sleep_until(started + self.after)
        self.began = time.monotonic()
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", self.version, "main", "restart",
                        "--mode", "fast"], check=True, timeout=RESTART_TIMEOUT, capture_output=True)
        self.ended = time.monotonic()


@dataclass
class StorageStall:
    """Stall `proxy` `after` seconds into the run, for `duration` seconds."""

    proxy: TcpProxy
    after: float
    duration: float
    began: float = 0.0
    ended: float = 0.0

    def __call__(self, server: GunicornServer, ledger: Ledger, started: float) -> None:
        sleep_until(started + self.after)
        ledger.settled.clear()
        self.began = time.monotonic()
        self.proxy.stall()
        sleep_until(self.began + self.duration)
        self.proxy.restore()
        self.ended = time.monotonic()
        time.sleep(DELIVERY_SECONDS)
        ledger.settled.set()


@dataclass
class Outcome:
    """What the clients saw around a disturbance that began at `began` and ended at `ended`."""

    exchanges: list[Exchange]
    began: float
    ended: float

    @property
    def unexplained(self) -> list[tuple]:
        """Failures that are not a SCIM 503 with Retry-After: none may exist."""
        return [(e.method, e.path, e.status, e.error) for e in self.exchanges
                if (e.status is None or e.status >= 500) and not e.is_unavailable]

    @property
    def unavailable(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.is_unavailable]

    def first_success_after(self, moment: float) -> Exchange | None:
        """The first write acknowledged that was sent after `moment`."""
        done = [e for e in self.exchanges if e.started >= moment and e.acknowledged and e.is_write]
        return min(done, key=lambda e: e.ended, default=None)

    def recovery_seconds(self, moment: float) -> float | None:
        """From `moment` until a write sent after it was acknowledged."""
        first = self.first_success_after(moment)
        return None if first is None else first.ended - moment

    def failures_after(self, moment: float) -> list[Exchange]:
        return [e for e in self.exchanges if e.started >= moment and (e.status is None or e.status >= 500)]

    def longest(self, start: float, end: float) -> float:
        """The longest exchange sent in [start, end]."""
        return max((e.ended - e.started for e in self.exchanges if start <= e.started <= end), default=0.0)
