"""Failover drills under load (4 workers × 8 Entra-like clients, verified from the store after):

- Redis Sentinel and Redis Cluster: the primary holding the tenant is killed; the replica is
  promoted and the workers find it by themselves. Meanwhile SCIM answers 503 with Retry-After,
  never a 500. With `wait_replicas=1` no acknowledged write is lost.
- Redis Sentinel with a lagging replica: the replica is frozen under load until the primary
  drops it, then the primary is killed, so the replica promoted lacks the last seconds of
  writes. Without `wait_replicas` the drill measures what was lost and asserts what is
  guaranteed: the replica holds a prefix of the primary's history, so every loss is a write
  acknowledged after the replica fell behind and nothing is half-written. With
  `wait_replicas=1` the writes of the freeze get 503 and nothing acknowledged is lost.
- PostgreSQL restarted mid-load: 503s, then recovery; nothing acknowledged lost or half-written.
- A stalled network (the proxy holds every byte but closes nothing): requests end with 503
  within the storage timeout (SCIM_STORAGE_TIMEOUT), no worker hangs, and the server recovers
  when bytes flow again.

Redis drills need `redis-server` (they skip without it, and fail instead when
SCIMFLASK_REQUIRE_SERVICES is set); the PostgreSQL restart needs the local cluster
(`pg_ctlcluster`) that SCIMFLASK_TEST_POSTGRES_URL names.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit

import pytest

from ..storage.redis_topology import ClusterTopology, SentinelTopology, missing_tools
from .failover import LaggingReplicaFailover, Outcome, PostgresRestart, PrimaryFailover, StorageStall, postgres_version
from .harness import proxy_for, run_load, through_proxy
from .lagging_replica import LossAudit

RECOVERY_SECONDS = 10.0  # after the disturbance ends, every request succeeds again within this
STORAGE_TIMEOUT = 2      # SCIM_STORAGE_TIMEOUT of the stall drill (seconds)
# The longest a request may wait on a stalled store. One storage call waits at most the timeout
# (on PostgreSQL also libpq's connect timeout, 2 s at least, when the pool replaces the stalled
# connection). A request can also wait in its worker's queue first: a gthread worker keeps the
# keep-alive connections it accepted, and here two of the four workers hold all nine (5 and 4,
# read from /proc during a run), so a request sent as the stall begins can queue behind four
# stalled ones for a whole timeout before its own call waits another (seen: 4.05 s with a 2 s
# timeout). The bound allows two timeouts, plus a second for the watchdog's poll and a loaded
# machine.
STALL_BOUND = {"redis": 2 * STORAGE_TIMEOUT + 1.0, "postgres": 2 * STORAGE_TIMEOUT + 2 + 1.0}
AFTER_DROP = 2.0         # seconds of writes the primary takes without the frozen replica


def _topology(kind):
    problem = missing_tools()
    if problem:
        pytest.skip(problem)
    topology = kind().start()
    try:
        yield topology
    finally:
        topology.stop()


@pytest.fixture(scope="module")
def sentinel():
    yield from _topology(SentinelTopology)


@pytest.fixture(scope="module")
def cluster():
    yield from _topology(ClusterTopology)


def _redis_url(topology, prefix: str, *, acknowledged: bool) -> str:
    acks = "&wait_replicas=1&wait_timeout_ms=1000" if acknowledged else ""
    return f"{topology.url}?prefix={prefix}{acks}"


def _failover(topology, tmp_path, report, failover, *, acknowledged: bool, label: str, seconds: float):
    """Run the load through `failover`; assert what holds whether or not writes are lost."""
    result = run_load(_redis_url(topology, failover.prefix, acknowledged=acknowledged), seconds=seconds,
                      disturb=failover, log_dir=tmp_path)
    lagging = isinstance(failover, LaggingReplicaFailover)
    outcome = Outcome(result.ledger.exchanges, failover.frozen_at if lagging else failover.killed_at,
                      failover.rejoined_at)
    recovery = outcome.recovery_seconds(failover.killed_at)
    audit = LossAudit(result, failover, topology.down_after_ms / 1000) if lagging else None
    report(f"[{label}] {result.figures.line()} 503={len(outcome.unavailable)} "
           f"promoted_after={failover.promoted_at - failover.killed_at:.1f}s "
           f"replica_back_after={failover.rejoined_at - failover.killed_at:.1f}s "
           f"recovery={recovery if recovery is None else round(recovery, 2)}s "
           + (audit.line() if audit else f"lag_at_kill={failover.lag_bytes}B")
           + f" worker_timeouts={result.worker_timeouts}")
    assert outcome.unexplained == [], "a failure other than a SCIM 503 with Retry-After"
    assert outcome.unavailable, "no request saw the failover: the drill proved nothing"
    assert recovery is not None, "no write succeeded after the primary died"
    assert outcome.failures_after(failover.rejoined_at + RECOVERY_SECONDS) == []
    assert result.figures.server_errors == len(outcome.unavailable)
    assert result.worker_timeouts == 0
    return result, audit


def _prefix() -> str:
    return f"drill-{uuid.uuid4().hex[:8]}:"


def _killed(topology, tmp_path, report, *, acknowledged: bool, label: str):
    topology.wait_healthy()
    failover = PrimaryFailover(topology, _prefix(), after=3.0)
    return _failover(topology, tmp_path, report, failover, acknowledged=acknowledged, label=label, seconds=16.0)[0]


def _lagging(topology, tmp_path, report, *, acknowledged: bool, label: str):
    topology.wait_healthy()
    failover = LaggingReplicaFailover(topology, _prefix(), after=3.0, after_drop=AFTER_DROP)
    result, audit = _failover(topology, tmp_path, report, failover, acknowledged=acknowledged, label=label,
                              seconds=13.0)
    return failover, result, audit


@pytest.mark.redis
def test_sentinel_failover_with_replica_acks_loses_nothing(sentinel, tmp_path, report):
    result = _killed(sentinel, tmp_path, report, acknowledged=True, label="sentinel wait_replicas=1")
    assert result.figures.lost == 0, result.figures.problems[:20]
    assert result.figures.problems == []


@pytest.mark.redis
def test_sentinel_failover_to_a_lagging_replica_loses_only_writes_acknowledged_after_it_fell_behind(
        sentinel, tmp_path, report):
    """Asynchronous replication: the writes the primary acknowledged after it dropped the
    frozen replica are gone. The figures say how many; what holds regardless: the replica's
    state is a prefix of the primary's history (it has everything from before the freeze, no
    user is half-written, uniqueness holds), and each loss the verifier finds is explained by a
    write acknowledged after the primary's stream passed what the replica received."""
    failover, result, audit = _lagging(sentinel, tmp_path, report, acknowledged=False,
                                       label="sentinel lagging replica, async")
    assert failover.received >= failover.offset_at_freeze, "the replica lacked writes from before the freeze"
    assert audit.lost, "no acknowledged write was lost: the drill proved nothing"
    assert audit.other == [], "a problem no lost write can cause"
    assert audit.unexplained == [], "a loss no write acknowledged after the replica fell behind explains"


