"""What the SQL backend promises about the operating capabilities beyond the contract: one
transaction per tenant deletion, the log's key, swept counter windows, and counters that stay
exact across worker processes (the upsert, not a Python lock, counts)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import event, inspect, select

from scimflask.model import RequestContext, Resource

from .forked_counts import counts_from_forked_processes
from .sql_helpers import SERVERS, drop, new_storage, unique_prefix

NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)
CTX = RequestContext(tenant="ops")


@pytest.fixture
def sqlite_storage():
    storage = new_storage("sqlite://")
    yield storage
    storage.close()


def test_delete_tenant_is_one_transaction(sqlite_storage):
    sqlite_storage.create(CTX, Resource("User", "u-1", {"userName": "a"}, NOW, NOW))
    begins: list[object] = []

    def record(connection) -> None:
        begins.append(connection)

    event.listen(sqlite_storage.engine, "begin", record)
    try:
        assert sqlite_storage.delete_tenant(CTX.tenant) is False
    finally:
        event.remove(sqlite_storage.engine, "begin", record)
    assert len(begins) == 1


def test_log_is_keyed_by_tenant_then_id(sqlite_storage):
    sqlite_storage.ping()
    key = inspect(sqlite_storage.engine).get_pk_constraint(sqlite_storage.tables.log.name)
    assert key["constrained_columns"] == ["tenant", "id"]


def test_first_hit_of_a_window_sweeps_windows_that_ended_before_it(sqlite_storage):
    counters = sqlite_storage.tables.counters
    sqlite_storage.hit_counter("ops:idle", 60, NOW)
    sqlite_storage.hit_counter("ops:busy", 60, NOW + timedelta(seconds=60))  # previous window of idle: kept
    sqlite_storage.hit_counter("ops:busy", 60, NOW + timedelta(seconds=61))

    def rows() -> set[tuple[str, int]]:
        with sqlite_storage.engine.connect() as connection:
            return set(connection.execute(select(counters.c.key, counters.c.count)).all())

    assert rows() == {("ops:idle", 1), ("ops:busy", 2)}
    sqlite_storage.hit_counter("ops:busy", 60, NOW + timedelta(seconds=120))
    assert rows() == {("ops:busy", 2), ("ops:busy", 1)}  # idle's window ended before: swept


# -- several processes --------------------------------------------------------------------
PROCESSES, HITS = 4, 40
_storage = None  # built in the parent, inherited by the forked children


def _hammer(key: str, barrier, results) -> None:
    barrier.wait()
    results.put([_storage.hit_counter(key, 60, NOW) for _ in range(HITS)])


@pytest.mark.parametrize("uri", SERVERS)
def test_processes_hitting_one_counter_each_get_their_own_count(uri):
    global _storage
    _storage = new_storage(uri, table_prefix=unique_prefix())
    try:
        _storage.ping()  # the parent's engine exists before the fork
        key = f"{CTX.tenant}:{uuid.uuid4()}"
        counts = counts_from_forked_processes(_hammer, (key,), PROCESSES)
        assert counts == list(range(1, PROCESSES * HITS + 1))
    finally:
        drop(_storage)
        _storage = None
