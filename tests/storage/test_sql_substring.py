"""The SQL backend's substring index seen from the database: `co` / `sw` / `ew` on the indexed
attributes read it (EXPLAIN on each database, over a directory of 5,000 users), every write
path keeps it exact, and a version 3 database gets it built for the rows it holds."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
from scimflask_sql import scan
from scimflask_sql.migrations import LATEST
from scimflask_sql.rows import new_row
from scimflask_sql.substring import FTS5, PG_TRGM, TRIGRAMS
from scimflask_sql.tables import FTS_SUFFIX
from scimflask_sql.trigram_rows import trigram_rows
from scimflask_sql.values import unique_rows, value_rows
from sqlalchemy import delete, func, select

from scimflask.model import Change, Query, RequestContext, Resource
from scimflask.storage import ScanTooLarge
from scimflask.testing.contract_support import filter_of

from .sql_helpers import (  # noqa: F401 (sql_shared is a fixture)
    DATABASES,
    SERVERS,
    drop,
    new_storage,
    sent_statements,
    sql_shared,
    storages,
    unique_prefix,
)
from .test_sql_plans import _pg_nodes, captured

CTX = RequestContext(tenant="substrings")
USERS = 5_000
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def _user(n: int) -> dict:
    return {"userName": f"user{n:05d}", "externalId": f"Ext-{n}", "displayName": f"User Number {n}",
            "title": "Engineer", "name": {"givenName": f"Given{n}", "familyName": f"Family{n}"},
            "emails": [{"value": f"user{n}@example.com", "type": "work"},
                       {"value": f"user{n}@home.example", "type": "home"}]}


def insert_users(storage, ctx: RequestContext, datas: list[dict]) -> list[str]:
    """Users in one transaction, rows as `create` writes them (with MySQL's trigram rows)."""
    storage.ping()
    catalog, rt = storage.catalog, storage.catalog.resource_type("User")
    rows: dict = {"resources": [], "uniques": [], "values": [], "trigrams": []}
    ids = []
    for data in datas:
        ids.append(str(uuid.uuid4()))
        values = value_rows(catalog, rt, ctx.tenant, ids[-1], data)
        rows["resources"].append(new_row(ctx.tenant, rt, Resource("User", ids[-1], data, NOW, NOW)))
        rows["uniques"] += [row for _, row in unique_rows(catalog, rt, ctx.tenant, ids[-1], data)]
        rows["values"] += values
        rows["trigrams"] += trigram_rows(ctx.tenant, ids[-1], values)
    if storage.substrings.kind != TRIGRAMS:
        del rows["trigrams"]
    with storage.engine.begin() as connection:
        for name, table_rows in rows.items():
            for start in range(0, len(table_rows), 1000):
                connection.execute(getattr(storage.tables, name).insert(), table_rows[start:start + 1000])
    return ids


@pytest.fixture(scope="module", params=DATABASES)
def directory(request):
    storage = new_storage(request.param, table_prefix=unique_prefix())
    ids = insert_users(storage, CTX, [_user(n) for n in range(USERS)])
    with storage.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Statistics from every row, not from a random sample of 30,000: the plans asserted
            # below must not depend on which rows the sample drew.
            connection.exec_driver_sql("SET LOCAL default_statistics_target = 1000")
            for table in storage.tables.created_on("postgresql"):
                connection.exec_driver_sql(f"ANALYZE {table.name}")
        elif connection.dialect.name == "sqlite":
            connection.exec_driver_sql("ANALYZE")
        else:
            for table in storage.tables.created_on(connection.dialect.name):
                connection.exec_driver_sql(f"ANALYZE TABLE {table.name}")
    yield storage, ids
    drop(storage)


def index_reads(storage, statement: str, parameters, *, prefix_index: bool = False) -> tuple[bool, str]:
    """Whether the plan of `statement` reads the substring index, and the plan as text.
    `prefix_index` (an `sw`): whether it reads the range of the prefix in the
    `(tenant, attr, sub, key)` index of `values` instead."""
    tables = storage.tables
    key_index = f"{tables.prefix}ix_values_key"
    with storage.engine.connect() as connection:
        dialect = connection.dialect.name
        if dialect == "sqlite":
            rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            plan = "\n".join(row[3] for row in rows)
            if prefix_index:
                return any(f"USING INDEX {key_index} (" in line and "key>?" in line for line in plan.splitlines()), plan
            fts = tables.substrings.name + FTS_SUFFIX
            return any(line.startswith(f"SCAN {fts} VIRTUAL TABLE INDEX") for line in plan.splitlines()), plan
        if dialect == "postgresql":
            document = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar()
            nodes = list(_pg_nodes(document[0]["Plan"]))
            plan = "\n".join(f"{n['Node Type']} {n.get('Relation Name', '')} {n.get('Index Name', '')} "
                             f"{n.get('Index Cond', '')}" for n in nodes)
            if prefix_index:
                return any(n.get("Index Name") == key_index and "key >=" in n.get("Index Cond", "")
                           for n in nodes), plan
            return any(n.get("Index Name") == f"{tables.prefix}ix_values_trgm" for n in nodes), plan
        rows = connection.exec_driver_sql("EXPLAIN " + statement, parameters).mappings().all()
        plan = "\n".join(f"{r['table']} type={r['type']} key={r['key']} rows={r['rows']}" for r in rows)
        if prefix_index:
            return any(r["key"] == key_index and r["type"] == "range" for r in rows), plan
        trigram_rows_read = [r for r in rows if r["table"] and r["table"].startswith(tables.trigrams.name)]
        return bool(trigram_rows_read) and all(r["key"] == "PRIMARY" for r in trigram_rows_read), plan


SUBSTRINGS = [
    ('userName co "r04242"', [4242]),
    ('userName sw "USER0424"', list(range(4240, 4250))),
    ('userName ew "04242"', [4242]),
    ('emails.value ew "4242@home.example"', [4242]),
    ('emails.value ew "r4242@example.com"', [4242]),
    ('emails[value co "r4242@example"]', [4242]),
    ('displayName co "number 4242"', [4242]),
    ('externalId co "t-4242"', [4242]),
    ('externalId co "T-4242"', []),
    ('name.familyName sw "family4242"', [4242]),
]


@pytest.mark.parametrize("text, expected", SUBSTRINGS, ids=[text for text, _ in SUBSTRINGS])
def test_substring_filters_read_the_index(directory, text, expected):
    storage, ids = directory
    query = Query(filter=filter_of(storage, "User", text), with_groups=False, max_scan=100)
    pages = []
    statements = captured(storage, lambda: pages.append(storage.query(CTX, "User", query)))
    assert sorted(r.id for r in pages[0].resources) == sorted(ids[n] for n in expected)
    # The scan bound fetches the candidates from the index, and the page takes their ids
    # instead of reading the index again.
    assert len(statements) == 2
    probe, page = statements
    reads, plan = index_reads(storage, *probe, prefix_index=" sw " in text)
    assert reads, plan
    reads, plan = index_reads(storage, *page)
    assert not reads, plan
    assert not any("MATCH" in statement or "trigrams" in statement for statement, _ in statements[1:])


def test_more_candidates_than_are_resolved_are_read_from_the_index_by_the_page(directory, monkeypatch):
    """Past `RESOLVE_AT_MOST` candidates the probe counts them in the database and the page
    reads the index itself, with the same answer."""
    storage, ids = directory
    query = Query(filter=filter_of(storage, "User", 'userName sw "USER042"'), with_groups=False, max_scan=1000)
    expected = [ids[n] for n in range(4200, 4300)]  # user04200 .. user04299
    monkeypatch.setattr(scan, "RESOLVE_AT_MOST", 5)
    pages = []
    statements = captured(storage, lambda: pages.append(storage.query(CTX, "User", query)))
    assert sorted(r.id for r in pages[0].resources) == sorted(expected)
    assert len(statements) == 3  # the fetch that stopped at 6 ids, the count, the page
    for statement in statements:
        reads, plan = index_reads(storage, *statement, prefix_index=True)
        assert reads, plan
    monkeypatch.setattr(scan, "RESOLVE_AT_MOST", 500)
    assert sorted(r.id for r in storage.query(CTX, "User", query).resources) == sorted(expected)


@pytest.mark.parametrize("text", ['userName co "user0"', 'emails.value co "example"', 'title co "ngineer"'])
def test_a_pattern_in_every_row_is_refused_without_scanning(directory, text):
    storage, _ = directory
    with pytest.raises(ScanTooLarge):
        storage.query(CTX, "User", Query(filter=filter_of(storage, "User", text), max_scan=100))


def test_a_long_pattern_is_checked_whole_and_on_postgres_only_its_distinctive_word_is_read(directory):
    """Every database answers the pattern exactly. On PostgreSQL the trigram scan reads
    `r4242@`, not the postings of `example` and `com` (every e-mail address holds them), and
    the whole pattern is checked on the rows it finds."""
    storage, ids = directory
    query = Query(filter=filter_of(storage, "User", 'emails.value ew "r4242@example.com"'), with_groups=False,
                  max_scan=100)
    pages = []
    statements = captured(storage, lambda: pages.append(storage.query(CTX, "User", query)))
    assert [r.id for r in pages[0].resources] == [ids[4242]]
    if storage.engine.dialect.name != "postgresql":
        return
    with storage.engine.connect() as connection:  # the scan bound's fetch reads the index
        document = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statements[0][0],
                                              statements[0][1]).scalar()
    nodes = list(_pg_nodes(document[0]["Plan"]))
    trigram_scans = [n for n in nodes if n.get("Index Name") == f"{storage.tables.prefix}ix_values_trgm"]
    assert trigram_scans, nodes
    assert all("%r4242@%" in n["Index Cond"] and "example" not in n["Index Cond"] for n in trigram_scans)


