"""The write transactions of one process on a SQLite file queue on a lock of the storage's own
(`SqlStorage._taking_turns`), so a writer that meets another never reaches SQLite's busy wait.

Each test turns that wait off (busy_timeout=0): a writer reaching SQLite while another thread's
transaction is open would fail at once with "database is locked"."""

from __future__ import annotations

import threading

import pytest
import scimflask_sql.storage
from scimflask_sql.storage import SqlStorage
from sqlalchemy import event

from scimflask.model import RequestContext, Resource, utcnow
from scimflask.schema import default_catalog
from scimflask.storage import StorageUnavailable

CTX = RequestContext(tenant="turns")


@pytest.fixture
def storage(tmp_path):
    storage = SqlStorage(default_catalog(), f"sqlite:///{tmp_path / 'turns.db'}")
    engine = storage.engine

    @event.listens_for(engine, "connect")
    def _no_busy_wait(dbapi_connection, _record) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    engine.dispose()  # the pool's connections are made again, with the listener
    yield storage
    storage.close()


def _holding(storage: SqlStorage) -> tuple[threading.Thread, threading.Event]:
    """A thread inside a write transaction until the returned event is set."""
    inside, release = threading.Event(), threading.Event()

    def hold(connection) -> None:
        connection.exec_driver_sql("SELECT 1")
        inside.set()
        release.wait(10)

    holder = threading.Thread(target=storage._write, args=(hold,))
    holder.start()
    assert inside.wait(10)
    return holder, release


def test_a_writer_waits_for_the_open_write_transaction_then_writes(storage):
    holder, release = _holding(storage)
    outcome: list = []

    def create() -> None:
        now = utcnow()
        try:
            outcome.append(storage.create(CTX, Resource("User", "u1", {"userName": "ann"}, now, now)).id)
        except Exception as exc:  # what the test reports
            outcome.append(exc)

    writer = threading.Thread(target=create)
    writer.start()
    writer.join(0.2)
    assert writer.is_alive() and not outcome  # waiting on the lock, not failed by SQLite
    release.set()
    holder.join(10)
    writer.join(10)
    assert outcome == ["u1"]
    assert storage.get(CTX, "User", "u1").data["userName"] == "ann"


def test_reads_do_not_wait_for_writers(storage):
    holder, release = _holding(storage)
    try:
        assert storage.list_tenants() == []  # a read transaction while the write one is open
    finally:
        release.set()
        holder.join(10)


def test_a_writer_that_waits_too_long_gets_storage_unavailable(storage, monkeypatch):
    monkeypatch.setattr(scimflask_sql.storage, "SQLITE_BUSY_TIMEOUT", 0.1)
    holder, release = _holding(storage)
    try:
        with pytest.raises(StorageUnavailable, match="database is locked"):
            storage._write(lambda connection: connection.exec_driver_sql("SELECT 1"))
    finally:
        release.set()
        holder.join(10)
