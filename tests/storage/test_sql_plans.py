"""The SQL the storage emits for hot lookups uses an index, on a directory of 10,000 users.

Each test runs the storage call, captures the statement it sent, and asks the database for its
plan (SQLite `EXPLAIN QUERY PLAN`, PostgreSQL `EXPLAIN (FORMAT JSON)`, MySQL `EXPLAIN`): a full
scan of a scimflask table fails the test. Statistics are gathered first (ANALYZE), as
autovacuum / auto-analyze do on a live database; no planner switch is turned off.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import event

from scimflask.model import Change, Member, Query, RequestContext, Resource
from scimflask.testing.contract_support import filter_of

from .sql_helpers import DATABASES, bulk_users, drop, new_storage, unique_prefix

CTX = RequestContext(tenant="plans")
USERS = 10_000
GROUPS = 20


@pytest.fixture(scope="module", params=DATABASES)
def directory(request):
    """(storage, user ids, group ids) for 10,000 users and 20 groups of 100 members."""
    uri = request.param
    storage = new_storage(uri, table_prefix=unique_prefix())
    ids = bulk_users(storage, CTX, [{
        "userName": f"user{n:05d}", "externalId": f"ext-{n}", "displayName": f"User {n}",
        "emails": [{"value": f"user{n}@example.com", "type": "work"},
                   {"value": f"user{n}@home.example", "type": "home"}],
    } for n in range(USERS)])
    now = datetime.now(timezone.utc)
    groups = []
    for g in range(GROUPS):
        group = storage.create(CTX, Resource("Group", str(uuid.uuid4()), {"displayName": f"group {g}"}, now, now))
        storage.update(CTX, "Group", group.id, Change(add_members=[Member(id) for id in ids[g::GROUPS][:100]]),
                       now=now)
        groups.append(group.id)
    with storage.engine.begin() as connection:
        if connection.dialect.name in ("postgresql", "sqlite"):
            connection.exec_driver_sql("ANALYZE")
        else:
            for table in storage.tables.metadata.sorted_tables:
                connection.exec_driver_sql(f"ANALYZE TABLE {table.name}")
    yield storage, ids, groups
    drop(storage)


def captured(storage, call) -> list[tuple[str, object]]:
    """The (statement, parameters) pairs `call()` sends."""
    statements: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append((statement, parameters))

    event.listen(storage.engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        event.remove(storage.engine, "before_cursor_execute", record)
    return [(s, p) for s, p in statements if s.lstrip().upper().startswith("SELECT")]


def full_scans(storage, statement: str, parameters) -> tuple[list[str], str]:
    """Tables of ours the plan reads in full, and the plan as text (for the failure message)."""
    prefix = storage.tables.resources.name[: -len("resources")]
    dialect = storage.engine.dialect.name
    with storage.engine.connect() as connection:
        if dialect == "sqlite":
            rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            plan = "\n".join(row[3] for row in rows)
            aliases = _aliases(statement, prefix)
            scans = [line for line in plan.splitlines()
                     if re.match(r"SCAN (\w+)", line) and re.match(r"SCAN (\w+)", line).group(1) in aliases]
            return scans, plan
        if dialect == "postgresql":
            document = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar()
            nodes = list(_pg_nodes(document[0]["Plan"]))
            plan = "\n".join(f"{n['Node Type']} {n.get('Relation Name', '')} {n.get('Index Name', '')}"
                             for n in nodes)
            scans = [n["Relation Name"] for n in nodes
                     if n["Node Type"] == "Seq Scan" and n.get("Relation Name", "").startswith(prefix)]
            return scans, plan
        rows = connection.exec_driver_sql("EXPLAIN " + statement, parameters).mappings().all()
        plan = "\n".join(f"{r['table']} type={r['type']} key={r['key']}" for r in rows)
        ours = _aliases(statement, prefix)  # not MySQL's own <subqueryN> materialisations
        return [r["table"] for r in rows if r["type"] == "ALL" and r["table"] in ours], plan


def _aliases(statement: str, prefix: str) -> set[str]:
    names = set(re.findall(rf"\b({prefix}\w+)(?: AS (\w+))?", statement))
    return {alias or name for name, alias in names} | {name for name, _ in names}


def _pg_nodes(node: dict):
    yield node
    for child in node.get("Plans", ()):
        yield from _pg_nodes(child)


LOOKUPS = [
    ("User", 'userName eq "USER04242"', "user04242"),
    ("User", 'externalId eq "ext-4242"', "user04242"),
    ("User", 'emails[type eq "work" and value eq "user4242@example.com"]', "user04242"),
    ("User", 'emails.value eq "user4242@home.example"', "user04242"),
]


@pytest.mark.parametrize("resource_type, text, expected", LOOKUPS, ids=[t for _, t, _ in LOOKUPS])
def test_lookups_use_an_index(directory, resource_type, text, expected):
    storage, _, _ = directory
    query = Query(filter=filter_of(storage, resource_type, text), with_groups=False)
    pages = []
    statements = captured(storage, lambda: pages.append(storage.query(CTX, resource_type, query)))
    assert [r.data["userName"] for r in pages[0].resources] == [expected]
    assert len(statements) == 1
    scans, plan = full_scans(storage, *statements[0])
    assert scans == [], plan


def test_id_lookup_uses_the_primary_key(directory):
    storage, ids, _ = directory
    query = Query(filter=filter_of(storage, "User", f'id eq "{ids[77]}"'), with_groups=False)
    (statement,) = captured(storage, lambda: storage.query(CTX, "User", query))
    scans, plan = full_scans(storage, *statement)
    assert scans == [], plan


def test_members_lookups_use_an_index(directory):
    storage, ids, groups = directory
    query = Query(filter=filter_of(storage, "Group", f'members.value eq "{ids[3]}"'), with_members=False)
    found = []
    statements = captured(storage, lambda: found.append(storage.query(CTX, "Group", query)))
    assert [g.id for g in found[0].resources] == [groups[3]]
    # A user's groups and a group's members, as `get` loads them.
    statements += captured(storage, lambda: found.append(storage.get(CTX, "User", ids[3])))
    statements += captured(storage, lambda: found.append(storage.get(CTX, "Group", groups[3])))
    assert [g.value for g in found[1].groups] == [groups[3]]
    assert len(found[2].members) == 100
    for statement in statements:
        scans, plan = full_scans(storage, *statement)
        assert scans == [], plan


def test_a_users_groups_are_read_through_the_member_index(directory):
    """`get` reads a user's groups in its own statement (a correlated subquery): each user row
    probes `ix_members_member` by (tenant, member), never the tenant's whole membership."""
    storage, ids, groups = directory
    found = []
    (statement,) = captured(storage, lambda: found.append(storage.get(CTX, "User", ids[3])))
    assert [g.value for g in found[0].groups] == [groups[3]]
    scans, plan = full_scans(storage, *statement)
    assert scans == [], plan
    assert "ix_members_member" in plan, plan


def test_a_deep_page_reads_the_index_and_only_its_own_rows(directory):
    """An unfiltered page far into the directory: the inner SELECT orders and skips over the
    created-order index (ids and keys only) and the page's rows are fetched by primary key; no
    table of ours is scanned. The total is a plain COUNT (a database may scan for it when, as
    here, the tenant is the whole table: every row is a match)."""
    storage, ids, _ = directory
    pages = []
    statements = captured(storage, lambda: pages.append(storage.query(CTX, "User", Query(
        start_index=5001, count=100, with_groups=True))))
    page = pages[0]
    assert page.total == USERS and len(page.resources) == 100
    walked = storage.query(CTX, "User", Query(start_index=5001, count=1, with_groups=False)).resources
    assert page.resources[0].id == walked[0].id
    assert all(resource.groups is not None for resource in page.resources)
    (page_sql, parameters), (count_sql, _) = statements
    scans, plan = full_scans(storage, page_sql, parameters)
    assert scans == [], plan
    assert count_sql.lstrip().upper().startswith("SELECT COUNT(*)") and "data" not in count_sql.lower(), count_sql