def test_a_prefix_range_ends_at_the_least_string_above_every_string_it_starts():
    from scimflask_sql.substring import prefix_upper

    assert prefix_upper("user0424") == "user0425"
    assert prefix_upper("ab\U0010ffff") == "ac"          # no successor: the character before moves
    assert prefix_upper("a\ud7ff") == "a\ue000"          # past the surrogates
    assert prefix_upper("\U0010ffff") is None
    for literal in ("user0424", "ab\U0010ffff", "zz"):
        upper = prefix_upper(literal)
        assert literal <= literal + "\U0010ffff" < upper and not upper.startswith(literal)


def test_postgres_index_part_is_a_word_with_digits_of_a_pattern_of_several():
    from scimflask_sql.substring import pg_index_part

    assert pg_index_part("r12345@example.com") == "r12345@"
    assert pg_index_part("number 4242") == " 4242"
    assert pg_index_part("ab@c1234d.example") == "@c1234d."  # the word with the most digits
    assert pg_index_part("r12345") is None                   # one word: it is its own piece
    assert pg_index_part("john.smith@example.com") is None   # no word says which is rare
    assert pg_index_part("23@home.example") is None          # no word of three holds a digit


def test_the_index_kind_follows_the_database(directory):
    storage, _ = directory
    expected = {"sqlite": FTS5, "postgresql": PG_TRGM}.get(storage.engine.dialect.name, TRIGRAMS)
    assert storage.substrings.kind == expected


