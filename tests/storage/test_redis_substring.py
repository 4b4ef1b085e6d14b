"""The Redis trigram indexes (`s:` sets): `co` / `sw` / `ew` read a few sets in one round trip,
every write keeps the sets exactly in step with the data, tenant deletion leaves none behind,
data written before the sets existed is scanned (and refused past `max_scan`) until
`rebuild_indexes`; and the scan bound is decided before any record is read."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scimflask_redis import RedisStorage, keys
from scimflask_redis import query as redis_query
from scimflask_redis.indexes import TRIGRAM_SIGNATURE, search_trigrams
from scimflask_redis.query import Combine, Leaf, plan
from scimflask_redis.scripts import pack_trigrams

from scimflask.filter.evaluate import matches
from scimflask.model import Change, Member, Query, RequestContext, Resource
from scimflask.storage import ScanTooLarge
from scimflask.testing.contract_support import filter_of

from .redis_helpers import (
    REDIS_KINDS,
    REDIS_URL,
    drop_prefix,
    fake_storage,
    index_problems,
    needs_real_redis,
    real_storage,
    storage_of,
    unique_prefix,
)
from .test_redis_roundtrips import RoundTrips

CTX = RequestContext(tenant="grams", base_url="https://scim.example/v2")
START = datetime(2024, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(params=REDIS_KINDS)
def storage(request):
    yield from storage_of(request.param)


def _user(storage: RedisStorage, i: int, ctx: RequestContext = CTX, **data) -> Resource:
    at = START + timedelta(milliseconds=i)
    body = {"userName": f"user{i}", "externalId": f"Ext-{i}", "displayName": f"User {i}",
            "title": f"title {i}", "name": {"familyName": f"Fam{i}", "givenName": f"Given{i}"},
            "emails": [{"value": f"user{i}@example.com", "type": "work"}, {"value": f"home{i}@example.org"}]}
    body.update(data)
    return storage.create(ctx, Resource("User", f"id-{i:05d}", body, at, at))


def _filled(storage: RedisStorage, n: int, ctx: RequestContext = CTX) -> list[str]:
    ids = [_user(storage, i, ctx).id for i in range(n)]
    # load the scripts first (the NOSCRIPT retry of a first call is not what is measured)
    storage.query(ctx, "User", Query(filter=filter_of(storage, "User", 'userName co "nothing"')))
    return ids


def _reference(storage: RedisStorage, ctx: RequestContext, query: Query) -> list[str]:
    """Ids of every User of the tenant the reference evaluator matches, in created order."""
    rt = storage.catalog.resource_type("User")
    everything = storage.query(ctx, "User", Query(count=100_000))
    locator = storage.catalog.locator(ctx.base_url)
    return [r.id for r in everything.resources if matches(query.filter, r.document(locator), rt, storage.catalog)]


def _ids(storage: RedisStorage, ctx: RequestContext, text: str, **options) -> list[str]:
    page = storage.query(ctx, "User", Query(filter=filter_of(storage, "User", text), count=1000, **options))
    assert page.total == len(page.resources)
    return [r.id for r in page.resources]


def trigram_problems(storage: RedisStorage, tenant: str) -> list[str]:
    """Every way the tenant's trigram sets and stored trigrams (`xt`) disagree with the data:
    each set must hold exactly the ids whose values hold its trigram, no more, no fewer."""
    base = keys.tenant_base(storage.prefix, tenant)
    expected: dict[str, set[str]] = {}
    problems = []
    for rt in storage.catalog.resource_types:
        indexes = storage._indexes[rt.name]
        page = storage.query(RequestContext(tenant=tenant), rt.name,
                             Query(count=100_000, with_members=False, with_groups=False))
        for resource in page.resources:
            grams = indexes.data_trigrams(resource)
            if storage.client.hget(base + keys.resource(rt.name, resource.id), "xt") != pack_trigrams(grams):
                problems.append(f"{rt.name} {resource.id}: stale stored trigrams")
            for prefix, found in grams:
                for gram in found:
                    expected.setdefault(prefix + gram, set()).add(resource.id)
    numbers = {n.decode(): id.decode() for n, id in storage.client.hgetall(base + keys.trigram_numbers()).items()}
    numbers.pop("n", None)  # the last number given
    if sorted(numbers.values()) != sorted(set(numbers.values())):
        problems.append("a resource has two numbers")
    pattern = keys.glob_escape(base + "s:") + "*"
    actual = {}
    for key in storage.client.scan_iter(match=pattern, count=1000):
        suffix = key.decode()[len(base):]
        if suffix.count(":") >= 3:  # a set, not a ready marker or the numbers
            actual[suffix] = {numbers.get(n.decode(), f"unknown number {n.decode()}")
                              for n in storage.client.smembers(key)}
    numbered = {id for ids in expected.values() for id in ids}
    if set(numbers.values()) - numbered:
        problems.append(f"numbers of resources without trigrams: {sorted(set(numbers.values()) - numbered)}")
    for suffix in sorted(set(expected) | set(actual)):
        if expected.get(suffix, set()) != actual.get(suffix, set()):
            problems.append(f"{suffix}: holds {sorted(actual.get(suffix, ()))}, "
                            f"expected {sorted(expected.get(suffix, ()))}")
    return problems


# -- planning -----------------------------------------------------------------------------
def _plan(storage, text):
    rt = storage.catalog.resource_type("User")
    return plan(filter_of(storage, "User", text), storage._indexes["User"], storage.catalog, rt)


@pytest.mark.parametrize("text", [
    'userName co "ser"', 'displayName ew "R 1"', 'externalId co "xt-"', 'emails.value co "@example"',
    'emails[value ew "example.com"]', 'emails[type eq "work" and value co "ser1"]',
    'name.givenName co "ven"', 'name.familyName ew "am1"', 'userName co "ser" and title pr',
])
def test_substring_filters_plan_a_trigram_leaf(text):
    found = _plan(fake_storage(), text)
    assert isinstance(found, Leaf) and found.kind == "grams" and found.grams and not found.exact


@pytest.mark.parametrize("text", ['title co "itl"', 'userName co "se"', 'userName ew "1"', 'nickName co "abc"'])
def test_filters_without_usable_trigrams_plan_nothing(text):
    assert _plan(fake_storage(), text) is None


def test_sw_keeps_its_range_and_or_unions_trigram_leaves():
    storage = fake_storage()
    assert _plan(storage, 'userName sw "user1"').kind == "range"
    assert _plan(storage, 'externalId sw "Ext-1"').prefix
    both = _plan(storage, 'userName co "ser" or displayName ew "r 1"')
    assert isinstance(both, Combine) and [leaf.kind for leaf in both.parts] == ["grams", "grams"]


def test_long_patterns_read_a_bounded_number_of_sets():
    storage = fake_storage()
    found = _plan(storage, f'userName co "{"abcdefghij" * 30}xyz"')
    assert 0 < len(found.grams) <= 32


def test_sigma_trigrams_narrow_under_either_case_rule():
    """Trigrams fold each character alone and both small sigmas alike, so a pattern ending in
    a capital sigma still narrows a caseExact search by every one of its trigrams."""
    indexed = fake_storage()._indexes["User"].substring
    external = next(p for p in indexed.values() if p.name == "externalId")
    user_name = next(p for p in indexed.values() if p.name == "userName")
    assert search_trigrams(external, "ΑΑΣ") == ["αασ"]
    assert search_trigrams(user_name, "ΑΑΣ") == search_trigrams(user_name, "αας") == ["αασ"]


@pytest.mark.parametrize("text", [
    'externalId co "ΑΑΣ"', 'externalId co "xΑΑΣ"', 'externalId ew "ΑΑΣΑ"', 'userName co "ααΣ"',
    'userName co "ΑΑΣΑ"', 'displayName co "i̇st"', 'displayName co "İST"', 'displayName sw "İs"',
    'emails.value ew "SS@X.ORG"', 'externalId co "Ext"', 'externalId co "ext"',
])
def test_unicode_patterns_agree_with_the_reference(storage, text):
    ctx = RequestContext(tenant="unicode", base_url=CTX.base_url)
    for i, value in enumerate(["xΑΑΣΑ", "ΑΑΣ", "İstanbul", "istanbul", "ß@x.org", "Ext"]):
        _user(storage, i, ctx, externalId=value, userName=value + str(i), displayName=value,
              emails=[{"value": value}])
    query = Query(filter=filter_of(storage, "User", text))
    assert _ids(storage, ctx, text) == _reference(storage, ctx, query)


ALPHABET = "aAΣσςİiß"
PROPERTY_STORAGE = fake_storage()
CASES = {"same": str, "upper": str.upper, "lower": str.lower, "swap": str.swapcase}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(st.text(ALPHABET, max_size=8), min_size=1, max_size=6), pick=st.integers(0, 5),
       start=st.integers(0, 6), length=st.integers(3, 6), case=st.sampled_from(sorted(CASES)),
       path=st.sampled_from(["userName", "externalId", "displayName", "name.givenName", "emails.value"]),
       op=st.sampled_from(["co", "sw", "ew"]))
@example(values=["aaΣa"], pick=0, start=0, length=3, case="same", path="externalId", op="co")
@example(values=["xİstanbul"], pick=0, start=1, length=4, case="lower", path="displayName", op="co")
@example(values=["aßa"], pick=0, start=0, length=3, case="upper", path="emails.value", op="sw")
def test_trigram_candidates_never_miss_a_reference_match(values, pick, start, length, case, path, op):
    """Case changes that alter lengths or depend on context (İ, ß, final sigma), on a
    caseExact attribute (externalId) and on caseExact-false ones: a slice of a stored value
    (or, when too short, any 3 characters), in some case, must find what the reference does."""
    storage = PROPERTY_STORAGE
    ctx = RequestContext(tenant=f"prop-{uuid.uuid4()}", base_url=CTX.base_url)
    for i, value in enumerate(values):
        _user(storage, i, ctx, userName=f"{value}#{i}", externalId=value, displayName=value,
              name={"givenName": value}, emails=[{"value": value}, {"value": value[::-1]}])
    piece = values[pick % len(values)][start:start + length]
    pattern = CASES[case](piece if len(piece) >= 3 else (piece + "aΣa")[:3])
    text = f'{path} {op} "{pattern}"'
    assert _ids(storage, ctx, text) == _reference(storage, ctx, Query(filter=filter_of(storage, "User", text)))


# -- reading ------------------------------------------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ('userName co "ser1"', [1] + list(range(10, 20))),
    ('emails.value ew "17@EXAMPLE.COM"', [17]),
    ('emails[type eq "work" and value co "ser2"]', [2] + list(range(20, 30))),
    ('externalId co "xt-3"', [3] + list(range(30, 40))),
    ('externalId co "XT-3"', []),  # caseExact: the sets are folded, the evaluator decides
    ('name.givenName co "ven2" and title co "2"', [2] + list(range(20, 30))),
    ('displayName ew "r 7" or name.familyName co "am39"', [7, 39]),
])
def test_substring_filters_are_one_round_trip_whatever_the_tenant_size(storage, monkeypatch, text, expected):
    _filled(storage, 40)
    monkeypatch.setattr(redis_query, "BATCH", 1)  # a scan would cost a round trip per user
    trips = RoundTrips(storage.client, monkeypatch)
    assert _ids(storage, CTX, text) == [f"id-{i:05d}" for i in expected]
    assert trips.count == 1
    assert _ids(storage, CTX, text, max_scan=11) == [f"id-{i:05d}" for i in expected]
    assert trips.count == 2


def test_large_sets_with_a_small_intersection_are_answered_from_them(storage, monkeypatch):
    """Every set of the pattern past the candidate limit, their intersection within it: the
    intersection decides (a digit trigram at a million users is in thousands of sets' members
    while the pattern matches one), not a scan of the type."""
    for i in range(5):
        _user(storage, i, userName=f"abcx{i}")
        _user(storage, 5 + i, userName=f"xbcd{i}")
    _user(storage, 10, userName="abcd")
    _ids(storage, CTX, 'userName co "nothing"')  # loads the scripts (a first call's retry is not measured)
    monkeypatch.setattr(redis_query, "CANDIDATE_LIMIT", 3)
    monkeypatch.setattr(redis_query, "BATCH", 1)  # a scan would cost a round trip per user
    trips = RoundTrips(storage.client, monkeypatch)
    assert _ids(storage, CTX, 'userName co "abcd"', max_scan=3) == ["id-00010"]
    assert trips.count == 1


def _least_calls(client, action, names: tuple[str, ...], attempts: int = 3) -> dict[str, int]:
    """The fewest calls of each command the server counted (`INFO commandstats`, which counts
    commands run by scripts too) across `attempts` runs of `action(attempt)`: other clients of
    a shared server only ever add calls."""
    def calls():
        stats = client.info("commandstats")
        return {name: stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in names}

    least: dict[str, int] = {}
    for attempt in range(attempts):
        before = calls()
        action(attempt)
        after = calls()
        for name in names:
            least[name] = min(least.get(name, after[name]), after[name] - before[name])
    return least


@needs_real_redis
@pytest.mark.redis
def test_the_server_intersects_the_sets_instead_of_scanning():
    prefix = unique_prefix()
    storage = real_storage(prefix)
    try:
        _filled(storage, 300)

        def search(_):
            assert _ids(storage, CTX, 'emails.value co "r123@exa"') == ["id-00123"]

        # hmget: the candidates' ids by their numbers, then their records
        assert _least_calls(storage.client, search, ("sinter", "scard", "hmget", "zrangebylex", "zrange")) == {
            "sinter": 1, "scard": 6, "hmget": 2, "zrangebylex": 0, "zrange": 0}

        # an update writes only the index entries and sets that change: title is in no index,
        # so a new title writes none (every entry used to be removed and added again)
        user = storage.get(CTX, "User", "id-00123")

        def retitle(attempt):
            storage.update(CTX, "User", user.id, Change(data=dict(user.data, title=f"Chief {attempt}")), now=START)

        assert _least_calls(storage.client, retitle, ("sadd", "srem", "zadd", "zrem", "hdel")) == {
            "sadd": 0, "srem": 0, "zadd": 0, "zrem": 0, "hdel": 0}

        def rename(attempt):  # one new trigram each time: "23a", "23b", ...
            data = dict(user.data, userName=f"user123{'abc'[attempt]}")
            storage.update(CTX, "User", user.id, Change(data=data), now=START)

        assert _least_calls(storage.client, rename, ("sadd",)) == {"sadd": 1}
    finally:
        drop_prefix(storage.client, prefix)
        storage.close()


# -- writes -------------------------------------------------------------------------------
def test_every_write_keeps_the_sets_exactly_in_step(storage):
    ctx = RequestContext(tenant="writes", base_url=CTX.base_url)
    users = [_user(storage, i, ctx) for i in range(6)]
    group = storage.create(ctx, Resource("Group", "g-1", {"displayName": "Night Shift"}, START, START,
                                         members=[Member(u.id) for u in users[:3]]))
    assert trigram_problems(storage, "writes") == []
    later = START + timedelta(seconds=1)
    renamed = dict(users[0].data, userName="Renamed", emails=[{"value": "moved@else.where"}])
    storage.update(ctx, "User", users[0].id, Change(data=renamed), now=later)
    storage.update(ctx, "User", users[1].id, Change(data={"userName": "bare"}), now=later)
    storage.update(ctx, "User", users[2].id, Change(add_members=[]), now=later)  # data kept
    storage.update(ctx, "Group", group.id, Change(data={"displayName": "Day Shift"},
                                                  remove_members=[users[0].id]), now=later)
    storage.delete(ctx, "User", users[3].id)
    assert trigram_problems(storage, "writes") == []
    assert index_problems(storage, "writes") == []
    assert _ids(storage, ctx, 'userName co "ser0"') == []
    assert _ids(storage, ctx, 'emails.value co "MOVED@"') == [users[0].id]
    assert _ids(storage, ctx, 'displayName co "user 1"') == []
    assert _ids(storage, ctx, 'userName co "ser3"') == []
    night = Query(filter=filter_of(storage, "Group", 'displayName co "night"'), max_scan=0)
    assert storage.query(ctx, "Group", night).total == 0
    for user in users:
        if user.id != users[3].id:
            storage.delete(ctx, "User", user.id)
    storage.delete(ctx, "Group", group.id)
    base = keys.tenant_base(storage.prefix, "writes")
    left = [k.decode() for k in storage.client.scan_iter(match=keys.glob_escape(base + "s:") + "*")]
    assert sorted(left) == [base + keys.trigram_numbers(), base + keys.trigram_ready("Group"),
                            base + keys.trigram_ready("User")]
    assert list(storage.client.hkeys(base + keys.trigram_numbers())) == [b"n"]  # only the last number given


def test_deleting_the_tenant_leaves_no_trigram_set_behind(storage):
    ctx = RequestContext(tenant="doomed", base_url=CTX.base_url)
    kept = RequestContext(tenant="kept", base_url=CTX.base_url)
    for i in range(5):
        _user(storage, i, ctx)
    storage.create(ctx, Resource("Group", "g-1", {"displayName": "Doomed Team"}, START, START))
    _user(storage, 1, kept)
    pattern = keys.tenant_pattern(storage.prefix, "doomed")
    grams = keys.glob_escape(keys.tenant_base(storage.prefix, "doomed") + "s:") + "*"
    assert len(list(storage.client.scan_iter(match=grams))) > 50
    storage.delete_tenant("doomed")
    assert list(storage.client.scan_iter(match=pattern)) == []
    assert _ids(storage, kept, 'userName co "ser1"') == ["id-00001"]
    assert trigram_problems(storage, "kept") == []


# -- data written before the trigram sets ---------------------------------------------------
def _forget_trigrams(storage: RedisStorage, tenant: str) -> None:
    """The tenant as an older version left it: no trigram set, no marker, no stored trigrams."""
    base = keys.tenant_base(storage.prefix, tenant)
    for key in list(storage.client.scan_iter(match=keys.glob_escape(base + "s:") + "*")):
        storage.client.delete(key)
    for key in list(storage.client.scan_iter(match=keys.glob_escape(base + "r:") + "*")):
        storage.client.hdel(key, "xt", "xn")


def test_old_data_is_scanned_and_bounded_until_rebuilt(storage, monkeypatch):
    ctx = RequestContext(tenant="legacy", base_url=CTX.base_url)
    for i in range(12):
        _user(storage, i, ctx)
    _forget_trigrams(storage, "legacy")
    text = 'userName co "ser1"'
    expected = ["id-00001", "id-00010", "id-00011"]
    assert _ids(storage, ctx, text) == expected  # a scan, right all the same
    with pytest.raises(ScanTooLarge):
        _ids(storage, ctx, text, max_scan=5)
    assert _ids(storage, ctx, 'userName eq "user10" and displayName co "r 1"', max_scan=1) == ["id-00010"]
    _user(storage, 12, ctx)  # a write into a type with data does not mark it ready
    storage.delete(ctx, "User", "id-00011")  # nor does a delete of a resource without trigrams
    assert storage.client.get(keys.tenant_base(storage.prefix, "legacy") + keys.trigram_ready("User")) is None
    assert _ids(storage, ctx, text) == ["id-00001", "id-00010", "id-00012"]

    assert storage.rebuild_indexes("legacy") == 12
    assert trigram_problems(storage, "legacy") == []
    assert index_problems(storage, "legacy") == []
    base = keys.tenant_base(storage.prefix, "legacy")
    assert storage.client.get(base + keys.trigram_ready("User")).decode() == TRIGRAM_SIGNATURE
    monkeypatch.setattr(redis_query, "BATCH", 1)
    trips = RoundTrips(storage.client, monkeypatch)
    assert _ids(storage, ctx, text, max_scan=5) == ["id-00001", "id-00010", "id-00012"]
    assert trips.count == 1


def _index_by_ids(storage: RedisStorage, tenant: str) -> None:
    """The tenant as version 2 of the trigram sets left it: the sets hold ids, no numbers."""
    base = keys.tenant_base(storage.prefix, tenant)
    numbers = {n: id for n, id in storage.client.hgetall(base + keys.trigram_numbers()).items() if n != b"n"}
    for key in list(storage.client.scan_iter(match=keys.glob_escape(base + "s:") + "*")):
        if key.decode()[len(base):].count(":") >= 3:  # a set, not a marker or the numbers
            members = storage.client.smembers(key)
            storage.client.delete(key)
            storage.client.sadd(key, *(numbers[n] for n in members))
    storage.client.delete(base + keys.trigram_numbers())
    for key in list(storage.client.scan_iter(match=keys.glob_escape(base + "r:") + "*")):
        storage.client.hdel(key, "xn")
    for type_name in ("User", "Group"):
        storage.client.set(base + keys.trigram_ready(type_name), "2:older")


def test_sets_of_ids_move_to_numbers_when_written_or_rebuilt(storage):
    ctx = RequestContext(tenant="by-ids", base_url=CTX.base_url)
    for i in range(6):
        _user(storage, i, ctx)
    _index_by_ids(storage, "by-ids")
    with pytest.raises(ScanTooLarge):  # not trusted: scanned, within the bound
        _ids(storage, ctx, 'userName co "ser1"', max_scan=2)
    later = START + timedelta(seconds=1)
    storage.update(ctx, "User", "id-00001", Change(data={"userName": "user1b"}), now=later)
    storage.delete(ctx, "User", "id-00002")
    assert storage.rebuild_indexes("by-ids") == 5
    assert trigram_problems(storage, "by-ids") == []
    assert _ids(storage, ctx, 'userName co "ser1"', max_scan=2) == ["id-00001"]


def test_a_stale_signature_is_not_trusted(storage):
    ctx = RequestContext(tenant="stale", base_url=CTX.base_url)
    for i in range(4):
        _user(storage, i, ctx)
    storage.client.set(keys.tenant_base(storage.prefix, "stale") + keys.trigram_ready("User"), "0:older")
    with pytest.raises(ScanTooLarge):
        _ids(storage, ctx, 'userName co "ser1"', max_scan=2)
    assert _ids(storage, ctx, 'userName co "ser1"') == ["id-00001"]


def test_rebuild_reads_a_resource_again_when_it_changes_meanwhile(storage):
    ctx = RequestContext(tenant="busy", base_url=CTX.base_url)
    for i in range(3):
        _user(storage, i, ctx)
    _forget_trigrams(storage, "busy")
    original = storage._scripts.reindex
    touched = []

    def reindex_after_a_write(key, head, *, id, version, entries, trigrams):
        if id not in touched:  # a write that keeps the data still bumps the version
            touched.append(id)
            storage.update(ctx, "User", id, Change(add_members=[]), now=START + timedelta(seconds=1))
        return original(key, head, id=id, version=version, entries=entries, trigrams=trigrams)

    storage._scripts.reindex = reindex_after_a_write
    assert storage.rebuild_indexes("busy") == 3
    assert sorted(touched) == ["id-00000", "id-00001", "id-00002"]
    assert trigram_problems(storage, "busy") == []


# -- the scan bound -----------------------------------------------------------------------
def test_a_refusal_reads_no_record(storage, monkeypatch):
    _filled(storage, 30)
    monkeypatch.setattr(redis_query, "BATCH", 1)
    trips = RoundTrips(storage.client, monkeypatch)
    for text in ('userName co "user"', 'title co "itl"', "title pr"):
        with pytest.raises(ScanTooLarge) as raised:
            _ids(storage, CTX, text, max_scan=5)
        assert (raised.value.resource_type, raised.value.limit) == ("User", 5)
    assert trips.count == 3  # read.lua's refusal (with the type's size), then one ZCARD each


def test_a_plan_within_the_bound_but_past_the_candidate_limit_is_scanned(storage, monkeypatch):
    _filled(storage, 30)
    monkeypatch.setattr(redis_query, "CANDIDATE_LIMIT", 2)
    expected = [f"id-{i:05d}" for i in [1] + list(range(10, 20))]
    assert _ids(storage, CTX, 'userName co "ser1"', max_scan=11) == expected
    with pytest.raises(ScanTooLarge):
        _ids(storage, CTX, 'userName co "ser1"', max_scan=10)


def test_exact_index_answers_and_small_tenants_are_never_refused(storage):
    _filled(storage, 30)
    assert len(_ids(storage, CTX, 'userName sw "user1"', max_scan=3)) == 11
    small = RequestContext(tenant="small", base_url=CTX.base_url)
    for i in range(3):
        _user(storage, i, small)
    assert _ids(storage, small, 'userName co "ser" or displayName co "ser"', max_scan=3) == [
        "id-00000", "id-00001", "id-00002"]
    assert len(_ids(storage, small, "title pr", max_scan=3)) == 3


@needs_real_redis
@pytest.mark.redis
def test_reindex_command_rebuilds_what_an_older_version_left(monkeypatch):
    """`scimflask reindex` is the operator's upgrade step on Redis: the indexes of data an
    earlier version wrote are rebuilt and trusted again."""
    from click.testing import CliRunner

    from scimflask.cli.main import main

    prefix = unique_prefix()
    storage = real_storage(prefix)
    try:
        ctx = RequestContext(tenant="legacy", base_url=CTX.base_url)
        for i in range(12):
            _user(storage, i, ctx)
        _forget_trigrams(storage, "legacy")
        with pytest.raises(ScanTooLarge):
            _ids(storage, ctx, 'userName co "ser1"', max_scan=5)

        monkeypatch.setenv("SCIM_STORAGE_URI", f"{REDIS_URL}?prefix={prefix}")
        result = CliRunner().invoke(main, ["reindex", "--tenant", "legacy"])
        assert result.exit_code == 0, result.output
        assert "rebuilt the indexes of 12 resources" in result.output
        assert trigram_problems(storage, "legacy") == []
        assert _ids(storage, ctx, 'userName co "ser1"', max_scan=5) == ["id-00001", "id-00010", "id-00011"]
    finally:
        drop_prefix(storage.client, prefix)
        storage.close()
