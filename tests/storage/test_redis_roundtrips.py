"""Round trips of the Redis backend's hot paths (indexed lookups, get, update, `sw` listings),
and the prefix (`l:`) indexes that answer `sw` / `eq`: same answers as the reference evaluator on
tricky values, kept up to date by every write, rebuilt for data written before they existed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import redis.client
from scimflask_redis import RedisStorage, keys
from scimflask_redis import query as redis_query

from scimflask.filter.evaluate import matches
from scimflask.filter.parser import parse_attr_path, parse_filter
from scimflask.filter.sort import sort_documents
from scimflask.model import Change, Member, Query, RequestContext, Resource, Sort

from .redis_helpers import (
    REDIS_KINDS,
    index_problems,
    storage_of,
)

CTX = RequestContext(tenant="trips", base_url="https://scim.example/v2")
START = datetime(2024, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(params=REDIS_KINDS)
def storage(request):
    yield from storage_of(request.param)


class RoundTrips:
    """Counts round trips to the server: each direct command (scripts included) and each
    non-empty pipeline execution is one."""

    def __init__(self, client, monkeypatch) -> None:
        self.count = 0
        direct = client.execute_command
        execute = redis.client.Pipeline.execute

        def counted_command(*args, **kwargs):
            self.count += 1
            return direct(*args, **kwargs)

        def counted_execute(pipe, *args, **kwargs):
            if pipe.command_stack:
                self.count += 1
            return execute(pipe, *args, **kwargs)

        monkeypatch.setattr(client, "execute_command", counted_command)
        monkeypatch.setattr(redis.client.Pipeline, "execute", counted_execute)


def _user(storage: RedisStorage, i: int, ctx: RequestContext = CTX, **data) -> Resource:
    at = START + timedelta(milliseconds=i)
    body = {"userName": f"user{i}", "externalId": f"ext-{i}", "displayName": f"User {i}",
            "name": {"familyName": f"Fam{i}", "givenName": f"Given{i}"},
            "emails": [{"value": f"user{i}@example.com", "type": "work"},
                       {"value": f"home{i}@example.org", "type": "home"}]}
    body.update(data)
    return storage.create(ctx, Resource("User", f"id-{i:05d}", body, at, at))


def _filled(storage: RedisStorage, n: int = 30) -> RedisStorage:
    for i in range(n):
        _user(storage, i)
    group = storage.create(CTX, Resource("Group", "g-1", {"displayName": "Team"}, START, START,
                                         members=[Member("id-00003"), Member("id-00004")]))
    assert group.members
    # load the scripts first (the NOSCRIPT retry of a first call is not what is measured)
    storage.get(CTX, "User", "id-00000")
    storage.update(CTX, "User", "id-00000", Change(add_members=[]), now=START)
    storage.query(CTX, "User", Query(filter=parse_filter('userName eq "user0"', storage.catalog, _rt(storage))))
    return storage


def _rt(storage, name="User"):
    return storage.catalog.resource_type(name)


def _query(storage, expression, resource_type="User", **options) -> Query:
    return Query(filter=parse_filter(expression, storage.catalog, _rt(storage, resource_type)), **options)


@pytest.mark.parametrize("expression, expected", [
    ('userName eq "USER3"', ["id-00003"]),
    ('externalId eq "ext-3"', ["id-00003"]),
    ('emails.value eq "User3@Example.com"', ["id-00003"]),
    ('emails[type eq "work"].value eq "user3@example.com"', ["id-00003"]),
    ('emails[type eq "home"].value eq "user3@example.com"', []),
    ('displayName eq "user 3"', ["id-00003"]),
    ('name.familyName eq "fam3"', ["id-00003"]),
    ('userName eq "user3" or externalId eq "ext-4"', ["id-00003", "id-00004"]),
    ('userName eq "user3" and externalId eq "ext-4"', []),
    ('userName eq "user3" and title pr', []),
    ('id eq "id-00004"', ["id-00004"]),
])
def test_indexed_lookup_is_one_round_trip(storage, monkeypatch, expression, expected):
    _filled(storage)
    trips = RoundTrips(storage.client, monkeypatch)
    page = storage.query(CTX, "User", _query(storage, expression))
    assert trips.count == 1
    assert [r.id for r in page.resources] == expected
    assert page.total == len(expected)
    for resource in page.resources:  # groups come along in the same round trip
        assert [g.value for g in resource.groups] == (["g-1"] if resource.id in ("id-00003", "id-00004") else [])
        assert {g.display for g in resource.groups} <= {"Team"}


def test_group_lookups_are_one_round_trip(storage, monkeypatch):
    _filled(storage)
    trips = RoundTrips(storage.client, monkeypatch)
    by_name = storage.query(CTX, "Group", _query(storage, 'displayName eq "team"', "Group"))
    by_member = storage.query(CTX, "Group", _query(storage, 'members.value eq "id-00004"', "Group"))
    assert trips.count == 2
    assert [r.id for r in by_name.resources] == [r.id for r in by_member.resources] == ["g-1"]
    assert [m.value for m in by_name.resources[0].members] == ["id-00003", "id-00004"]


def test_get_and_update_are_one_round_trip_each(storage, monkeypatch):
    _filled(storage)
    trips = RoundTrips(storage.client, monkeypatch)
    user = storage.get(CTX, "User", "id-00003")
    assert trips.count == 1 and [g.value for g in user.groups] == ["g-1"]
    group = storage.get(CTX, "Group", "g-1", with_members=True)
    assert trips.count == 2 and [m.value for m in group.members] == ["id-00003", "id-00004"]
    data = dict(user.data, title="Boss")
    storage.update(CTX, "User", user.id, Change(data=data), expected_version=user.version, now=START)
    assert trips.count == 3
    removed = Change(remove_members=["id-00003"], add_members=[Member("id-00005")])
    storage.update(CTX, "Group", "g-1", removed, expected_version=group.version, now=START)
    assert trips.count == 4


def test_sw_listing_pages_in_one_round_trip_without_a_scan(storage, monkeypatch):
    _filled(storage, 40)
    monkeypatch.setattr(redis_query, "BATCH", 1)  # a scan would cost a round trip per user
    trips = RoundTrips(storage.client, monkeypatch)
    first = storage.query(CTX, "User", _query(storage, 'name.familyName sw "FAM1"', count=4))
    assert trips.count == 1
    assert [r.id for r in first.resources] == ["id-00001", "id-00010", "id-00011", "id-00012"]
    assert first.total == 11
    later = storage.query(CTX, "User", _query(storage, 'name.familyName sw "fam1"', start_index=9, count=4))
    assert [r.id for r in later.resources] == ["id-00017", "id-00018", "id-00019"]
    assert later.total == 11
    assert trips.count == 2
    query = _query(storage, 'name.familyName sw "fam1"', count=4, after=first.next_keyset)
    cursor = storage.query(CTX, "User", query)
    assert trips.count == 3
    assert [r.id for r in cursor.resources] == ["id-00013", "id-00014", "id-00015", "id-00016"]


TRICKY = ["Fam", "fam", "FAMILY", "Famé", "famÉ", "ß", "SS", "İstanbul", "istanbul", "", "a\x00b", "a",
          "ab", "a b", "\U0001f600x", "Ω", "ω", "Zed", "zed~", "\x7f", "é"]
PREFIXES = ["", "f", "F", "fam", "FAMI", "famé", "FAMÉ", "ß", "s", "İ", "i̇", "i", "a", "a\x00", "ab", "ω",
            "\U0001f600", "zed", "~", "é", "x"]
PATHS = ["userName", "displayName", "externalId", "name.familyName", "name.givenName", "emails.value"]


def _tricky(storage: RedisStorage, ctx: RequestContext) -> list[str]:
    ids = []
    for i, value in enumerate(TRICKY):
        at = START + timedelta(milliseconds=i // 3)  # some ties on created: ordered by id
        data = {"userName": f"{value}-{i}", "displayName": value, "externalId": value,
                "name": {"familyName": value, "givenName": value.upper()},
                "emails": [{"value": value}, {"value": f"{value}@x", "type": "work"}]}
        if i % 5 == 0:
            del data["name"]
        ids.append(storage.create(ctx, Resource("User", f"u-{(i * 7) % 23:02d}-{i}", data, at,
                                                at + timedelta(seconds=-i))).id)
    return ids


def _reference(storage, documents, query):
    rt = _rt(storage)
    documents = [d for d in documents if matches(query.filter, d, rt, storage.catalog)]
    return [d["id"] for d in sort_documents(documents, query.sort, rt, storage.catalog)]


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\x00", "\\u0000") + '"'


def test_prefix_indexes_agree_with_the_reference_on_tricky_values(storage, monkeypatch):
    ctx = RequestContext(tenant="tricky", base_url="https://scim.example/v2")
    documents = [storage.get(ctx, "User", id).document(storage.catalog.locator(ctx.base_url)) for id in _tricky(storage, ctx)]
    ready = storage.client.get(keys.tenant_base(storage.prefix, "tricky") + keys.prefix_ready("User"))
    assert ready is not None  # so the prefix indexes answer below, not a scan
    assert index_problems(storage, "tricky") == []
    monkeypatch.setattr(redis_query, "CANDIDATE_LIMIT", 0)  # only exact plans may use the index
    rt = _rt(storage)
    sorts = [None, Sort(parse_attr_path("meta.created", storage.catalog, rt), True),
             Sort(parse_attr_path("meta.lastModified", storage.catalog, rt), False)]
    for path in PATHS:
        for prefix in PREFIXES:
            for op in ("sw", "eq"):
                expression = f"{path} {op} {_quoted(prefix)}"
                for sort in sorts:
                    query = _query(storage, expression, sort=sort)
                    expected = _reference(storage, documents, query)
                    whole = storage.query(ctx, "User", Query(query.filter, sort, count=100))
                    assert [r.id for r in whole.resources] == expected, expression
                    assert whole.total == len(expected), expression
                    page = storage.query(ctx, "User", Query(query.filter, sort, start_index=2, count=2))
                    assert [r.id for r in page.resources] == expected[1:3], expression
                    assert page.total == len(expected), expression
                    if op == "sw" and sort is None:
                        assert _walked(storage, ctx, Query(query.filter, sort, count=3)) == expected, expression


def _walked(storage, ctx, query) -> list[str]:
    """Every id, following keysets page by page."""
    ids, after = [], None
    while True:
        page = storage.query(ctx, "User", Query(query.filter, query.sort, count=query.count, after=after))
        ids += [r.id for r in page.resources]
        after = page.next_keyset
        if after is None:
            return ids


def test_writes_keep_the_prefix_indexes_current(storage):
    ctx = RequestContext(tenant="writes")
    first = _user(storage, 1, ctx)
    _user(storage, 2, ctx)

    def found(expression):
        return [r.id for r in storage.query(ctx, "User", _query(storage, expression)).resources]

    assert found('name.familyName sw "fam"') == ["id-00001", "id-00002"]
    data = dict(first.data, name={"familyName": "Other"}, emails=[{"value": "new@x"}])
    storage.update(ctx, "User", first.id, Change(data=data), now=START)
    assert found('name.familyName sw "fam"') == ["id-00002"]
    assert found('name.familyName sw "oth"') == ["id-00001"]
    assert found('emails.value sw "user1"') == []
    assert found('emails.value sw "NEW"') == ["id-00001"]
    assert found('name.givenName sw "given1"') == []
    storage.delete(ctx, "User", "id-00002")
    assert found('name.familyName sw "fam"') == []
    assert index_problems(storage, "writes") == []
    base = keys.tenant_base(storage.prefix, "writes")
    assert storage.client.exists(base + keys.prefix("User", "name.familyName"))
    storage.delete_tenant("writes")
    assert not storage.client.exists(base + keys.prefix("User", "name.familyName"))
    assert not storage.client.exists(base + keys.prefix_ready("User"))


def test_data_written_before_the_prefix_indexes_is_scanned_until_rebuilt(storage, monkeypatch):
    ctx = RequestContext(tenant="legacy")
    for i in range(5):
        _user(storage, i, ctx)
    base = keys.tenant_base(storage.prefix, "legacy")
    # as an older version left it: no prefix index, no marker
    storage.client.delete(base + keys.prefix_ready("User"), *(base + keys.prefix("User", p) for p in PATHS))
    query = _query(storage, 'name.familyName sw "FAM"')
    assert [r.id for r in storage.query(ctx, "User", query).resources] == [f"id-{i:05d}" for i in range(5)]
    _user(storage, 5, ctx)  # a write into a type with data does not mark it ready
    assert storage.client.get(base + keys.prefix_ready("User")) is None
    assert storage.rebuild_indexes("legacy") == 6
    assert index_problems(storage, "legacy") == []
    monkeypatch.setattr(redis_query, "BATCH", 1)
    trips = RoundTrips(storage.client, monkeypatch)
    page = storage.query(ctx, "User", query)
    assert trips.count == 1
    assert [r.id for r in page.resources] == [f"id-{i:05d}" for i in range(6)]


def test_membership_patch_costs_one_round_trip_whatever_the_group_size(storage, monkeypatch):
    ctx = RequestContext(tenant="members")
    members = [Member(f"id-{i:05d}") for i in range(300)]
    for i in range(300):
        _user(storage, i, ctx)
    storage.create(ctx, Resource("Group", "big", {"displayName": "Big"}, START, START, members=members))
    storage.update(ctx, "Group", "big", Change(add_members=[]), now=START)  # loads the script
    trips = RoundTrips(storage.client, monkeypatch)
    storage.update(ctx, "Group", "big", Change(remove_members=[m.value for m in members[:100]]), now=START)
    storage.update(ctx, "Group", "big", Change(add_members=members[:100]), now=START)
    assert trips.count == 2
    assert storage.count_members(ctx, "big") == 300
