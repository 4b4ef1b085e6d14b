"""A SQLite file's pool hands a thread back the connection it returned last.

A SQLite connection in WAL mode drops its whole page cache when another connection has
committed since its last transaction. With the pool's first-in, first-out order, a thread
working beside a second one (the provisioning log's writer) took turns between the two
connections, and each of its requests began with an empty cache."""

from __future__ import annotations

import threading

from scimflask_sql.storage import SqlStorage
from sqlalchemy import event

from scimflask.model import RequestContext, Resource, utcnow
from scimflask.ops.provisioning_log import new_entry_id
from scimflask.schema import default_catalog
from scimflask.storage.capabilities import LogEntry, LogQuery

CTX = RequestContext(tenant="pool")


def _entry(number: int) -> LogEntry:
    now = utcnow()
    return LogEntry(id=new_entry_id(now, number), tenant=CTX.tenant, time=now, method="PATCH",
                    path=f"/Users/u{number}", status=200, outcome="success", token_id=None,
                    resource_type="User", resource_id=f"u{number}", changed=("title",), detail=None,
                    scim_type=None, user_name=f"user{number}")


def test_a_thread_keeps_to_one_connection_once_the_logs_writer_made_a_second(tmp_path):
    storage = SqlStorage(default_catalog(), f"sqlite:///{tmp_path / 'pool.db'}")
    used: list[int] = []
    main = threading.get_ident()

    @event.listens_for(storage.engine, "checkout")
    def _checked_out(dbapi_connection, _record, _proxy) -> None:
        if threading.get_ident() == main:
            used.append(id(dbapi_connection))

    writing, release = threading.Event(), threading.Event()

    def writer() -> None:
        # Holds a second connection while the main thread works, as the log's writer does
        # when it stores a batch during requests, then stores the batch.
        with storage.engine.connect():
            writing.set()
            release.wait(10)
        storage.append_logs([_entry(n) for n in range(20)])

    thread = threading.Thread(target=writer)
    thread.start()
    assert writing.wait(10)
    now = utcnow()
    storage.create(CTX, Resource("User", "u0", {"userName": "ann"}, now, now))
    release.set()
    thread.join(10)
    assert storage.engine.pool.checkedin() == 2  # two connections now, both idle
    used.clear()
    for number in range(1, 6):
        storage.create(CTX, Resource("User", f"u{number}", {"userName": f"user{number}"}, now, now))
    assert len(storage.query_log(CTX.tenant, LogQuery(limit=50))) == 20
    assert len(used) >= 6
    assert len(set(used)) == 1, f"the main thread took turns between {len(set(used))} connections"
    storage.close()
