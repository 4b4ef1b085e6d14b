"""Contract: concurrent writers, as several workers produce them, lose nothing and never
break uniqueness."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from ..model import Change, Member, Query
from ..storage import UniqueConflict
from .contract_support import TENANT, filter_of, group, timestamp, user

THREADS = 8


def _run_together(count: int, work) -> list:
    """Run `work(i)` in `count` threads released at once; return results or exceptions."""
    barrier = threading.Barrier(count)

    def task(i: int):
        barrier.wait()
        try:
            return work(i)
        except Exception as exc:  # collected and asserted on by the caller
            return exc

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(task, range(count)))


class ConcurrencyContract:
    def test_concurrent_member_additions_all_land(self, scim_storage):
        users = [scim_storage.create(TENANT, user(f"worker-{i}")) for i in range(THREADS)]
        staff = scim_storage.create(TENANT, group("Staff"))

        def add(i: int):
            return scim_storage.update(TENANT, "Group", staff.id,
                                       Change(add_members=[Member(users[i].id)]), now=timestamp())

        results = _run_together(THREADS, add)
        assert [r for r in results if isinstance(r, Exception)] == []
        fetched = scim_storage.get(TENANT, "Group", staff.id)
        assert {m.value for m in fetched.members} == {u.id for u in users}
        assert fetched.version == 1 + THREADS

    def test_racing_creates_of_one_user_name_give_one_winner(self, scim_storage):
        results = _run_together(THREADS, lambda i: scim_storage.create(TENANT, user("Racer" if i % 2 else "RACER")))
        winners = [r for r in results if not isinstance(r, Exception)]
        losers = [r for r in results if isinstance(r, Exception)]
        assert len(winners) == 1
        assert all(isinstance(r, UniqueConflict) and r.attribute == "userName" for r in losers)
        page = scim_storage.query(TENANT, "User", Query(filter=filter_of(scim_storage, "User", 'userName eq "racer"')))
        assert [r.id for r in page.resources] == [winners[0].id]
