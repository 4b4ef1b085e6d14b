"""The SQL storage's hot-path work: planner statistics it keeps itself, the driving row of
value-path filters, a capped member count, and PATCH rewriting only the changed rows."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from scimflask_sql.compile import FilterCompiler, _split_driver
from scimflask_sql.statistics import GROWTH, MIN_ROWS
from scimflask_sql.values import unique_rows, value_rows
from sqlalchemy import select, text

from scimflask.model import Change, Member, Query, RequestContext, Resource
from scimflask.storage import ConfigurationError, ResourceNotFound, UniqueConflict, VersionMismatch
from scimflask.testing.contract_support import filter_of

from .sql_helpers import (  # noqa: F401 (sql_shared is a fixture)
    DATABASES,
    POSTGRES_URL,
    drop,
    new_storage,
    sent_statements,
    sql_shared,
    storages,
    unique_prefix,
)

CTX = RequestContext(tenant="hot")
NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(params=DATABASES)
def storage(request, sql_shared):
    yield from storages(request, sql_shared)


def _user(n: int, **data) -> Resource:
    return Resource("User", str(uuid.uuid4()), {
        "userName": f"user{n}", "externalId": f"ext-{n}", "title": "Engineer",
        "emails": [{"value": f"user{n}@work.example", "type": "work"},
                   {"value": f"user{n}@home.example", "type": "home"}], **data}, NOW, NOW)


def _sent(storage, call, kinds: tuple[str, ...]) -> list[tuple[str, object]]:
    """The (statement, parameters) pairs starting with one of `kinds` that `call()` sends."""
    return [(statement, parameters) for statement, parameters, _ in sent_statements(storage, call)
            if statement.lstrip().upper().startswith(kinds)]


# -- planner statistics -------------------------------------------------------------------
def test_sqlite_analyzes_itself_as_the_directory_grows(tmp_path):
    storage = new_storage(f"sqlite:///{tmp_path / 'grow.db'}")
    storage.statistics.interval = 16
    try:
        for n in range(MIN_ROWS + 40):
            storage.create(CTX, _user(n))
        with storage.engine.connect() as connection:
            first = connection.execute(text("SELECT stat FROM sqlite_stat1 WHERE tbl = :t"),
                                       {"t": storage.tables.resources.name}).scalar()
        assert first is not None, "no statistics were gathered"
        analysed = int(first.split()[0])
        assert storage.statistics.refresh(storage.engine) is False  # fresh: nothing to do

        for n in range(MIN_ROWS + 40, analysed * GROWTH + 1):
            storage.create(CTX, _user(n))
        storage.statistics.refresh(storage.engine)
        with storage.engine.connect() as connection:
            later = connection.execute(text("SELECT stat FROM sqlite_stat1 WHERE tbl = :t"),
                                       {"t": storage.tables.resources.name}).scalar()
        assert int(later.split()[0]) > analysed

        # With statistics the lookup probes the primary key instead of walking the tenant.
        query = Query(filter=filter_of(storage, "User", 'userName eq "user7"'), with_groups=False)
        storage.statistics.interval = 10**9  # no check among the statements captured below
        pages = []
        sent = _sent(storage, lambda: pages.append(storage.query(CTX, "User", query)), ("SELECT",))
        assert [r.data["userName"] for r in pages[0].resources] == ["user7"]
        (statement, parameters), = sent
        with storage.engine.connect() as connection:
            plan = "\n".join(row[3] for row in connection.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + statement, parameters))
        assert "ix_resources_created" not in plan, plan
    finally:
        storage.close()


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="SCIMFLASK_TEST_POSTGRES_URL is not set")
def test_postgresql_analyzes_tables_never_analyzed():
    storage = new_storage(POSTGRES_URL, table_prefix=unique_prefix())
    try:
        for n in range(MIN_ROWS + 10):
            storage.create(CTX, _user(n))
        table = storage.tables.resources.name
        analysed = None
        for _ in range(40):  # the server publishes table statistics about once a second
            storage.statistics.refresh(storage.engine)
            with storage.engine.connect() as connection:
                analysed = connection.execute(text(
                    "SELECT coalesce(last_analyze, last_autoanalyze) FROM pg_stat_user_tables "
                    "WHERE relname = :t AND schemaname = current_schema()"), {"t": table}).scalar()
            if analysed is not None:
                break
            time.sleep(0.1)
        assert analysed is not None
    finally:
        drop(storage)


# -- value paths: the selective condition drives ------------------------------------------
@pytest.mark.parametrize("text, driver", [
    ('emails[type eq "work" and value eq "a@b.c"]', "value"),
    ('emails[value eq "a@b.c" and type eq "work"]', "value"),
    ('emails[primary eq true and value sw "a"]', "value"),
    ('emails[type eq "work" and value pr]', "type"),
])
def test_value_path_is_driven_by_its_most_selective_condition(text, driver):
    storage = new_storage("sqlite://")
    compiler = FilterCompiler(storage.tables, storage.catalog, storage.catalog.resource_type("User"), "t", "")
    node = filter_of(storage, "User", text)
    chosen, rest = _split_driver(node.filter, compiler._selectivity)
    assert chosen.path.sub_attribute == driver
    assert rest is not None


def test_value_path_lookup_finds_the_one_user(storage):
    users = [storage.create(CTX, _user(n)) for n in range(30)]
    for filter_text in ('emails[type eq "work" and value eq "user7@work.example"]',
                        'emails[type eq "work"].value eq "USER7@work.example"'):
        page = storage.query(CTX, "User", Query(filter=filter_of(storage, "User", filter_text)))
        assert [r.id for r in page.resources] == [users[7].id]
    page = storage.query(CTX, "User", Query(filter=filter_of(
        storage, "User", 'emails[type eq "home" and value eq "user7@work.example"]')))
    assert page.resources == []


# -- count_members(up_to=...) -------------------------------------------------------------
def test_count_members_stops_after_the_threshold(storage):
    users = [storage.create(CTX, _user(n)) for n in range(6)]
    group = storage.create(CTX, Resource("Group", str(uuid.uuid4()), {"displayName": "g"}, NOW, NOW,
                                         members=[Member(u.id) for u in users]))
    assert storage.count_members(CTX, group.id) == 6
    assert storage.count_members(CTX, group.id, up_to=10) == 6
    assert storage.count_members(CTX, group.id, up_to=6) == 6
    assert storage.count_members(CTX, group.id, up_to=3) == 4  # "more than 3"
    assert storage.count_members(CTX, group.id, up_to=0) == 1


# -- PATCH writes only the changed rows ----------------------------------------------------
def _rows(storage, resource_id: str) -> tuple[list, list]:
    v, u = storage.tables.values, storage.tables.uniques
    with storage.engine.connect() as connection:
        values = connection.execute(select(v.c.attr, v.c.sub, v.c.elem, v.c.key, v.c.num, v.c.sort_rep)
                                    .where(v.c.tenant == CTX.tenant, v.c.resource_id == resource_id)).all()
        uniques = connection.execute(select(u.c.attr, u.c.digest).where(
            u.c.tenant == CTX.tenant, u.c.resource_id == resource_id)).all()
    return sorted(tuple(row) for row in values), sorted(tuple(row) for row in uniques)


def _expected(storage, resource_id: str, data: dict) -> tuple[list, list]:
    rt = storage.catalog.resource_type("User")
    values = [(r["attr"], r["sub"], r["elem"], r["key"], r["num"], r["sort_rep"])
              for r in value_rows(storage.catalog, rt, CTX.tenant, resource_id, data)]
    uniques = [(r["attr"], r["digest"]) for _, r in unique_rows(storage.catalog, rt, CTX.tenant, resource_id, data)]
    return sorted(values), sorted(uniques)


def test_patch_of_one_attribute_rewrites_only_its_rows(storage):
    user = storage.create(CTX, _user(1))
    data = {**user.data, "title": "Manager"}
    later = NOW + timedelta(seconds=5)
    written = [s for s, _ in _sent(storage, lambda: storage.update(CTX, "User", user.id, Change(data=data),
                                                                 now=later), ("INSERT", "DELETE"))]
    uniques_table = storage.tables.uniques.name
    assert not any(uniques_table in s for s in written), written  # userName did not change
    assert len(written) == 2, written  # one DELETE and one INSERT of the title rows
    assert _rows(storage, user.id) == _expected(storage, user.id, data)
    stored = storage.get(CTX, "User", user.id)
    assert stored.data["title"] == "Manager" and stored.version == 2 and stored.last_modified == later


def _kinds(sent) -> list[str]:
    return [statement.lstrip().split()[0].upper() for statement, _, _ in sent]


def test_patch_from_its_base_reads_nothing(storage):
    """With the resource it was computed from, an update is the version-checked UPDATE and
    the changed rows: no locking read. On PostgreSQL, when no unique attribute changes, that is
    one statement in autocommit (no BEGIN/COMMIT). Without a base, the row is read first."""
    user = storage.create(CTX, _user(1))
    data = {**user.data, "title": "Manager"}
    sent = sent_statements(storage, lambda: storage.update(CTX, "User", user.id, Change(data=data, base=user),
                                                           expected_version=1, now=NOW))
    if storage.engine.dialect.name == "postgresql":
        assert _kinds(sent) == ["WITH"], sent
        assert all(word in sent[0][0].upper() for word in ("UPDATE", "DELETE", "INSERT"))
    else:
        assert _kinds(sent) == ["UPDATE", "DELETE", "INSERT"], sent
    assert _rows(storage, user.id) == _expected(storage, user.id, data)
    stored = storage.get(CTX, "User", user.id)
    assert (stored.data, stored.version, stored.created) == (data, 2, user.created)
    # A stale base changes nothing, on the one-statement path as on the others.
    with pytest.raises(VersionMismatch):
        storage.update(CTX, "User", user.id, Change(data={**data, "title": "Lost"}, base=user),
                       expected_version=1, now=NOW)
    assert _rows(storage, user.id) == _expected(storage, user.id, data)
    # A userName change must name the attribute on conflict: not the one-statement path.
    storage.create(CTX, _user(2))
    with pytest.raises(UniqueConflict) as info:
        storage.update(CTX, "User", stored.id, Change(data={**data, "userName": "USER2"}, base=stored),
                       expected_version=2, now=NOW)
    assert info.value.attribute == "userName"
    assert _rows(storage, user.id) == _expected(storage, user.id, data)
    again = {**data, "title": "Director"}
    sent = _sent(storage, lambda: storage.update(CTX, "User", user.id, Change(data=again),
                                                 expected_version=2, now=NOW), ("SELECT", "UPDATE"))
    assert [s.lstrip().split()[0].upper() for s, _ in sent] == ["SELECT", "UPDATE"], sent


def test_a_create_is_one_statement_on_postgresql(storage):
    """A create without members: on PostgreSQL one statement in autocommit (the row, its
    `uniques` and its `values` rows); elsewhere the row, one INSERT per unique value (so a
    conflict names its attribute), one of the values (and, on MySQL, one of the trigrams).
    The count is the regression guard: one more statement per create is a round trip more."""
    storage.create(CTX, _user(0))  # the first write of a storage may read its planner statistics
    user = _user(1)
    rt = storage.catalog.resource_type("User")
    sent = sent_statements(storage, lambda: storage.create(CTX, user))
    uniques = len(unique_rows(storage.catalog, rt, CTX.tenant, user.id, user.data))
    if storage.engine.dialect.name == "postgresql":
        assert _kinds(sent) == ["WITH"], sent
        assert sent[0][0].upper().count("INSERT") == 3
    else:
        trigrams = 1 if storage.engine.dialect.name == "mysql" else 0
        assert _kinds(sent) == ["INSERT"] * (2 + uniques + trigrams), sent
        assert sum(many for _, _, many in sent) == 1 + trigrams  # values (and trigrams): one executemany
    assert _rows(storage, user.id) == _expected(storage, user.id, user.data)
    stored = storage.get(CTX, "User", user.id)
    assert (stored.data, stored.version) == (user.data, 1)
    found = storage.query(CTX, "User", Query(filter=filter_of(storage, "User", 'userName sw "USER1"')))
    assert [r.id for r in found.resources] == [user.id]  # the substring index has it


def test_a_create_that_meets_a_taken_value_names_it_and_writes_nothing(storage):
    """The one-statement create fails whole on a taken value; the create is then written
    statement by statement, whose conflict names the attribute. Nothing of it is left."""
    first = storage.create(CTX, _user(1))
    clash = _user(2, userName="USER1")
    with pytest.raises(UniqueConflict) as info:
        storage.create(CTX, clash)
    assert info.value.attribute == "userName"
    assert _rows(storage, clash.id) == ([], [])
    with pytest.raises(ResourceNotFound):
        storage.get(CTX, "User", clash.id)
    taken_id = Resource("User", first.id, {"userName": "someone-else"}, NOW, NOW)
    with pytest.raises(UniqueConflict) as info:
        storage.create(CTX, taken_id)
    assert info.value.attribute == "id"
    assert storage.get(CTX, "User", first.id).data == first.data
    page = storage.query(CTX, "User", Query(filter=filter_of(storage, "User", 'userName eq "someone-else"')))
    assert page.resources == [] and page.total == 0
    # Another tenant may hold the same userName: uniqueness is per tenant.
    other = RequestContext(tenant="hot-other")
    storage.create(other, _user(1))
    assert storage.create(CTX, _user(3)).version == 1


@pytest.mark.skipif(not POSTGRES_URL, reason="SCIMFLASK_TEST_POSTGRES_URL is not set")
def test_postgresql_commits_durably_unless_told_otherwise():
    """PostgreSQL's default durability by default; asynchronous commit only as the opt-in
    storage option `synchronous_commit=False`, which must be a boolean."""
    for options, expected in (({}, "on"), ({"synchronous_commit": True}, "on"),
                              ({"synchronous_commit": False}, "off")):
        storage = new_storage(POSTGRES_URL, table_prefix=unique_prefix(), **options)
        try:
            with storage.engine.connect() as connection:
                assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == expected, options
        finally:
            drop(storage)
    with pytest.raises(ConfigurationError, match="synchronous_commit"):
        new_storage(POSTGRES_URL, synchronous_commit="off")


ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.mark.parametrize("with_base", [False, True], ids=["locking-read", "from-base"])
def test_rewritten_rows_match_the_data_through_a_sequence_of_changes(storage, with_base):
    first, second = storage.create(CTX, _user(1)), storage.create(CTX, _user(2))
    renamed = {**first.data, "userName": "renamed"}
    steps = [
        renamed,                                                                    # unique changes
        {k: v for k, v in renamed.items() if k not in ("title", "externalId")},     # removals
        {**renamed, "emails": [{"value": "only@x.example", "type": "other", "primary": True}]},
        {**renamed, "nickName": "nick", "active": False},                           # additions
        {**renamed, ENTERPRISE: {"department": "Sales", "employeeNumber": "7"}},    # an extension
        {**renamed, ENTERPRISE: {"department": "Ops", "employeeNumber": "7"}},      # one inner value
        {**renamed, ENTERPRISE: {"employeeNumber": "8", "costCenter": "C1"}},       # inner add/remove
        renamed,                                                                    # extension gone
    ]
    current = first
    for version, data in enumerate(steps, start=2):
        change = Change(data=data, base=current if with_base else None)
        updated = storage.update(CTX, "User", first.id, change, expected_version=version - 1, now=NOW)
        assert updated.version == version and updated.data == data and updated.created == first.created
        assert _rows(storage, first.id) == _expected(storage, first.id, data)
        current = updated
    # The old userName is free again; the new one is taken.
    storage.update(CTX, "User", second.id, Change(data={**second.data, "userName": "user1"}), now=NOW)
    with pytest.raises(UniqueConflict):
        storage.update(CTX, "User", second.id, Change(data={**second.data, "userName": "RENAMED"}), now=NOW)
    assert _rows(storage, second.id) == _expected(storage, second.id, {**second.data, "userName": "user1"})
    page = storage.query(CTX, "User", Query(filter=filter_of(storage, "User", 'userName eq "user1"')))
    assert [r.id for r in page.resources] == [second.id]