# -- writes keep the index exact ----------------------------------------------------------------
@pytest.fixture(params=DATABASES)
def scim_storage(request, sql_shared):  # noqa: F811
    yield from storages(request, sql_shared)


def _found(storage, ctx, text: str, resource_type: str = "User", max_scan: int = 1) -> list[str]:
    query = Query(filter=filter_of(storage, resource_type, text), max_scan=max_scan, with_groups=False,
                  with_members=False)
    return sorted(r.id for r in storage.query(ctx, resource_type, query).resources)


def _index_rows(storage, tenant: str) -> int:
    """Rows the substring index holds for `tenant` outside `values` (0 on PostgreSQL)."""
    tables = storage.tables
    table = {FTS5: tables.substrings, TRIGRAMS: tables.trigrams}.get(storage.substrings.kind)
    if table is None:
        return 0
    with storage.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table).where(table.c.tenant == tenant)).scalar()


def _padding(storage, ctx) -> None:
    """Users enough that max_scan=1 refuses anything the index does not answer."""
    for n in range(3):
        storage.create(ctx, Resource("User", str(uuid.uuid4()), {"userName": f"pad{n}"}, NOW, NOW))


def test_a_short_prefix_is_read_from_the_key_index_within_the_bound(scim_storage):
    """An `sw` of any length reads the range of its prefix: two characters that one user's
    userName starts with are answered with max_scan=1 among four users."""
    ctx = RequestContext(tenant=f"prefix-{uuid.uuid4()}")
    _padding(scim_storage, ctx)
    wanted = scim_storage.create(ctx, Resource("User", str(uuid.uuid4()), {"userName": "zq-admin"}, NOW, NOW)).id
    assert _found(scim_storage, ctx, 'userName sw "ZQ"', max_scan=1) == [wanted]
    assert len(_found(scim_storage, ctx, 'userName sw "pa"', max_scan=3)) == 3
    with pytest.raises(ScanTooLarge):
        _found(scim_storage, ctx, 'userName sw "pa"', max_scan=2)


