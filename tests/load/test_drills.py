"""Failure drills under load: the storage disappears and returns; a worker dies mid-request.

Either way the server may fail requests, but only the way the drill explains (a SCIM 503 while
the storage is away, a dropped connection for a request the killed worker held), it recovers
by itself, and the backend holds no lost or half-done write afterwards (verify.py).
"""

from __future__ import annotations

import pytest

from .drills import StorageOutage, WorkerKiller
from .harness import proxy_for, run_load, through_proxy

RECOVERY_SECONDS = 5.0   # after the storage returns, requests succeed again within this
GRACE_SECONDS = 0.5      # requests overlapping a cut's first instants may still finish


@pytest.fixture
def proxy(storage_url):
    relay = proxy_for(storage_url)
    yield relay
    relay.stop()


def failed(exchange) -> bool:
    return exchange.status is None or exchange.status >= 500


def test_storage_outage_gives_503_then_recovers_without_corruption(storage_url, proxy, tmp_path, report):
    outage = StorageOutage(proxy, after=2.0, duration=2.5)
    result = run_load(storage_url, seconds=8.0, served_uri=through_proxy(storage_url, proxy),
                      disturb=outage, log_dir=tmp_path)
    exchanges = result.ledger.exchanges
    report(result.figures.line() + f" 503_during_outage={sum(e.status == 503 for e in exchanges)}")

    fives = [e for e in exchanges if failed(e)]
    assert [(e.method, e.path, e.status, e.error) for e in fives if not (e.status == 503 and e.is_scim_error)] == []
    assert all(outage.cut_at <= e.ended and e.started <= outage.restored_at for e in fives), \
        "a 503 outside the outage"
    during = [e for e in exchanges if e.started >= outage.cut_at + GRACE_SECONDS and e.ended <= outage.restored_at]
    assert during, "no request was answered while the storage was away"
    assert {e.status for e in during} == {503}, "answered without its storage"

    after = sorted((e for e in exchanges if e.started >= outage.restored_at), key=lambda e: e.started)
    first_success = next((e for e in after if e.acknowledged or e.status in (404, 409)), None)
    assert first_success is not None, "nothing succeeded after the storage returned"
    assert first_success.ended - outage.restored_at < RECOVERY_SECONDS
    assert not any(failed(e) for e in after), "still failing after the storage returned"

    assert result.figures.lost == 0, result.figures.problems[:20]
    assert result.figures.problems == []


def test_worker_killed_mid_request_leaves_no_partial_write(storage_url, tmp_path, report):
    killer = WorkerKiller(after=1.5, every=1.2, kills=4)
    result = run_load(storage_url, seconds=7.0, disturb=killer, log_dir=tmp_path)
    exchanges = result.ledger.exchanges
    hit = [e for e in exchanges if e.status is None and any(e.started <= k.at <= e.ended for k in killer.done)]
    report(result.figures.line() + f" kills={len(killer.done)} requests_cut_by_kills={len(hit)}")

    assert killer.respawned, "gunicorn did not replace a killed worker"
    assert any(e.is_write for e in hit), "no write was in flight when a worker died: the drill proved nothing"
    # A failure is explained when its client's keep-alive connection spanned a kill: from the
    # end of the client's previous exchange (the connection idle since) to this one's end. A
    # fixed window after each kill misjudged a connection left idle longer on a loaded machine.
    idle_since = _idle_since(exchanges)
    unexplained = [e for e in exchanges if failed(e) and not any(
        idle_since[id(e)] - GRACE_SECONDS <= k.at <= e.ended for k in killer.done)]
    assert [(e.method, e.path, e.status, e.error) for e in unexplained] == []
    assert [e for e in exchanges if e.status is not None and e.status >= 500] == []
    last_kill = killer.done[-1].at
    assert any(e.acknowledged and e.started > last_kill for e in exchanges), "no success after the last kill"

    assert result.figures.lost == 0, result.figures.problems[:20]
    assert result.figures.problems == []


def _idle_since(exchanges) -> dict[int, float]:
    """For each exchange (by id()), when its client's previous exchange ended: each client is
    sequential and keeps one connection, idle from then until this request."""
    since: dict[int, float] = {}
    last_end: dict[int, float] = {}
    for exchange in sorted(exchanges, key=lambda e: e.started):
        since[id(exchange)] = last_end.get(exchange.client, exchange.started)
        last_end[exchange.client] = exchange.ended
    return since
