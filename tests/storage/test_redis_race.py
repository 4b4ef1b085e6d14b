"""Several worker processes racing on one real Redis: the store, not a lock, keeps it right."""

from __future__ import annotations

import multiprocessing
import uuid
from datetime import datetime, timezone

import pytest

from scimflask.model import Change, Member, Query, RequestContext, Resource
from scimflask.storage import UniqueConflict

from .redis_helpers import drop_prefix, index_problems, needs_real_redis, real_storage, unique_prefix

pytestmark = [needs_real_redis, pytest.mark.redis, pytest.mark.slow]

CTX = RequestContext(tenant="race")
NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)
WORKERS = 4
MEMBERS_PER_WORKER = 25


def _worker(prefix: str, group_id: str, member_ids: list[str], barrier, results) -> None:
    storage = real_storage(prefix)
    barrier.wait()
    try:
        storage.create(CTX, Resource("User", str(uuid.uuid4()), {"userName": "Racer"}, NOW, NOW))
        outcome = "created"
    except UniqueConflict:
        outcome = "conflict"
    for start in range(0, len(member_ids), 5):
        storage.update(CTX, "Group", group_id,
                       Change(add_members=[Member(id) for id in member_ids[start:start + 5]]), now=NOW)
    results.put(outcome)
    storage.close()


def test_racing_workers_create_one_user_and_keep_every_member():
    prefix = unique_prefix()
    storage = real_storage(prefix)
    try:
        members = [storage.create(CTX, Resource("User", str(uuid.uuid4()), {"userName": f"m{i}"}, NOW, NOW)).id
                   for i in range(WORKERS * MEMBERS_PER_WORKER)]
        group = storage.create(CTX, Resource("Group", str(uuid.uuid4()), {"displayName": "race"}, NOW, NOW))
        context = multiprocessing.get_context("spawn")
        barrier, results = context.Barrier(WORKERS), context.Queue()
        workers = [context.Process(target=_worker, args=(
            prefix, group.id, members[i::WORKERS], barrier, results)) for i in range(WORKERS)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
            assert worker.exitcode == 0
        outcomes = sorted(results.get(timeout=5) for _ in workers)
        assert outcomes == ["conflict"] * (WORKERS - 1) + ["created"]
        racers = storage.query(CTX, "User", Query(filter=None, count=1000))
        assert sum(r.data["userName"].lower() == "racer" for r in racers.resources) == 1
        stored = storage.get(CTX, "Group", group.id)
        assert sorted(m.value for m in stored.members) == sorted(members)
        assert all(m.type == "User" for m in stored.members)
        assert stored.version == 1 + WORKERS * (MEMBERS_PER_WORKER // 5)
        assert index_problems(storage, CTX.tenant) == []
    finally:
        drop_prefix(storage.client, prefix)
        storage.close()
