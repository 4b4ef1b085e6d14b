"""The log's word index on SQL (`log_words`, schema version 5): a text query is answered from
it (EXPLAIN shows the word index, not a walk of the log), its rows come and go with the
entries, and an upgraded database gets the words of the entries it already holds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from scimflask_sql import migrations
from scimflask_sql.migrations import LATEST
from sqlalchemy import delete, func, insert, select

from scimflask.storage.capabilities import LogEntry, LogQuery
from scimflask.testing.contract_operations import LOG_START, log_entry

from .sql_helpers import DATABASES, MYSQL, POSTGRES, drop, new_storage, unique_prefix
from .test_sql_plans import _pg_nodes, captured

TENANT = "words"
ENTRIES = 5_000


def _entries(tenant: str, count: int) -> list[LogEntry]:
    return [log_entry(tenant, LOG_START + timedelta(seconds=n), user_name=f"user{n:05d}@example.com",
                      display_name=f"User {n}", external_id=f"ext-{n}") for n in range(count)]


@pytest.fixture(scope="module", params=DATABASES)
def big_log(request):
    """A storage whose tenant holds ENTRIES log entries, statistics gathered (ANALYZE)."""
    storage = new_storage(request.param, table_prefix=unique_prefix())
    entries = _entries(TENANT, ENTRIES)
    for start in range(0, ENTRIES, 1000):
        storage.append_logs(entries[start:start + 1000])
    with storage.engine.begin() as connection:
        if connection.dialect.name in ("postgresql", "sqlite"):
            connection.exec_driver_sql("ANALYZE")
        else:
            for table in (storage.tables.log, storage.tables.log_words):
                connection.exec_driver_sql(f"ANALYZE TABLE {table.name}")
    yield storage, entries
    drop(storage)


def _plan(storage, statement: str, parameters) -> list[str]:
    """One line per step of the plan: (table or index, how it is read)."""
    with storage.engine.connect() as connection:
        dialect = connection.dialect.name
        if dialect == "sqlite":
            return [row[3] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
        if dialect == "postgresql":
            document = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar()
            return [f"{node['Node Type']} {node.get('Scan Direction', '')} {node.get('Relation Name', '')} "
                    f"{node.get('Index Name', '')} {node.get('Index Cond', '')}" for node in _pg_nodes(document[0]["Plan"])]
        rows = connection.exec_driver_sql("EXPLAIN " + statement, parameters).mappings().all()
        return [f"{row['table']} type={row['type']} key={row['key']}" for row in rows]


@pytest.mark.parametrize("text", ["user01234", "User 123", "ext 4999"])
def test_a_text_query_reads_the_word_index_not_the_log(big_log, text):
    storage, entries = big_log
    query = LogQuery(text=text)
    statements = captured(storage, lambda: storage.query_log(TENANT, query))
    # A bounded count per word until one is rare (longest first), then the query.
    assert 2 <= len(statements) <= 1 + len(query.text_words)
    plan = _plan(storage, *statements[-1])
    shown = "\n".join(plan)
    log, words = storage.tables.log.name, storage.tables.log_words.name
    dialect = storage.engine.dialect.name
    if dialect == "sqlite":
        assert any(line.startswith(f"SEARCH {words} USING COVERING INDEX") and "word>? AND word<?" in line
                   for line in plan), shown
        assert all(f"{log} " not in line or "(tenant=? AND id=?)" in line for line in plan), shown
    elif dialect == "postgresql":
        assert any(f"{words} {storage.tables.prefix}pk_log_words" in line and "word >=" in line
                   for line in plan), shown
        assert not any(line.startswith("Seq Scan") for line in plan), shown
        reads_of_log = [line for line in plan if f" {log} " in line]
        assert reads_of_log and all("(id)::text =" in line for line in reads_of_log), shown
    else:
        assert any(line.startswith(f"{words} type=range key=PRIMARY") for line in plan), shown
        assert any(line.startswith(f"{log} type=eq_ref key=PRIMARY") for line in plan), shown
    assert storage.query_log(TENANT, query) == sorted((e for e in entries if query.matches(e)),
                                                      key=lambda e: e.id, reverse=True)[:100]


@pytest.mark.parametrize("text", ["example", "user0", "example user04"])
def test_a_common_word_walks_the_log_newest_first(big_log, text):
    """A word more than COMMON_WORD entries hold is checked on each entry the walk meets
    (their words by the `(tenant, entry_id, word)` index): the page comes from the newest
    entries instead of from sorting every entry holding the word."""
    storage, entries = big_log
    query = LogQuery(text=text, limit=50)
    statements = captured(storage, lambda: storage.query_log(TENANT, query))
    plan = _plan(storage, *statements[-1])
    shown = "\n".join(plan)
    log, words = storage.tables.log.name, storage.tables.log_words.name
    dialect = storage.engine.dialect.name
    if dialect == "sqlite":
        assert any(line.startswith(f"SEARCH {log} USING INDEX") for line in plan), shown
        assert any(line.startswith(f"SEARCH {words} USING COVERING INDEX {storage.tables.prefix}ix_log_words_entry")
                   and "entry_id=?" in line for line in plan), shown
        assert not any("TEMP B-TREE" in line for line in plan), shown  # no sort of every match
    elif dialect == "postgresql":
        assert not any(line.startswith("Seq Scan") and f" {log} " in line for line in plan), shown
    assert storage.query_log(TENANT, query) == sorted((e for e in entries if query.matches(e)),
                                                      key=lambda e: e.id, reverse=True)[:50]


@pytest.fixture(params=DATABASES)
def storage(request):
    storage = new_storage(request.param, table_prefix=unique_prefix())
    yield storage
    drop(storage)


def _word_rows(storage, tenant: str) -> int:
    w = storage.tables.log_words
    with storage.engine.connect() as connection:
        return connection.execute(select(func.count()).where(w.c.tenant == tenant)).scalar()


def test_words_come_and_go_with_their_entries(storage):
    entries = _entries(TENANT, 10) + _entries("other", 2)
    storage.append_logs(entries)
    per_entry = len(entries[0].words())  # user00000, example, com, user, 0, ext
    assert per_entry == 6 and _word_rows(storage, TENANT) == 10 * per_entry
    assert storage.prune_log(TENANT, keep=6) == 4
    assert _word_rows(storage, TENANT) == 6 * per_entry
    assert storage.prune_log(TENANT, older_than=LOG_START + timedelta(seconds=8)) == 4
    assert _word_rows(storage, TENANT) == 2 * per_entry
    assert storage.query_log(TENANT, LogQuery(text="user0000")) == entries[9:7:-1]
    storage.delete_tenant(TENANT)
    assert _word_rows(storage, TENANT) == 0
    assert _word_rows(storage, "other") == 2 * per_entry
    assert storage.prune_log("other", keep=0) == 2 and _word_rows(storage, "other") == 0


@pytest.fixture(params=[pytest.param("sqlite", id="sqlite"), POSTGRES, MYSQL])
def version_four(request, tmp_path, monkeypatch):
    """A database as version 4 left it (no `log_words`), holding entries of two tenants;
    yields (uri, prefix, entries). The back-fill reads 3 entries a batch here."""
    monkeypatch.setattr(migrations, "BACKFILL_BATCH", 3)
    uri = f"sqlite:///{tmp_path / 'scim.db'}" if request.param == "sqlite" else request.param
    prefix = unique_prefix()
    setup = new_storage(uri, table_prefix=prefix)
    entries = _entries("tenant-a", 7) + _entries("tenant-b", 3) + [
        log_entry("tenant-b", LOG_START, user_name=None),
        log_entry("tenant-b", LOG_START, user_name="Ödön ΣΊΣΥΦΟΣ", display_name="h:0123456789abcdef")]
    setup.append_logs(entries)
    tables = setup.tables
    with setup.engine.begin() as connection:
        tables.log_words.drop(connection)
        connection.execute(delete(tables.schema_version))
        connection.execute(insert(tables.schema_version).values(version=4, applied="2024-01-01T00:00:00.000000Z"))
    setup.close()
    yield uri, prefix, entries
    drop(new_storage(uri, table_prefix=prefix))


def test_the_upgrade_fills_the_words_of_stored_entries(version_four):
    uri, prefix, entries = version_four
    storage = new_storage(uri, table_prefix=prefix)
    try:
        storage.ping()
        with storage.engine.connect() as connection:
            versions = connection.execute(select(storage.tables.schema_version.c.version)).scalars().all()
            w = storage.tables.log_words
            rows = set(connection.execute(select(w.c.tenant, w.c.word, w.c.entry_id)).all())
        assert sorted(versions) == [4, LATEST] and LATEST == 5
        assert rows == {(e.tenant, word, e.id) for e in entries for word in e.words()}
        for tenant in ("tenant-a", "tenant-b"):
            for text in ("user0000", "ext 2", "σίσυφος", "ödö", "h:0123456789abcdef", "example"):
                query = LogQuery(text=text)
                assert storage.query_log(tenant, query) == sorted(
                    (e for e in entries if e.tenant == tenant and query.matches(e)),
                    key=lambda e: e.id, reverse=True)
    finally:
        storage.close()
