"""Contract: index paging (startIndex/count) and keyset paging (RFC 9865 cursors)."""

from __future__ import annotations

import json
import random

import pytest

from ..model import Keyset, Query
from .contract_support import TENANT, create_users, filter_of, reference_ids, sort_of

DIRECTORY_SIZE = 240
PAGE_SIZES = (7, 50, 1000)
SORTS = ((None, False), ("userName", False), ("title", True))
FILTERS = (None, "title pr", 'active eq true and userName co "1"')


def directory_data(size: int = DIRECTORY_SIZE) -> list[dict]:
    """Reproducible users with repeated and missing sort values (so ties need the id)."""
    rng = random.Random(9865)
    people = []
    for n in range(size):
        data: dict = {"userName": f"user{n:04d}", "active": rng.random() < 0.6}
        if rng.random() < 0.7:
            data["title"] = rng.choice(["Engineer", "engineer", "Manager", "Analyst", "Zookeeper"])
        people.append(data)
    rng.shuffle(people)
    return people


class _WithDirectory:
    @pytest.fixture
    def directory(self, scim_storage) -> list[str]:
        """Ids of a few hundred users created in the tenant."""
        return [r.id for r in create_users(scim_storage, TENANT, directory_data())]


def _combinations(storage):
    for text in FILTERS:
        for attribute, descending in SORTS:
            yield text, Query(filter=filter_of(storage, "User", text),
                              sort=sort_of(storage, "User", attribute, descending))


class PagingContract(_WithDirectory):
    def test_every_match_exactly_once_in_order(self, scim_storage, directory):
        for text, base in _combinations(scim_storage):
            expected = reference_ids(scim_storage, TENANT, "User", directory, base)
            for size in PAGE_SIZES:
                seen: list[str] = []
                start = 1
                while True:
                    page = scim_storage.query(TENANT, "User", Query(
                        filter=base.filter, sort=base.sort, start_index=start, count=size))
                    assert page.total == len(expected), (text, base.sort, size)
                    assert len(page.resources) <= size
                    seen.extend(r.id for r in page.resources)
                    if len(page.resources) < size:
                        break
                    start += size
                assert seen == expected, (text, base.sort, size)

    def test_count_zero_gives_only_the_total(self, scim_storage, directory):
        for text, base in _combinations(scim_storage):
            page = scim_storage.query(TENANT, "User", Query(filter=base.filter, sort=base.sort, count=0))
            assert page.resources == [], text
            assert page.total == len(reference_ids(scim_storage, TENANT, "User", directory, base)), text

    def test_start_index_past_the_end(self, scim_storage):
        create_users(scim_storage, TENANT, [{"userName": f"p{n}"} for n in range(3)])
        page = scim_storage.query(TENANT, "User", Query(start_index=4, count=10))
        assert (page.resources, page.total) == ([], 3)
        page = scim_storage.query(TENANT, "User", Query(start_index=3, count=10))
        assert ([r.data["userName"] for r in page.resources], page.total) == (["p2"], 3)


def _roundtrip(keyset: Keyset) -> Keyset:
    """The keyset as core hands it back: through JSON inside a signed cursor."""
    value, id = json.loads(json.dumps([keyset.value, keyset.id]))
    return Keyset(value=value, id=id)


def _walk(storage, base: Query, size: int) -> list[str]:
    seen: list[str] = []
    page = storage.query(TENANT, "User", Query(filter=base.filter, sort=base.sort, count=size))
    while True:
        seen.extend(r.id for r in page.resources)
        if page.next_keyset is None:
            return seen
        assert len(page.resources) == size
        page = storage.query(TENANT, "User", Query(filter=base.filter, sort=base.sort, count=size,
                                                   after=_roundtrip(page.next_keyset)))


class KeysetPagingContract(_WithDirectory):
    """Only for backends with `supports_keyset`: `Query.after` resumes strictly after a row."""

    @staticmethod
    def _needs_keyset(scim_storage) -> None:
        # Called by each keyset test: an autouse fixture would also skip every other contract
        # mixed into the same class (AllContracts).
        if not scim_storage.supports_keyset:
            pytest.skip(f"{type(scim_storage).__name__} does not support keyset paging")

    def test_keyset_pages_cover_every_match_once(self, scim_storage, directory):
        self._needs_keyset(scim_storage)
        for text, base in _combinations(scim_storage):
            expected = reference_ids(scim_storage, TENANT, "User", directory, base)
            for size in PAGE_SIZES[:2]:
                assert _walk(scim_storage, base, size) == expected, (text, base.sort, size)

    def test_last_page_has_no_next_keyset(self, scim_storage):
        self._needs_keyset(scim_storage)
        create_users(scim_storage, TENANT, [{"userName": f"k{n}"} for n in range(4)])
        assert scim_storage.query(TENANT, "User", Query(count=4)).next_keyset is None
        assert scim_storage.query(TENANT, "User", Query(count=3)).next_keyset is not None

    def test_keyset_is_a_position_not_a_row(self, scim_storage):
        """Deleting the row a keyset names does not lose the rows after it."""
        self._needs_keyset(scim_storage)
        created = create_users(scim_storage, TENANT, [{"userName": f"k{n}", "title": t}
                                                      for n, t in enumerate("bbaacc")])
        query = Query(sort=sort_of(scim_storage, "User", "title"), count=3)
        first = scim_storage.query(TENANT, "User", query)
        last = first.resources[-1]
        scim_storage.delete(TENANT, "User", last.id)
        rest = scim_storage.query(TENANT, "User", Query(sort=query.sort, count=10,
                                                        after=_roundtrip(first.next_keyset)))
        remaining = [r.id for r in created if r.id not in {x.id for x in first.resources}]
        expected = reference_ids(scim_storage, TENANT, "User", remaining, Query(sort=query.sort))
        assert [r.id for r in rest.resources] == expected
        assert rest.total == 5