@pytest.mark.redis
def test_sentinel_failover_to_a_lagging_replica_with_replica_acks_loses_nothing(sentinel, tmp_path, report):
    """With `wait_replicas=1` a write the frozen replica cannot acknowledge gets 503 (the
    primary may still have applied it: the failover undoes it, which a 503 allows)."""
    failover, result, audit = _lagging(sentinel, tmp_path, report, acknowledged=True,
                                       label="sentinel lagging replica, wait_replicas=1")
    frozen = [e for e in result.ledger.exchanges if e.is_write
              and failover.frozen_at <= e.started < failover.killed_at and e.ended < audit.old_primary_until]
    assert frozen, "no write was sent while the replica was frozen: the drill proved nothing"
    assert all(e.is_unavailable for e in frozen), [(e.method, e.path, e.status) for e in frozen if not e.is_unavailable]
    assert audit.lost == []
    assert result.figures.lost == 0, result.figures.problems[:20]
    assert result.figures.problems == []


@pytest.mark.redis
def test_cluster_failover_with_replica_acks_loses_nothing(cluster, tmp_path, report):
    result = _killed(cluster, tmp_path, report, acknowledged=True, label="cluster wait_replicas=1")
    assert result.figures.lost == 0, result.figures.problems[:20]
    assert result.figures.problems == []


