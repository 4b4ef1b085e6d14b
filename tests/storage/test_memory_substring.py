"""The memory backend's trigram indexes and scan bound: `co` / `sw` / `ew` evaluate only the
trigram candidates, the postings follow every write, answers stay the reference's on case
folding traps, and `max_scan` refuses before anything is combined or evaluated."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scimflask_memory import MemoryStorage
from scimflask_memory import plan as plan_module
from scimflask_memory import storage as memory_module
from scimflask_memory.plan import Trigrams

from scimflask.model import Change, Query, RequestContext, Resource
from scimflask.schema import default_catalog
from scimflask.storage import ScanTooLarge, UniqueConflict
from scimflask.storage.substring import SUBSTRING_INDEXED, value_trigrams
from scimflask.testing.contract_support import filter_of, query_all, reference_ids

from .spies import count_calls

CTX = RequestContext(tenant="substring", base_url="https://scim.example/scim/v2")
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
CATALOG = default_catalog()
CROWD = 120


def _user(n: int) -> dict:
    return {"userName": f"member{n:03d}@corp.example", "displayName": f"Member {n:03d}", "externalId": f"EXT-{n:03d}",
            "name": {"givenName": f"Given{n:03d}", "familyName": f"Family{n:03d}"}, "title": "Engineer",
            "emails": [{"value": f"m{n:03d}@work.example", "type": "work"}, {"value": f"p{n:03d}@home.example"}]}


@pytest.fixture
def storage():
    storage = MemoryStorage(CATALOG)
    for n in range(CROWD):
        when = T0 + timedelta(seconds=n)
        storage.create(CTX, Resource("User", f"u{n:03d}", _user(n), when, when))
    return storage


def _tenant(storage):
    return storage._tenants[CTX.tenant]


@pytest.mark.parametrize("text, expected", [
    ('userName co "ber042@"', ["u042"]), ('displayName ew "BER 077"', ["u077"]),
    ('externalId co "T-013"', ["u013"]), ('externalId co "t-013"', []),
    ('emails.value co "p099@HOME"', ["u099"]), ('emails[type eq "work" and value co "m031@"]', ["u031"]),
    ('emails[type eq "work" and value co "p031@"]', []),  # another element's value
    ('name.givenName co "ven005"', ["u005"]), ('name.familyName ew "ily118"', ["u118"]),
    ('userName co "ber042@" or displayName co "ber 043"', ["u042", "u043"]),
    ('displayName co "ber 050" and title co "ngine"', ["u050"]),
])
def test_substring_filters_evaluate_only_the_trigram_candidates(storage, monkeypatch, text, expected):
    node = filter_of(storage, "User", text)
    plan = _tenant(storage).plan("User", node)
    assert plan is not None and not plan.exact and plan.bound() <= 2
    evaluations = count_calls(monkeypatch, memory_module, "matches")
    page = storage.query(CTX, "User", Query(filter=node, max_scan=2))
    assert [r.id for r in page.resources] == expected
    assert len(evaluations) <= 2  # not one per user
    assert expected == reference_ids(storage, CTX, "User", [f"u{n:03d}" for n in range(CROWD)], Query(filter=node))


def _rebuilt(storage) -> dict[tuple, dict[str, set[str]]]:
    """The postings every trigram index would hold if built from the stored data now."""
    tenant = _tenant(storage)
    expected: dict[tuple, dict[str, set[str]]] = {}
    for key, index in tenant.trigrams["User"].items():
        postings = expected[key] = {}
        for id, stored in tenant.tables["User"].items():
            values = [value for value in index.attribute.values(stored.data) if isinstance(value, str)]
            for gram in value_trigrams(values):
                postings.setdefault(gram, set()).add(id)
    return expected


def test_postings_follow_updates_and_deletes_with_no_stale_ids(storage):
    tenant = _tenant(storage)
    paths = {f"{attr}.{sub}" if sub else attr for _, attr, sub in tenant.trigrams["User"]}
    assert paths == set(SUBSTRING_INDEXED["User"])
    user = storage.get(CTX, "User", "u007")
    storage.update(CTX, "User", "u007", Change(data={
        **user.data, "userName": "renamed@corp.example", "emails": [{"value": "only@x.example"}],
        "name": {"givenName": "Zed"}}), now=T0)
    storage.delete(CTX, "User", "u008")
    user = storage.get(CTX, "User", "u009")
    storage.update(CTX, "User", "u009", Change(data={**user.data, "title": "Boss"}), now=T0)  # no index moves
    actual = {key: index.ids_by_gram for key, index in tenant.trigrams["User"].items()}
    assert actual == _rebuilt(storage)
    every = set().union(*(ids for index in actual.values() for ids in index.values()))
    assert "u008" not in every
    for text, expected in (('userName co "ber007"', []), ('userName co "RENAMED"', ["u007"]),
                           ('emails.value co "m007@"', []), ('emails.value co "ly@x.ex"', ["u007"]),
                           ('displayName co "ber 008"', []), ('name.familyName co "ily007"', [])):
        page = storage.query(CTX, "User", Query(filter=filter_of(storage, "User", text), max_scan=1))
        assert [r.id for r in page.resources] == expected, text
    for n in range(CROWD):
        if f"u{n:03d}" in tenant.tables["User"]:
            storage.delete(CTX, "User", f"u{n:03d}")
    assert all(index.ids_by_gram == {} for index in tenant.trigrams["User"].values())


def test_a_pattern_whose_smallest_posting_is_too_large_is_refused_before_intersecting(storage, monkeypatch):
    node = filter_of(storage, "User", 'userName co "corp.example"')  # every user holds each trigram
    combined = count_calls(monkeypatch, Trigrams, "ids")
    evaluations = count_calls(monkeypatch, memory_module, "matches")
    with pytest.raises(ScanTooLarge) as raised:
        storage.query(CTX, "User", Query(filter=node, max_scan=CROWD - 1))
    assert (raised.value.resource_type, raised.value.limit) == ("User", CROWD - 1)
    assert combined == [] and evaluations == []
    assert storage.query(CTX, "User", Query(filter=node, max_scan=CROWD)).total == CROWD


@pytest.mark.parametrize("text", ['title co "ngi"', 'userName co "ex"', 'userName ew "le"', 'title pr',
                                  'displayName co "member" or title eq "x"'])
def test_filters_no_index_narrows_are_refused_past_the_bound(storage, monkeypatch, text):
    node = filter_of(storage, "User", text)
    evaluations = count_calls(monkeypatch, memory_module, "matches")
    with pytest.raises(ScanTooLarge):
        storage.query(CTX, "User", Query(filter=node, max_scan=CROWD - 1))
    assert evaluations == []
    expected = reference_ids(storage, CTX, "User", [f"u{n:03d}" for n in range(CROWD)], Query(filter=node))
    assert [r.id for r in query_all(storage, CTX, "User", Query(filter=node)).resources] == expected


@pytest.mark.parametrize("text, total", [
    ('userName sw "me"', CROWD),  # a short prefix: the sorted index answers it exactly
    ('displayName sw "member 00"', 10),
    ('externalId eq "EXT-004" and title co "ngi"', 1),  # an eq narrows: the unindexed side is checked on it
    ('externalId eq "EXT-004" and userName co "corp.example"', 1),  # intersected with the eq's one id
])
def test_exact_or_narrow_answers_ignore_the_bound(storage, text, total):
    node = filter_of(storage, "User", text)
    assert storage.query(CTX, "User", Query(filter=node, max_scan=1)).total == total


def test_group_display_names_are_trigram_indexed(storage):
    for n in range(20):
        storage.create(CTX, Resource("Group", f"g{n:02d}", {"displayName": f"Team {n:02d} Ops"}, T0, T0))
    node = filter_of(storage, "Group", 'displayName co "M 13 o"')
    assert isinstance(_tenant(storage).plan("Group", node), Trigrams)
    page = storage.query(CTX, "Group", Query(filter=node, max_scan=1, with_members=False))
    assert [r.id for r in page.resources] == ["g13"]


def test_case_exact_patterns_around_a_capital_sigma_still_find_their_values():
    # "ΑΑΣ".lower() ends in a final sigma, but inside "XΑΑΣΑY" it lower-cases to a medial one.
    storage = MemoryStorage(CATALOG)
    storage.create(CTX, Resource("User", "greek", {"userName": "greek", "externalId": "XΑΑΣΑY-ΒΓΔΣ"}, T0, T0))
    storage.create(CTX, Resource("User", "other", {"userName": "other", "externalId": "ααςα"}, T0, T0))
    for text, expected in (('externalId co "ΑΑΣ"', ["greek"]), ('externalId ew "ΒΓΔΣ"', ["greek"]),
                           ('externalId co "ΑΣΑY"', ["greek"]), ('externalId co "ααΣ"', [])):
        node = filter_of(storage, "User", text)
        assert [r.id for r in query_all(storage, CTX, "User", Query(filter=node)).resources] == expected, text
        assert expected == reference_ids(storage, CTX, "User", ["greek", "other"], Query(filter=node))


# Case folding traps (`İ` grows when lower-cased, final sigma, `ß`), shared runs and short words.
PIECES = ("", "a", "AB", "abc", "İ", "i̇", "ΣΑ", "ας", "ΑΣ", "ß", "SS", "xyz", "XyZ", "-", "@")


def _text():
    return st.lists(st.sampled_from(PIECES), max_size=4).map("".join)


def _data(n: int):
    emails = st.lists(st.fixed_dictionaries({"value": _text()}, optional={"type": st.sampled_from(("work", "home"))}),
                      max_size=2)
    return st.fixed_dictionaries({"userName": st.just(f"user{n}")}, optional={
        "displayName": _text(), "externalId": _text(), "title": _text(),
        "name": st.fixed_dictionaries({}, optional={"givenName": _text(), "familyName": _text()}), "emails": emails})


def _filter_text(draw) -> str:
    path = draw(st.sampled_from(SUBSTRING_INDEXED["User"]), label="path")
    op = draw(st.sampled_from(("co", "sw", "ew")), label="op")
    pattern = draw(_text(), label="pattern").replace("\\", "\\\\").replace('"', '\\"')
    compare = f'{path} {op} "{pattern}"'
    if path == "emails.value" and draw(st.booleans()):
        compare = f'emails[type eq "work" and value {op} "{pattern}"]'
    shape = draw(st.sampled_from(("{}", '{} and title co "a"', '{} or displayName eq "abc"', "not ({})")))
    return shape.format(compare)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_substrings_agree_with_the_reference_through_writes(data):
    storage = MemoryStorage(CATALOG)
    ids = []
    for n in range(data.draw(st.integers(1, 8), label="users")):
        try:
            ids.append(storage.create(CTX, Resource("User", f"u{n}", data.draw(_data(n)), T0, T0)).id)
        except UniqueConflict:
            pass
    for _ in range(data.draw(st.integers(0, 4), label="writes")):
        id = data.draw(st.sampled_from(ids))
        if data.draw(st.booleans()) and len(ids) > 1:
            storage.delete(CTX, "User", id)
            ids.remove(id)
        else:
            storage.update(CTX, "User", id, Change(data=data.draw(_data(int(id[1:])))), now=T0)
    assert {key: index.ids_by_gram for key, index in _tenant(storage).trigrams["User"].items()} == _rebuilt(storage)
    for _ in range(3):
        node = filter_of(storage, "User", _filter_text(data.draw))
        expected = reference_ids(storage, CTX, "User", ids, Query(filter=node))
        assert [r.id for r in query_all(storage, CTX, "User", Query(filter=node)).resources] == expected
        bound = data.draw(st.integers(0, len(ids)), label="max_scan")
        try:
            page = storage.query(CTX, "User", Query(filter=node, max_scan=bound, count=100))
        except ScanTooLarge:
            plan = _tenant(storage).plan("User", node)  # refused: a scan, or too many candidates
            assert (len(ids) > bound) if plan is None else (not plan.exact and plan.bound() > bound)
        else:
            assert [r.id for r in page.resources] == expected


def test_plans_bound_their_candidates_without_combining_them(monkeypatch):
    combined = count_calls(monkeypatch, plan_module, "_narrow")
    small, large = {"a", "b"}, {"a", "b", "c", "d"}
    plan = plan_module.Either(plan_module.Trigrams((large, small)), plan_module.Answer({"z"}), exact=False)
    assert plan.bound() == 3 and combined == []
    assert plan.ids() == {"a", "b", "z"}
    both = plan_module.Both(plan_module.Trigrams((large,)), plan_module.Answer({"c", "q"}), exact=False)
    assert both.bound() == 2 and both.ids() == {"c"}
