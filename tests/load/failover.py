"""Failover drills: disturbances `run_load` applies to a distributed store while clients run.

- `PrimaryFailover`: SIGKILL the Redis primary that holds the server's tenant (Sentinel or
  Cluster), wait until the replica is promoted, then start the killed node again so that it
  rejoins as the new primary's replica (writes that wait for a replica can then succeed).
- `LaggingReplicaFailover`: the same on Sentinel, but the replica is frozen (SIGSTOP) first
  until the primary drops it and goes on without it, so the replica promoted lacks the last
  seconds of writes.
- `PostgresRestart`: the local PostgreSQL cluster stopped (`pg_ctlcluster`), kept down a moment
  and started again.
- `StorageStall`: the TCP proxy in front of the store forwards nothing for a while but keeps
  every connection open (a hung server, a black-holed network).

Each records when it acted, so a test can tell the exchanges it caused from the others.
`Outcome` sums up what the clients saw around such a window.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from scimflask_redis import keys

from ..storage.redis_topology import HOST, Node, SentinelTopology, Topology, TopologyError, wait_until
from .drills import sleep_until
from .ledger import Exchange, Ledger
from .proxy import TcpProxy
from .server import GunicornServer

PROMOTION_TIMEOUT = 30.0  # seconds the topology may take to promote a replica
REJOIN_TIMEOUT = 30.0     # seconds the killed node may take to serve as a replica again
RESTART_TIMEOUT = 60.0    # seconds pg_ctlcluster may take
DELIVERY_SECONDS = 1.0    # after a stall: the proxy delivers what it held, the store runs it
PAUSE_MS = 5000           # the longest writes stay paused (a kill or CLIENT UNPAUSE ends it sooner)
STOP_TIMEOUT = 2.0        # seconds a frozen node may take to stop
SAMPLE_SECONDS = 0.05     # how often the primary's offset is read during a freeze
REPLICA_TIMEOUT = 1       # repl-timeout (s) after which a primary drops a replica that does not ack
DROP_TIMEOUT = 4.0        # seconds a frozen replica may take to be dropped (1-3 s seen)


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
    sent: int = 0      # the primary's replication offset when it died
    received: int = 0  # the offset the replica had when it was promoted: it never got the rest

    @property
    def lag_bytes(self) -> int:
        """Replication stream the promoted replica never received, so lost with the primary."""
        return max(0, self.sent - self.received)

    def __call__(self, server: GunicornServer, ledger: Ledger, started: float) -> None:
        key = keys.tenant_base(self.prefix, server.tenant)
        sleep_until(started + self.after)
        primary = self.topology.primary_for(key)
        self.kill(primary)
        self.rejoin_as_replica(primary, self.await_promotion(primary, key))

    def kill(self, primary: Node) -> None:
        """SIGKILL `primary`, its offset read first with writes paused so that it is exact."""
        primary.call("CLIENT", "PAUSE", PAUSE_MS, "WRITE")
        self.sent = int(primary.info("replication")["master_repl_offset"])
        primary.kill()
        self.killed_at = time.monotonic()

    def await_promotion(self, primary: Node, key: str) -> Node:
        """Wait until a replica replaces `primary`; return it. A promoted replica keeps the
        offset it had reached as `second_repl_offset - 1`; bytes it had not read from its
        socket by then are discarded, so this is what survived."""
        new = self.topology.wait_promoted(primary, key, timeout=PROMOTION_TIMEOUT)
        self.promoted_at = time.monotonic()
        self.received = int(new.info("replication")["second_repl_offset"]) - 1
        return new

    def rejoin_as_replica(self, primary: Node, new: Node) -> None:
        if not self.rejoin:
            return
        if isinstance(self.topology, SentinelTopology):
            _start_as_replica_of(primary, new)
        else:
            primary.start()  # its nodes.conf makes it a replica of the node that took its slots
        wait_until(lambda: _has_online_replica(new), "the killed node to replicate again", REJOIN_TIMEOUT)
        self.rejoined_at = time.monotonic()

    def _replica(self, primary: Node) -> Node:
        for node in self.topology.nodes:
            if node is primary or not node.alive or node.sentinel:
                continue
            info = node.info("replication")
            if info.get("role") == "slave" and int(info.get("master_port", 0)) == primary.port:
                return node
        raise TopologyError(f"no replica of port {primary.port}")


@dataclass
class Sample:
    """The primary's replication offset, read between `before` and `after`."""

    before: float
    after: float
    offset: int