def test_create_update_and_delete_keep_the_index_exact(scim_storage):
    ctx = RequestContext(tenant=f"writes-{uuid.uuid4()}")
    _padding(scim_storage, ctx)
    alice = scim_storage.create(ctx, Resource("User", str(uuid.uuid4()), {
        "userName": "alice.q7z", "displayName": "Alice Qzx", "emails": [{"value": "a.k3w@x.example"}]}, NOW, NOW))
    assert _found(scim_storage, ctx, 'userName co "q7z"') == [alice.id]
    assert _found(scim_storage, ctx, 'emails.value sw "A.K3W"') == [alice.id]
    # Full replacement from the base read: PostgreSQL's one-statement update.
    current = scim_storage.get(ctx, "User", alice.id)
    data = {**current.data, "displayName": "Alicia J9v", "emails": [{"value": "b.m5t@x.example"}]}
    scim_storage.update(ctx, "User", alice.id, Change(data=data, base=current), expected_version=current.version,
                        now=NOW)
    assert _found(scim_storage, ctx, 'displayName co "j9v"') == [alice.id]
    assert _found(scim_storage, ctx, 'displayName co "qzx"') == []
    assert _found(scim_storage, ctx, 'emails.value co "k3w"') == []
    assert _found(scim_storage, ctx, 'emails.value ew "m5t@x.example"') == [alice.id]
    # A unique attribute changes: the statement-by-statement path.
    scim_storage.update(ctx, "User", alice.id, Change(data={**data, "userName": "alice.h8r"}), now=NOW)
    assert _found(scim_storage, ctx, 'userName co "q7z"') == []
    assert _found(scim_storage, ctx, 'userName ew "CE.H8R"') == [alice.id]
    scim_storage.delete(ctx, "User", alice.id)
    assert _found(scim_storage, ctx, 'userName co "h8r"') == []
    assert _found(scim_storage, ctx, 'displayName co "j9v"') == []
    assert _index_rows(scim_storage, ctx.tenant) == _index_rows_of_padding(scim_storage)


def _index_rows_of_padding(storage) -> int:
    """What `_padding` leaves in the index: the userName rows of three users."""
    return {FTS5: 3, TRIGRAMS: 3 * 2}.get(storage.substrings.kind, 0)  # "padN": 2 trigrams


def test_an_update_of_an_unindexed_attribute_leaves_the_index_rows_alone(scim_storage):
    ctx = RequestContext(tenant=f"writes-{uuid.uuid4()}")
    _padding(scim_storage, ctx)
    bob = scim_storage.create(ctx, Resource("User", str(uuid.uuid4()), {"userName": "bob.x2p"}, NOW, NOW))
    before = _index_rows(scim_storage, ctx.tenant)
    sent = sent_statements(scim_storage, lambda: scim_storage.update(
        ctx, "User", bob.id, Change(data={"userName": "bob.x2p", "title": "Boss"}), now=NOW))
    assert not [s for s, _, _ in sent if "trigrams" in s or "substrings" in s]
    assert _index_rows(scim_storage, ctx.tenant) == before
    assert _found(scim_storage, ctx, 'userName co "x2p"') == [bob.id]


def test_deleting_a_tenant_empties_its_index(scim_storage):
    ctx = RequestContext(tenant=f"writes-{uuid.uuid4()}")
    _padding(scim_storage, ctx)
    group = scim_storage.create(ctx, Resource("Group", str(uuid.uuid4()), {"displayName": "Team b4n"}, NOW, NOW))
    assert _found(scim_storage, ctx, 'displayName co "b4n"', "Group") == [group.id]
    assert scim_storage.delete_tenant(ctx.tenant) is False  # no tenant record: its data goes all the same
    assert _index_rows(scim_storage, ctx.tenant) == 0
    assert _found(scim_storage, ctx, 'displayName co "b4n"', "Group") == []


# -- schema version 4 builds the index for the rows already there ---------------------------------
def _back_to_version_3(storage) -> None:
    """Make `storage`'s database what release 3 left: no substring index, stamped 3."""
    tables = storage.tables
    with storage.engine.begin() as connection:
        dialect = connection.dialect.name
        if dialect == "postgresql":
            connection.exec_driver_sql(f"DROP INDEX {tables.prefix}ix_values_trgm")
        elif dialect == "sqlite":
            for event in ("insert", "delete", "update"):
                connection.exec_driver_sql(f"DROP TRIGGER {tables.prefix}values_substrings_{event}")
            connection.exec_driver_sql(f"DROP TABLE {tables.substrings.name}{FTS_SUFFIX}")
            tables.substrings.drop(connection)
        else:
            tables.trigrams.drop(connection)
        connection.execute(delete(tables.schema_version))
        connection.execute(tables.schema_version.insert().values(version=3, applied="2024-01-01T00:00:00.000000Z"))


