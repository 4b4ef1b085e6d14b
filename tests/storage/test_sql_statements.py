"""The SQL storage's per-request economy: statements cached by shape (literals and tenant bound,
never formatted in), the COUNT skipped when the page implies the total, a user's groups fetched
in the page's own statement, and one INSERT / DELETE per membership change."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from scimflask.filter.ast import AttrPath
from scimflask.model import Change, Member, Query, RequestContext, Resource, Sort
from scimflask.testing.contract_support import filter_of

from .sql_helpers import (  # noqa: F401 (sql_shared is a fixture)
    DATABASES,
    MYSQL_URL,
    drop,
    new_storage,
    sent_statements,
    sql_shared,
    storages,
    unique_prefix,
)

CTX = RequestContext(tenant="stmt-a")
OTHER = RequestContext(tenant="stmt-b")
NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


@pytest.fixture(params=DATABASES)
def storage(request, sql_shared):
    yield from storages(request, sql_shared)


def _sent(storage, call) -> list[tuple[str, object, bool]]:
    """(statement, parameters, executemany) of every statement `call()` sends."""
    return sent_statements(storage, call)


def _selects(sent) -> list:
    return [s for s in sent if s[0].lstrip().upper().startswith("SELECT")]


def _users(storage, ctx, n: int, start: int = 0) -> list[str]:
    ids = []
    for i in range(start, start + n):
        created = NOW + timedelta(seconds=i)
        ids.append(storage.create(ctx, Resource("User", str(uuid.uuid4()), {
            "userName": f"user{i:03d}", "title": "Engineer", "displayName": f"U {i}",
            "emails": [{"value": f"user{i}@work.example", "type": "work"}]}, created, created)).id)
    return ids


def _query(storage, text: str | None, ctx=CTX, resource_type="User", **kw):
    flt = None if text is None else filter_of(storage, resource_type, text)
    return storage.query(ctx, resource_type, Query(filter=flt, **kw))


# -- the COUNT shortcut ---------------------------------------------------------------------
def test_totals_on_every_page_and_count_only_when_needed(storage):
    ids = _users(storage, CTX, 7)
    seen = []
    for start, expected in ((1, ids[:3]), (4, ids[3:6]), (7, ids[6:]), (8, []), (50, [])):
        pages = []

        def call(pages=pages, start=start):
            pages.append(_query(storage, 'title eq "engineer"', start_index=start, count=3, with_groups=False))

        sent = _sent(storage, call)
        page = pages[0]
        assert [r.id for r in page.resources] == expected, start
        assert page.total == 7, start
        assert page.next_keyset is None or start + 3 <= 7
        seen += [r.id for r in page.resources]
        # The last page (a lookup's only one) knows its total; other pages ask a COUNT, which
        # reads the index, instead of a count(*) OVER () that carried every match's document.
        assert len(_selects(sent)) == (1 if start == 7 else 2), (start, sent)
        assert not any("OVER" in statement.upper() for statement, _, _ in sent), sent
    assert seen == ids


def test_an_empty_first_page_is_one_statement_with_total_zero(storage):
    _users(storage, CTX, 2)
    pages = []
    sent = _sent(storage, lambda: pages.append(_query(storage, 'userName eq "nobody"')))
    assert (pages[0].resources, pages[0].total) == ([], 0)
    assert len(_selects(sent)) == 1


def test_count_zero_and_keyset_pages_keep_exact_totals(storage):
    ids = _users(storage, CTX, 5)
    _users(storage, OTHER, 3, start=100)
    assert _query(storage, None, count=0).total == 5
    got, after = [], None
    while True:
        page = _query(storage, None, count=2, after=after)
        assert page.total == 5
        got += [r.id for r in page.resources]
        after = page.next_keyset
        if after is None:
            break
    assert got == ids
    # Descending by a value column, keyset through the end.
    sort = Sort(AttrPath(USER, "userName"), True)
    got, after = [], None
    while True:
        page = _query(storage, None, count=2, after=after, sort=sort)
        got += [r.id for r in page.resources]
        after = page.next_keyset
        if after is None:
            break
    assert got == list(reversed(ids))


# -- statements by shape ----------------------------------------------------------------------
def test_literals_and_tenant_are_bound_not_formatted(storage):
    _users(storage, CTX, 2)
    tricky = "o'brien\" OR 1=1 --"
    storage.create(CTX, Resource("User", str(uuid.uuid4()), {"userName": tricky}, NOW, NOW))
    pages = []
    text = 'userName eq "o\'brien\\" OR 1=1 --"'
    sent = _sent(storage, lambda: pages.append(_query(storage, text, with_groups=False)))
    assert [r.data["userName"] for r in pages[0].resources] == [tricky]
    (statement, parameters, _), = _selects(sent)
    for literal in ("o'brien", "brien", CTX.tenant):
        assert literal not in statement
    assert tricky.lower() in (list(parameters.values()) if isinstance(parameters, dict) else list(parameters))


def test_one_shape_serves_every_tenant_and_literal(storage):
    a = _users(storage, CTX, 3)
    b = _users(storage, OTHER, 3)  # same userNames in another tenant
    for ctx, ids in ((CTX, a), (OTHER, b), (CTX, a)):
        for i in range(3):
            page = _query(storage, f'userName eq "user{i:03d}"', ctx=ctx)
            assert [r.id for r in page.resources] == [ids[i]]
    shapes = [key for key in storage.statements if key[0] == "page"]
    assert len(shapes) == 1


def test_the_cache_keeps_resource_types_and_base_urls_apart(storage):
    user = _users(storage, CTX, 1)[0]
    group = storage.create(CTX, Resource("Group", str(uuid.uuid4()), {"displayName": "G"}, NOW, NOW)).id
    for _ in range(2):
        assert [r.id for r in _query(storage, 'meta.resourceType eq "User"').resources] == [user]
        assert [r.id for r in _query(storage, 'meta.resourceType eq "Group"', resource_type="Group").resources] \
            == [group]
        assert _query(storage, 'meta.resourceType eq "User"', resource_type="Group").resources == []
    for base, expected in (("https://a.example/scim", [user]), ("https://b.example/scim", [])):
        ctx = RequestContext(tenant=CTX.tenant, base_url=base)
        page = storage.query(ctx, "User", Query(filter=filter_of(
            storage, "User", f'meta.location eq "https://a.example/scim/Users/{user}"')))
        assert [r.id for r in page.resources] == expected, base


def test_same_shape_different_literal_kinds(storage):
    ids = _users(storage, CTX, 3)
    storage.update(CTX, "User", ids[1], Change(data={"userName": "user001", "active": True}), now=NOW)
    assert [r.id for r in _query(storage, "active eq true").resources] == [ids[1]]
    assert _query(storage, "active eq false").resources == []
    assert [r.id for r in _query(storage, 'userName ne "user001"').resources] == [ids[0], ids[2]]
    assert [r.id for r in _query(storage, 'not (userName eq "user002")').resources] == ids[:2]
    assert [r.id for r in _query(storage, 'userName eq "user000" or userName eq "user002"').resources] \
        == [ids[0], ids[2]]
    assert [r.id for r in _query(storage, 'emails[type eq "work" and value eq "user2@work.example"]')
            .resources] == [ids[2]]


def test_like_wildcards_in_literals_match_themselves(storage):
    for name in ("a%b", "a_b", "axb", "a/b", "a//b"):
        storage.create(CTX, Resource("User", str(uuid.uuid4()), {"userName": name}, NOW, NOW))

    def names(text):
        return sorted(r.data["userName"] for r in _query(storage, text).resources)

    assert names('userName sw "a%"') == ["a%b"]
    assert names('userName co "_"') == ["a_b"]
    assert names('userName ew "/b"') == ["a//b", "a/b"]
    assert names('userName co "//"') == ["a//b"]
    assert names('userName sw "a"') == ["a%b", "a//b", "a/b", "a_b", "axb"]


# -- groups in the page's statement -------------------------------------------------------------
def test_users_and_their_groups_are_one_statement(storage):
    ids = _users(storage, CTX, 3)
    groups = sorted(
        (storage.create(CTX, Resource("Group", str(uuid.uuid4()), {"displayName": name}, NOW, NOW,
                                      members=[Member(ids[0]), Member(ids[1])])).id, name)
        for name in ("Zeta", "Alpha", "Mu"))
    storage.create(CTX, Resource("Group", str(uuid.uuid4()), {}, NOW, NOW, members=[Member(ids[0])]))
    pages = []
    sent = _sent(storage, lambda: pages.append(_query(storage, 'title eq "engineer"')))
    assert len(_selects(sent)) == 1
    by_id = {r.id: r for r in pages[0].resources}
    expected = [(id, name) for id, name in groups]
    assert [(g.value, g.display) for g in by_id[ids[1]].groups] == expected
    assert [g.display for g in by_id[ids[0]].groups].count(None) == 1
    assert len(by_id[ids[0]].groups) == 4
    assert by_id[ids[2]].groups == []
    gets = []
    sent = _sent(storage, lambda: gets.append(storage.get(CTX, "User", ids[1])))
    assert len(_selects(sent)) == 1
    assert [(g.value, g.display) for g in gets[0].groups] == expected
    assert storage.get(CTX, "User", ids[1], with_groups=False).groups is None
    assert _query(storage, 'userName eq "user001"', with_groups=False).resources[0].groups is None


# -- membership changes --------------------------------------------------------------------------
def test_a_hundred_members_are_one_insert_and_one_delete(storage):
    ids = _users(storage, CTX, 120)
    group = storage.create(CTX, Resource("Group", str(uuid.uuid4()), {"displayName": "G"}, NOW, NOW,
                                         members=[Member(id) for id in ids[100:]]))
    sent = _sent(storage, lambda: storage.update(
        CTX, "Group", group.id, Change(add_members=[Member(id) for id in ids[:100] + ids[100:105]]), now=NOW))
    dialect = storage.engine.dialect.name
    if dialect == "postgresql":
        # One statement on the server, not one per row, that also checks the members and
        # takes their types: WITH given … known … INSERT … SELECT the unknown ids.
        inserts = [s for s in sent if s[0].lstrip().upper().startswith("WITH")]
        assert len(inserts) == 1 and "INSERT INTO" in inserts[0][0].upper() and inserts[0][2] is False
    else:
        inserts = [s for s in sent if s[0].lstrip().upper().startswith("INSERT")]
        assert len(inserts) == 1
    # The group row: bumped and read back by UPDATE … RETURNING where the database has it,
    # else a locking read and an UPDATE. The types of the added members: their own SELECT
    # except on PostgreSQL.
    updates = [s for s in sent if s[0].lstrip().upper().startswith("UPDATE")]
    assert len(updates) == 1
    returning = storage.engine.dialect.update_returning
    assert ("RETURNING" in updates[0][0].upper()) is returning
    assert len(_selects(sent)) == (0 if returning else 1) + (0 if dialect == "postgresql" else 1)
    assert len(storage.get(CTX, "Group", group.id).members) == 120
    sent = _sent(storage, lambda: storage.update(CTX, "Group", group.id, Change(remove_members=ids[:100]),
                                                 now=NOW))
    deletes = [s for s in sent if s[0].lstrip().upper().startswith("DELETE")]
    assert len(deletes) == 1
    assert sorted(m.value for m in storage.get(CTX, "Group", group.id).members) == sorted(ids[100:])


@pytest.mark.mysql
@pytest.mark.skipif(not MYSQL_URL, reason="SCIMFLASK_TEST_MYSQL_URL is not set")
def test_groups_cut_by_group_concat_max_len_are_read_separately():
    storage = new_storage(MYSQL_URL, table_prefix=unique_prefix(), engine_options={
        "connect_args": {"charset": "utf8mb4", "init_command": "SET SESSION group_concat_max_len = 64"}})
    try:
        user = _users(storage, CTX, 1)[0]
        groups = sorted(storage.create(CTX, Resource("Group", str(uuid.uuid4()), {"displayName": f"g{n}"}, NOW,
                                                     NOW, members=[Member(user)])).id for n in range(5))
        assert [g.value for g in storage.get(CTX, "User", user).groups] == groups
        assert [g.value for g in _query(storage, 'userName eq "user000"').resources[0].groups] == groups
    finally:
        drop(storage)


def test_a_shared_node_does_not_bind_another_filters_literals(storage):
    """Parameters follow positions: a tree reusing one node object for two leaves gets a shape
    of its own, so a later tree of distinct leaves is not served its statement."""
    from scimflask.filter.ast import Compare, Or

    ids = _users(storage, CTX, 3)
    leaf = filter_of(storage, "User", 'userName eq "user000"')
    shared = Or(leaf, leaf)
    assert [r.id for r in storage.query(CTX, "User", Query(filter=shared)).resources] == ids[:1]
    distinct = Or(Compare(leaf.path, "eq", "user001"), Compare(leaf.path, "eq", "user002"))
    assert [r.id for r in storage.query(CTX, "User", Query(filter=distinct)).resources] == ids[1:]
