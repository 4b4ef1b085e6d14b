"""Several PROCESSES (as gunicorn workers are) racing on one PostgreSQL or MariaDB database.

The storage object is built and used in the parent before forking, so the children also
prove that each process gets its own engine and never shares the parent's sockets.
"""

from __future__ import annotations

import multiprocessing
import uuid
from datetime import datetime, timezone

import pytest

from scimflask.model import Change, Member, Query, RequestContext, Resource
from scimflask.storage import UniqueConflict
from scimflask.testing.contract_support import filter_of

from .sql_helpers import SERVERS, drop, new_storage, unique_prefix

CTX = RequestContext(tenant="race")
PROCESSES = 6
USERS_EACH = 5

_storage = None  # set in the parent, inherited by the forked children


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _worker(index: int, group_id: str, barrier, results) -> None:
    storage = _storage
    barrier.wait()
    try:
        name = "Racer" if index % 2 else "RACER"
        storage.create(CTX, Resource("User", str(uuid.uuid4()), {"userName": name}, _now(), _now()))
        outcome = "created"
    except UniqueConflict as exc:
        outcome = f"conflict:{exc.attribute}"
    except Exception as exc:  # reported to the parent, which fails the test
        outcome = f"error:{exc!r}"
    mine = []
    for n in range(USERS_EACH):
        user = storage.create(CTX, Resource("User", str(uuid.uuid4()), {"userName": f"w{index}-{n}"}, _now(), _now()))
        mine.append(user.id)
    barrier.wait()
    for id in mine:  # every process patches the same group at the same time
        storage.update(CTX, "Group", group_id, Change(add_members=[Member(id)]), now=_now())
    results.put((outcome, mine))


@pytest.mark.parametrize("uri", SERVERS)
def test_processes_racing_on_one_database(uri):
    global _storage
    _storage = new_storage(uri, table_prefix=unique_prefix())
    try:
        group = _storage.create(CTX, Resource("Group", str(uuid.uuid4()), {"displayName": "Everyone"},
                                              _now(), _now()))
        context = multiprocessing.get_context("fork")
        barrier, results = context.Barrier(PROCESSES), context.Queue()
        workers = [context.Process(target=_worker, args=(i, group.id, barrier, results))
                   for i in range(PROCESSES)]
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join(timeout=30)
            assert worker.exitcode == 0

        assert sorted(o for o, _ in outcomes) == ["conflict:userName"] * (PROCESSES - 1) + ["created"]
        racers = _storage.query(CTX, "User", Query(filter=filter_of(_storage, "User", 'userName eq "racer"')))
        assert racers.total == 1
        added = {id for _, mine in outcomes for id in mine}
        fetched = _storage.get(CTX, "Group", group.id)
        assert {m.value for m in fetched.members} == added
        assert len(added) == PROCESSES * USERS_EACH
        assert fetched.version == 1 + PROCESSES * USERS_EACH
    finally:
        drop(_storage)
        _storage = None
