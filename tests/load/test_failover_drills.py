"""Failover drills under load (4 workers × 8 Entra-like clients, verified from the store after):

- Redis Sentinel and Redis Cluster: the primary holding the tenant is killed; the replica is
  promoted and the workers find it by themselves. Meanwhile SCIM answers 503 with Retry-After,
  never a 500. With `wait_replicas=1` no acknowledged write is lost; without it the drill
  measures what was lost (it asserts only what is guaranteed: the replica holds a prefix of
  the primary's history, so nothing is half-written).
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
from .failover import Outcome, PostgresRestart, PrimaryFailover, StorageStall, postgres_version
from .harness import proxy_for, run_load, through_proxy

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
STRUCTURAL = ("half-present", "uniqueness", "index without resource", "group ")


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


def _failover(topology, tmp_path, report, *, acknowledged: bool, label: str):
    topology.wait_healthy()
    prefix = f"drill-{uuid.uuid4().hex[:8]}:"
    failover = PrimaryFailover(topology, prefix, after=3.0)
    result = run_load(_redis_url(topology, prefix, acknowledged=acknowledged), seconds=16.0,
                      disturb=failover, log_dir=tmp_path)
    outcome = Outcome(result.ledger.exchanges, failover.killed_at, failover.rejoined_at)
    recovery = outcome.recovery_seconds(failover.killed_at)
    report(f"[{label}] {result.figures.line()} 503={len(outcome.unavailable)} "
           f"promoted_after={failover.promoted_at - failover.killed_at:.1f}s "
           f"replica_back_after={failover.rejoined_at - failover.killed_at:.1f}s "
           f"recovery={recovery if recovery is None else round(recovery, 2)}s "
           f"lag_at_kill={failover.lag_bytes}B worker_timeouts={result.worker_timeouts}")
    assert outcome.unexplained == [], "a failure other than a SCIM 503 with Retry-After"
    assert outcome.unavailable, "no request saw the failover: the drill proved nothing"
    assert recovery is not None, "no write succeeded after the primary died"
    assert outcome.failures_after(failover.rejoined_at + RECOVERY_SECONDS) == []
    assert result.figures.server_errors == len(outcome.unavailable)
    assert result.worker_timeouts == 0
    return result


@pytest.mark.redis
def test_sentinel_failover_with_replica_acks_loses_nothing(sentinel, tmp_path, report):
    result = _failover(sentinel, tmp_path, report, acknowledged=True, label="sentinel wait_replicas=1")
    assert result.figures.lost == 0, result.figures.problems[:20]
    assert result.figures.problems == []


@pytest.mark.redis
def test_sentinel_failover_without_acks_loses_at_most_the_replication_lag(sentinel, tmp_path, report):
    """Asynchronous replication: acknowledged writes the replica had not received when the
    primary died are gone (the figures say how many). What holds regardless: every failure is
    a 503, the workers find the new primary, and the replica's state is a consistent prefix
    of the primary's, so nothing is half-written and uniqueness holds."""
    result = _failover(sentinel, tmp_path, report, acknowledged=False, label="sentinel async")
    structural = [p for p in result.figures.problems if p.startswith(STRUCTURAL)]
    assert structural == []


@pytest.mark.redis
def test_cluster_failover_with_replica_acks_loses_nothing(cluster, tmp_path, report):
    result = _failover(cluster, tmp_path, report, acknowledged=True, label="cluster wait_replicas=1")
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