@pytest.fixture(params=DATABASES)
def version_three_uri(request, tmp_path):
    uri = f"sqlite:///{tmp_path / 'scim.db'}" if request.param.startswith("sqlite") else request.param
    prefix = unique_prefix()
    setup = new_storage(uri, table_prefix=prefix)
    ids = insert_users(setup, CTX, [_user(n) for n in range(40)])
    _back_to_version_3(setup)
    setup.close()
    yield uri, prefix, ids
    drop(new_storage(uri, table_prefix=prefix))


def test_a_version_three_database_gets_the_index_for_its_rows(version_three_uri):
    uri, prefix, ids = version_three_uri
    storage = new_storage(uri, table_prefix=prefix)
    try:
        storage.ping()
        with storage.engine.connect() as connection:
            versions = connection.execute(select(storage.tables.schema_version.c.version)).scalars().all()
        assert sorted(versions) == list(range(3, LATEST + 1))
        assert storage.substrings.kind is not None
        assert _found(storage, CTX, 'userName co "r00017"') == [ids[17]]
        assert _found(storage, CTX, 'emails.value ew "23@home.example"') == [ids[23]]
        assert _found(storage, CTX, 'name.givenName sw "GIVEN3"', max_scan=11) == sorted([ids[3], *ids[30:40]])
        with pytest.raises(ScanTooLarge):
            _found(storage, CTX, 'title co "engineer"', max_scan=39)
        # And it is kept from then on.
        storage.delete(CTX, "User", ids[17])
        assert _found(storage, CTX, 'userName co "r00017"') == []
        pages = []
        statements = captured(storage, lambda: pages.append(storage.query(CTX, "User", Query(
            filter=filter_of(storage, "User", 'userName co "r00017"'), with_groups=False, max_scan=5))))
        if storage.engine.dialect.name != "postgresql":  # 40 rows: PostgreSQL rightly prefers the btree
            reads, plan = index_reads(storage, *statements[0])  # the scan bound's fetch
            assert reads, plan
    finally:
        storage.close()


@pytest.mark.parametrize("uri", [pytest.param("sqlite://", id="sqlite"), *SERVERS[:1]])
def test_without_its_extension_the_database_still_migrates_and_scans_within_the_bound(uri, monkeypatch):
    """No pg_trgm (or no FTS5 trigram tokenizer): the schema step succeeds without the index,
    substring filters give the same answers by scanning, and the bound refuses them."""
    from scimflask_sql import substring_schema

    monkeypatch.setattr(substring_schema, "PG_EXTENSION", "scimflask_no_such_extension")
    monkeypatch.setattr(substring_schema, "FTS5_TOKENIZER", "scimflask_no_such_tokenizer")
    storage = new_storage(uri, table_prefix=unique_prefix())
    try:
        ids = [storage.create(CTX, Resource("User", str(uuid.uuid4()), _user(n), NOW, NOW)).id for n in range(4)]
        assert storage.substrings.kind is None and storage.indexed_filters is False
        assert _found(storage, CTX, 'userName co "r00002"', max_scan=None) == [ids[2]]
        assert _found(storage, CTX, 'userName co "r00002"', max_scan=4) == [ids[2]]
        with pytest.raises(ScanTooLarge):
            _found(storage, CTX, 'userName co "r00002"', max_scan=3)
    finally:
        drop(storage)


def test_mysql_terms_are_the_likely_rarest_trigrams_of_a_long_pattern():
    """The candidates cost about the rarest term's postings: at a million users a trigram of
    the domain (`com`, `@ex`) is in every e-mail address, a digit trigram in some thousands."""
    from scimflask_sql.substring import MAX_TERMS, pattern_terms

    terms = pattern_terms("R1234@Example.com")
    assert len(terms) == MAX_TERMS and {"123", "234"} <= set(terms)
    assert not {"com", ".co", "@ex", "exa"} & set(terms)
    assert pattern_terms("abcdefghijkl") == ["abc", "def", "ghi", "jkl"]  # equals: spread, first and last
    assert pattern_terms("ab1") == ["ab1"]
