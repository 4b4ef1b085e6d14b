"""The memory backend's hot paths: the `emails.value` index and the cached sort order."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from scimflask_memory import MemoryStorage

from scimflask.model import Change, Query, RequestContext, Resource
from scimflask.schema import default_catalog
from scimflask.testing.contract_support import filter_of, sort_of

CTX = RequestContext(tenant="hot")
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def storage():
    storage = MemoryStorage(default_catalog())
    for n in range(12):
        when = T0 + timedelta(seconds=n)
        storage.create(CTX, Resource("User", f"u{n:02d}", {
            "userName": f"user{n}", "emails": [{"value": f"User{n}@Work.example", "type": "work"},
                                               {"value": f"user{n}@home.example", "type": "home"}]},
            when, when))
    return storage


@pytest.mark.parametrize("text, expected", [
    ('emails[type eq "work"].value eq "user3@work.EXAMPLE"', ["u03"]),
    ('emails[type eq "work" and value eq "USER3@work.example"]', ["u03"]),
    ('emails.value eq "user4@home.example"', ["u04"]),
    ('emails[type eq "work" and value eq "user4@home.example"]', []),   # value of another element
    ('emails.value eq "user4@home.example" or userName eq "user5"', ["u04", "u05"]),
])
def test_email_lookups_are_answered_from_the_index(storage, text, expected):
    node = filter_of(storage, "User", text)
    tenant = storage._tenants[CTX.tenant]
    candidates = tenant.candidates("User", node)
    assert candidates is not None and len(candidates) <= 2  # no scan
    assert [r.id for r in storage.query(CTX, "User", Query(filter=node)).resources] == expected


def test_the_email_index_follows_updates_and_deletes(storage):
    find = filter_of(storage, "User", 'emails.value eq "new@x.example"')
    user = storage.get(CTX, "User", "u01")
    storage.update(CTX, "User", "u01", Change(data={**user.data, "emails": [{"value": "NEW@x.example"}]}),
                   now=T0)
    assert [r.id for r in storage.query(CTX, "User", Query(filter=find)).resources] == ["u01"]
    old = filter_of(storage, "User", 'emails.value eq "user1@work.example"')
    assert storage.query(CTX, "User", Query(filter=old)).resources == []
    storage.delete(CTX, "User", "u01")
    assert storage.query(CTX, "User", Query(filter=find)).resources == []


def test_paging_reuses_the_sorted_order_until_a_write(storage):
    by_name = sort_of(storage, "User", "userName", descending=True)
    first = storage.query(CTX, "User", Query(sort=by_name, count=5))
    tenant = storage._tenants[CTX.tenant]
    assert len(tenant._orders) == 1
    second = storage.query(CTX, "User", Query(sort=by_name, count=5, start_index=6))
    assert len(tenant._orders) == 1  # the second page came from the cached order
    names = [r.data["userName"] for r in first.resources + second.resources]
    assert names == sorted((f"user{n}" for n in range(12)), reverse=True)[:10]

    user = storage.get(CTX, "User", "u00")
    storage.update(CTX, "User", "u00", Change(data={**user.data, "userName": "zed"}), now=T0)
    assert tenant._orders == {}
    again = storage.query(CTX, "User", Query(sort=by_name, count=2))
    assert [r.data["userName"] for r in again.resources] == ["zed", "user9"]


def test_cursor_pages_with_a_filter_walk_the_cached_order(storage):
    node = filter_of(storage, "User", 'userName sw "user1"')  # user1, user10, user11
    seen, after = [], None
    while True:
        page = storage.query(CTX, "User", Query(filter=node, count=2, after=after))
        seen += [r.id for r in page.resources]
        assert page.total == 3
        if page.next_keyset is None:
            break
        after = page.next_keyset
    assert seen == ["u01", "u10", "u11"]