@pytest.fixture
def postgres_url() -> str:
    url = os.environ.get("SCIMFLASK_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("SCIMFLASK_TEST_POSTGRES_URL is not set (CI sets it; see .ci/run)")
    if urlsplit(url).hostname not in ("127.0.0.1", "localhost") or postgres_version() is None:
        pytest.skip("the PostgreSQL restart drill needs the local cluster and pg_ctlcluster")
    return url


@pytest.mark.postgres
def test_postgres_restart_gives_503_then_recovers_losing_nothing(postgres_url, tmp_path, report):
    restart = PostgresRestart(postgres_version(), after=3.0)
    result = run_load(postgres_url, seconds=12.0, disturb=restart, log_dir=tmp_path)
    outcome = Outcome(result.ledger.exchanges, restart.began, restart.ended)
    recovery = outcome.recovery_seconds(restart.ended)
    report(f"{result.figures.line()} 503={len(outcome.unavailable)} "
           f"restart_took={restart.ended - restart.began:.1f}s recovery_after_restart="
           f"{recovery if recovery is None else round(recovery, 2)}s")
    assert outcome.unexplained == [], "a failure other than a SCIM 503 with Retry-After"
    assert outcome.unavailable, "no request saw the restart: the drill proved nothing"
    assert recovery is not None and recovery < RECOVERY_SECONDS
    assert outcome.failures_after(restart.ended + RECOVERY_SECONDS) == []
    assert result.figures.lost == 0, result.figures.problems[:20]
    assert result.figures.problems == []


@pytest.fixture
def proxy(storage_url):
    relay = proxy_for(storage_url)
    yield relay
    relay.stop()


def test_stalled_storage_answers_503_within_the_storage_timeout(storage_url, proxy, tmp_path, report):
    stall = StorageStall(proxy, after=3.0, duration=8.0)
    result = run_load(storage_url, seconds=16.0, served_uri=through_proxy(storage_url, proxy),
                      disturb=stall, log_dir=tmp_path, server_env={"SCIM_STORAGE_TIMEOUT": str(STORAGE_TIMEOUT)})
    outcome = Outcome(result.ledger.exchanges, stall.began, stall.ended)
    bound = STALL_BOUND["redis" if storage_url.startswith("redis") else "postgres"]
    longest = outcome.longest(stall.began - bound, stall.ended)
    recovery = outcome.recovery_seconds(stall.ended)
    report(f"{result.figures.line()} 503={len(outcome.unavailable)} longest_request_in_stall={longest:.2f}s "
           f"recovery={recovery if recovery is None else round(recovery, 2)}s "
           f"worker_timeouts={result.worker_timeouts}")
    assert outcome.unexplained == [], "a failure other than a SCIM 503 with Retry-After"
    assert outcome.unavailable, "no request saw the stall: the drill proved nothing"
    assert longest <= bound, f"a request waited {longest:.1f}s on a stalled store"
    assert result.worker_timeouts == 0, "gunicorn killed a hung worker"
    assert recovery is not None and recovery < RECOVERY_SECONDS
    assert outcome.failures_after(stall.ended + RECOVERY_SECONDS) == []
    assert result.figures.lost == 0, result.figures.problems[:20]
    assert result.figures.problems == []
