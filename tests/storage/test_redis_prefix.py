"""Redis answers `sw` on userName / displayName from the ordered index's lexicographic range,
with the reference's results; and every backend caps `count_members(up_to=...)`."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from scimflask_memory import MemoryStorage
from scimflask_redis.query import Leaf, plan

from scimflask.filter.evaluate import matches
from scimflask.model import Member, Query, RequestContext, Resource
from scimflask.schema import default_catalog
from scimflask.testing.contract_support import filter_of

from .redis_helpers import fake_storage

CTX = RequestContext(tenant="acme")
NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)
NAMES = ["alice", "Alicia", "ALI", "al", "bob", "Émile", "émilie", "a\x00b", "zoë"]


@pytest.fixture
def storage():
    storage = fake_storage()
    for n, name in enumerate(NAMES):
        storage.create(CTX, Resource("User", f"u{n}", {"userName": name, "displayName": name.upper()},
                                     NOW, NOW))
    yield storage
    storage.close()


@pytest.mark.parametrize("text", [
    'userName sw "ali"', 'userName sw "ALI"', 'userName sw "al"', 'userName sw "émil"',
    'userName sw "a"', 'userName sw "nobody"', 'userName sw "alice"', 'displayName sw "É"',
    'userName sw "a\\u0000"', 'userName sw "ali" and displayName sw "ALIC"',
])
def test_sw_is_a_range_of_the_ordered_index_with_the_reference_results(storage, text):
    rt = storage.catalog.resource_type("User")
    node = filter_of(storage, "User", text)
    found = plan(node, storage._indexes["User"], storage.catalog, rt)
    leaves = [found] if isinstance(found, Leaf) else found.parts
    assert [leaf.kind for leaf in leaves] == ["range"] * len(leaves)

    page = storage.query(CTX, "User", Query(filter=node))
    expected = sorted(
        f"u{n}" for n, name in enumerate(NAMES)
        if matches(node, Resource("User", f"u{n}", {"userName": name, "displayName": name.upper()},
                                  NOW, NOW).document(), rt, storage.catalog))
    assert sorted(r.id for r in page.resources) == expected
    assert page.total == len(expected)


def test_sw_on_an_unordered_attribute_still_scans(storage):
    rt = storage.catalog.resource_type("User")
    assert plan(filter_of(storage, "User", 'nickName sw "a"'), storage._indexes["User"], storage.catalog, rt) is None


@pytest.mark.parametrize("make", [lambda: MemoryStorage(default_catalog()), fake_storage], ids=["memory", "fakeredis"])
def test_count_members_caps_at_the_threshold(make):
    storage = make()
    users = [storage.create(CTX, Resource("User", f"m{n}", {"userName": f"m{n}"}, NOW, NOW)) for n in range(5)]
    storage.create(CTX, Resource("Group", "g", {"displayName": "g"}, NOW, NOW,
                                 members=[Member(u.id) for u in users]))
    assert storage.count_members(CTX, "g") == 5
    assert storage.count_members(CTX, "g", up_to=5) == 5
    assert storage.count_members(CTX, "g", up_to=2) == 3
    assert storage.count_members(CTX, "g", up_to=100) == 5