@dataclass
class LaggingReplicaFailover(PrimaryFailover):
    """Freeze the primary's replica `after` seconds into the run; once the primary has dropped
    it and taken `after_drop` seconds of writes without it, kill the primary and thaw the
    replica: Sentinel promotes a replica that fell behind.

    On loopback a replica never lags, so a plain failover loses nothing and shows nothing.
    Freezing alone loses nothing either: the kernel buffers the stream for the stopped replica
    (here up to the primary's 4 MB send buffer, about 5 s of the load) and delivers it when the
    replica runs again, primary killed or not (a 3 s freeze: 2.7 MB buffered, nothing lost).
    What loses writes is a primary that goes on without its replica: Redis drops a replica that
    stopped acknowledging after `repl-timeout` (60 s by default, 1 s here, checked once a
    second), and the writes it acknowledges from then on reach no replica.

    From freeze to promotion `ledger.settled` is cleared: a read then may show a write the
    failover will undo, so it cannot settle what a write did.
    """

    after_drop: float = 2.0
    frozen_at: float = 0.0
    dropped_at: float = 0.0  # when a sample first found the replica dropped (0: it never was)
    thawed_at: float = 0.0
    offsets: list[Sample] = field(default_factory=list)  # the primary's, from freeze to kill

    def __call__(self, server: GunicornServer, ledger: Ledger, started: float) -> None:
        key = keys.tenant_base(self.prefix, server.tenant)
        sleep_until(started + self.after)
        primary = self.topology.primary_for(key)
        replica = self._replica(primary)
        timeout = primary.call("CONFIG", "GET", "repl-timeout")["repl-timeout"]
        ledger.settled.clear()
        try:
            primary.call("CONFIG", "SET", "repl-timeout", REPLICA_TIMEOUT)
            self._freeze_in_sync(primary, replica)
            self._sample(primary)
            self.kill(primary)
            self.offsets.append(Sample(self.killed_at, self.killed_at, self.sent))
        finally:
            replica.thaw()
            self.thawed_at = time.monotonic()
            if primary.alive:  # the drill failed before the kill: leave the topology as it was
                primary.call("CONFIG", "SET", "repl-timeout", timeout)
        try:
            new = self.await_promotion(primary, key)
        finally:
            ledger.settled.set()
        self.rejoin_as_replica(primary, new)

    def _freeze_in_sync(self, primary: Node, replica: Node) -> None:
        """Stop the replica once it has applied everything the primary has, writes paused
        meanwhile (a few milliseconds), so that whatever it lacks was written after `frozen_at`."""
        primary.call("CLIENT", "PAUSE", PAUSE_MS, "WRITE")
        try:
            synced = int(primary.info("replication")["master_repl_offset"])
            wait_until(lambda: int(replica.info("replication")["slave_repl_offset"]) >= synced,
                       "the replica to catch up", STOP_TIMEOUT)
            replica.freeze()
            wait_until(lambda: _stopped(replica), "the replica to stop", STOP_TIMEOUT)
            self.frozen_at = time.monotonic()
            self.offsets.append(Sample(self.frozen_at, self.frozen_at, synced))
        finally:
            primary.call("CLIENT", "UNPAUSE")

    def _sample(self, primary: Node) -> None:
        """Record the primary's replication offset until it has gone `after_drop` seconds
        without the replica (DROP_TIMEOUT at most for the drop)."""
        give_up = self.frozen_at + DROP_TIMEOUT
        with primary.client(decode_responses=True) as client:
            while True:
                before = time.monotonic()
                info = client.info("replication")
                after = time.monotonic()
                self.offsets.append(Sample(before, after, int(info["master_repl_offset"])))
                if not self.dropped_at and int(info["connected_slaves"]) == 0:
                    self.dropped_at = after
                until = self.dropped_at + self.after_drop if self.dropped_at else give_up
                if after >= until:
                    return
                time.sleep(min(SAMPLE_SECONDS, until - after))

    @property
    def offset_at_freeze(self) -> int:
        return self.offsets[0].offset if self.offsets else 0

    @property
    def kept_until(self) -> float:
        """A write acknowledged before this moment reached the promoted replica: the last
        sample taken before the primary's stream passed what the replica received (-inf if the
        replica lacked even what it had applied before the freeze, which cannot be)."""
        kept = [s.before for s in self.offsets if s.offset <= self.received]
        return max(kept, default=float("-inf"))

    @property
    def lost_from(self) -> float:
        """A write sent after this moment and acknowledged by the killed primary is lost: the
        first sample that found the primary's stream at or past what the replica received."""
        return min((s.after for s in self.offsets if s.offset >= self.received), default=self.killed_at)

    @property
    def loss_window(self) -> float:
        """Seconds before the kill whose replication stream the promoted replica never got (to
        within one sample): what the primary took then, acknowledged or not, is gone."""
        return self.killed_at - self.kept_until if self.lag_bytes else 0.0


def _stopped(node: Node) -> bool:
    """The node's process is stopped (state T in /proc/PID/stat)."""
    stat = Path(f"/proc/{node.process.pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] == "T"


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
    """Stop the local PostgreSQL server (fast mode: sessions are terminated), keep it down for
    `down` seconds, then start it. A bare `restart` can be quick enough that no request meets
    the server down, and the drill then shows nothing."""

    version: str
    after: float
    down: float = 1.5
    began: float = 0.0
    ended: float = 0.0

    def __call__(self, server: GunicornServer, ledger: Ledger, started: float) -> None:
        sleep_until(started + self.after)
        self.began = time.monotonic()
        self._cluster("stop")
        try:
            sleep_until(self.began + self.down)
        finally:  # the server runs again for the tests after this one, whatever happened
            self._cluster("start")
        self.ended = time.monotonic()

    def _cluster(self, action: str) -> None:
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", self.version, "main", action,
                        *(["--mode", "fast"] if action == "stop" else [])],
                       check=True, timeout=RESTART_TIMEOUT, capture_output=True)


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
