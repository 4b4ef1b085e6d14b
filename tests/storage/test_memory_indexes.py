"""The memory backend's indexes and per-request economy: sorted `sw` / `eq` indexes agree with
the reference evaluator on tricky values through writes, lookups copy only the page and build
no documents, and nothing handed out aliases the store."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scimflask_memory import MemoryStorage
from scimflask_memory import storage as memory_module

from scimflask.filter.ast import EQ, SW, And, AttrPath, Compare, Not, Or, ValuePath
from scimflask.model import Change, Member, Query, RequestContext, Resource
from scimflask.schema import default_catalog
from scimflask.storage import UniqueConflict
from scimflask.testing.contract_support import filter_of, query_all, reference_ids, sort_of

from .spies import count_calls

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
CTX = RequestContext(tenant="indexes", base_url="https://scim.example/scim/v2")
T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
CATALOG = default_catalog()

# Case folding traps (`İ`.lower() grows, `ß`/`ǅ` titlecase), prefixes of each other, the empty
# string, NUL and the largest code point (bisection bounds).
WORDS = ("", "a", "A", "ab", "aB", "Ab", "abc", "b", "İ", "i̇", "i", "ß", "SS", "ss", "ǅ", "ǆ", "Ǆ",
         "a\x00", "\U0010ffff", "a\U0010ffff", "Fam1", "fam10", "FAM2", "fam")


def _value():
    return st.one_of(st.sampled_from(WORDS), st.builds(str.__add__, st.sampled_from(WORDS), st.sampled_from(WORDS)))


def _data(n: int):
    emails = st.lists(st.fixed_dictionaries({}, optional={
        "value": _value(), "type": st.sampled_from(("work", "home"))}), max_size=3)
    return st.fixed_dictionaries({"userName": st.just(f"user{n}")}, optional={
        "displayName": _value(), "externalId": _value(),
        "name": st.fixed_dictionaries({}, optional={"familyName": _value(), "givenName": _value()}),
        "emails": emails,
    })


PATHS = [AttrPath(CORE, "userName"), AttrPath(CORE, "displayName"), AttrPath(CORE, "externalId"),
         AttrPath(CORE, "name", "familyName"), AttrPath(CORE, "name", "givenName"),
         AttrPath(CORE, "emails", "value")]


def _compare():
    return st.builds(Compare, st.sampled_from(PATHS), st.sampled_from((EQ, SW)),
                     st.one_of(_value(), st.sampled_from((None, 1, True))))


def _filters():
    email = st.builds(Compare, st.just(AttrPath(CORE, "emails", "value")), st.sampled_from((EQ, SW)), _value())
    email_type = st.builds(Compare, st.just(AttrPath(CORE, "emails", "type")), st.just(EQ),
                           st.sampled_from(("work", "home")))
    value_paths = st.builds(ValuePath, st.just(AttrPath(CORE, "emails")), st.one_of(
        email, st.builds(And, email_type, email), st.builds(Or, email, email)))
    leaf = st.one_of(_compare(), value_paths)
    return st.recursive(leaf, lambda children: st.one_of(
        st.builds(And, children, children), st.builds(Or, children, children), st.builds(Not, children)),
        max_leaves=3)


def _user(storage, n: int, data: dict, when: datetime) -> str | None:
    try:
        return storage.create(CTX, Resource("User", f"u{n:03d}", data, when, when)).id
    except UniqueConflict:
        return None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_sw_and_eq_agree_with_the_reference_through_writes(data):
    storage = MemoryStorage(CATALOG)
    ids = []
    for n in range(data.draw(st.integers(1, 12), label="users")):
        when = T0 + timedelta(milliseconds=data.draw(st.integers(0, 3)))  # ties in created
        id = _user(storage, n, data.draw(_data(n)), when)
        if id is not None:
            ids.append(id)
    for _ in range(data.draw(st.integers(0, 6), label="writes")):
        if not ids:
            break
        id = data.draw(st.sampled_from(ids))
        if data.draw(st.booleans()):
            storage.delete(CTX, "User", id)
            ids.remove(id)
        else:
            new = data.draw(_data(int(id[1:])))
            storage.update(CTX, "User", id, Change(data=new), now=T0 + timedelta(days=1))
    for _ in range(4):
        flt = data.draw(_filters(), label="filter")
        query = Query(filter=flt)
        expected = reference_ids(storage, CTX, "User", ids, query)
        page = query_all(storage, CTX, "User", query)
        assert [r.id for r in page.resources] == expected
        assert page.total == len(expected)
        # and the pages of an index answer add up, in order
        paged, start = [], 1
        while start <= len(expected):
            paged += [r.id for r in storage.query(CTX, "User", Query(filter=flt, count=2, start_index=start)).resources]
            start += 2
        assert paged == expected


@pytest.fixture
def storage():
    storage = MemoryStorage(CATALOG)
    for n in range(40):
        when = T0 + timedelta(milliseconds=n // 3)  # several users per millisecond
        storage.create(CTX, Resource("User", f"u{n:02d}", {
            "userName": f"user{n}", "displayName": f"Given{n} Fam{n}",
            "name": {"familyName": f"Fam{n}", "givenName": f"Given{n}"},
            "emails": [{"value": f"user{n}@Work.example", "type": "work"}]}, when, when))
    return storage


@pytest.mark.parametrize("text", [
    'userName eq "USER7"', 'externalId eq "x"', 'displayName eq "given7 fam7"',
    'emails.value eq "user7@work.example"', 'emails[value eq "user7@work.example"]',
    'name.familyName sw "fam1"', 'name.familyName sw "Fam1" or userName eq "user2"',
])
def test_index_answers_copy_only_the_page_and_build_no_document(storage, monkeypatch, text):
    node = filter_of(storage, "User", text)
    everything = query_all(storage, CTX, "User", Query(filter=node))
    copies = count_calls(monkeypatch, Resource, "copy")
    documents = count_calls(monkeypatch, Resource, "document")
    evaluations = count_calls(monkeypatch, memory_module, "matches")
    page = storage.query(CTX, "User", Query(filter=node, count=3))
    assert [r.id for r in page.resources] == [r.id for r in everything.resources][:3]
    assert page.total == everything.total
    assert len(copies) == len(page.resources)
    assert documents == [] and evaluations == []


def test_value_path_with_a_condition_evaluates_only_the_candidates(storage, monkeypatch):
    node = filter_of(storage, "User", 'emails[type eq "work"].value eq "USER7@work.example"')
    evaluations = count_calls(monkeypatch, memory_module, "matches")
    documents = count_calls(monkeypatch, Resource, "document")
    assert [r.id for r in storage.query(CTX, "User", Query(filter=node)).resources] == ["u07"]
    assert len(evaluations) == 1 and documents == []


def test_sw_index_follows_updates_deletes_and_creates(storage):
    node = filter_of(storage, "User", 'name.familyName sw "fam1"')

    def found():
        page = storage.query(CTX, "User", Query(filter=node, count=4, start_index=2))
        return page.total, [r.id for r in page.resources]

    assert found() == (11, ["u10", "u11", "u12", "u13"])
    user = storage.get(CTX, "User", "u10")
    storage.update(CTX, "User", "u10", Change(data={**user.data, "name": {"familyName": "Other"}}), now=T0)
    storage.delete(CTX, "User", "u12")
    user = storage.get(CTX, "User", "u20")
    storage.update(CTX, "User", "u20", Change(data={**user.data, "name": {"familyName": "FAM1x"}}), now=T0)
    assert found() == (10, ["u11", "u13", "u14", "u15"])
    when = T0 - timedelta(days=1)  # created first: heads the default order
    storage.create(CTX, Resource("User", "u99", {"userName": "new", "name": {"familyName": "fam1"}}, when, when))
    assert found() == (11, ["u01", "u11", "u13", "u14"])


def test_default_order_follows_creates_and_deletes_with_ties_by_id(storage):
    when = T0 + timedelta(microseconds=1500)  # shown as .001: ties with u03..u05
    storage.create(CTX, Resource("User", "u00b", {"userName": "tie"}, when, when))
    storage.delete(CTX, "User", "u04")
    page = storage.query(CTX, "User", Query(count=6))
    assert [r.id for r in page.resources] == ["u00", "u01", "u02", "u00b", "u03", "u05"]
    assert page.total == 40


@pytest.mark.parametrize("sort", [None, ("displayName", True), ("name.familyName", False)])
def test_keyset_pages_walk_the_reference_order(storage, sort):
    node = filter_of(storage, "User", 'name.familyName sw "fam"')
    sorting = None if sort is None else sort_of(storage, "User", *sort)
    expected = reference_ids(storage, CTX, "User", [f"u{n:02d}" for n in range(40)], Query(filter=node, sort=sorting))
    seen, after = [], None
    while True:
        page = storage.query(CTX, "User", Query(filter=node, sort=sorting, count=7, after=after))
        seen += [r.id for r in page.resources]
        if page.next_keyset is None:
            break
        after = page.next_keyset
    assert seen == expected


def test_nothing_handed_out_aliases_the_store(storage):
    storage.create(CTX, Resource("Group", "g1", {"displayName": "G"}, T0, T0, members=[Member("u01")]))
    node = filter_of(storage, "User", 'userName eq "user1"')
    handed = [storage.get(CTX, "User", "u01"), storage.query(CTX, "User", Query(filter=node)).resources[0],
              storage.query(CTX, "User", Query(count=5)).resources[1]]
    user = storage.get(CTX, "User", "u01")
    handed.append(storage.update(CTX, "User", "u01", Change(data=user.data), now=T0))
    for resource in handed:
        resource.data["name"]["familyName"] = "mutated"
        resource.data["emails"][0]["value"] = "mutated"
        resource.data["userName"] = "mutated"
        if resource.groups:
            resource.groups[0].value = "mutated"
    group = storage.get(CTX, "Group", "g1")
    group.members[0].value = "mutated"
    group.data["displayName"] = "mutated"
    again = storage.get(CTX, "User", "u01")
    assert again.data["name"]["familyName"] == "Fam1" and again.data["userName"] == "user1"
    assert again.data["emails"][0]["value"] == "user1@Work.example"
    assert [g.value for g in again.groups] == ["g1"]
    stored = storage.get(CTX, "Group", "g1")
    assert [m.value for m in stored.members] == ["u01"] and stored.data["displayName"] == "G"
    for text in ('name.familyName sw "mutated"', 'userName eq "mutated"', 'emails.value eq "mutated"'):
        assert storage.query(CTX, "User", Query(filter=filter_of(storage, "User", text))).total == 0


def test_membership_lookups_are_exact_and_follow_changes(storage, monkeypatch):
    storage.create(CTX, Resource("Group", "g1", {"displayName": "One"}, T0, T0,
                                 members=[Member("u01"), Member("u02")]))
    storage.create(CTX, Resource("Group", "g2", {"displayName": "Two"}, T0, T0, members=[Member("u02")]))
    storage.update(CTX, "Group", "g1", Change(remove_members=["u02"], add_members=[Member("g2")]), now=T0)
    evaluations = count_calls(monkeypatch, memory_module, "matches")
    groups = {text: [r.id for r in storage.query(CTX, "Group", Query(
        filter=filter_of(storage, "Group", text), with_members=False)).resources]
        for text in ('members[value eq "u02"]', 'members.value eq "g2"', 'id eq "g1" and members eq "u01"',
                     'members[value eq "U02"]')}
    assert groups == {'members[value eq "u02"]': ["g2"], 'members.value eq "g2"': ["g1"],
                      'id eq "g1" and members eq "u01"': ["g1"], 'members[value eq "U02"]': []}
    users = storage.query(CTX, "User", Query(filter=filter_of(storage, "User", 'groups.value eq "g1"')))
    assert [r.id for r in users.resources] == ["u01"]
    assert evaluations == []
    storage.delete(CTX, "User", "u01")
    assert storage.query(CTX, "Group", Query(filter=filter_of(storage, "Group", 'members eq "u01"'))).total == 0


def test_later_pages_of_a_listing_come_from_the_cached_order(storage, monkeypatch):
    from scimflask_memory.tenant import Tenant

    monkeypatch.setattr(memory_module, "SMALL", 8)  # 40 matches count as a listing
    node = filter_of(storage, "User", 'name.familyName sw "fam"')
    first = storage.query(CTX, "User", Query(filter=node, count=10))
    lookups = count_calls(monkeypatch, Tenant, "lookup")
    copies = count_calls(monkeypatch, Resource, "copy")
    second = storage.query(CTX, "User", Query(filter=node, count=10, start_index=11))
    assert lookups == [] and len(copies) == 10
    assert (first.total, second.total) == (40, 40)
    assert [r.id for r in first.resources + second.resources] == [f"u{n:02d}" for n in range(20)]
    storage.delete(CTX, "User", "u00")
    assert storage.query(CTX, "User", Query(filter=node, count=10, start_index=11)).resources[0].id == "u11"
    assert lookups == [1]
