"""The log's word index on SQL (`log_identity_words`, schema version 6): a text query is
answered from it (EXPLAIN shows the word index, not a walk of the log), an identity's words are
stored once and collected when pruning leaves it without entries, and an upgraded database gets
the words of the entries it already holds."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from scimflask_sql import migrations
from scimflask_sql.migrations import LATEST
from scimflask_sql.operating import COMMON_WORD, insert_rows
from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, delete, insert, inspect, select

from scimflask.storage.capabilities import LogEntry, LogQuery
from scimflask.storage.log_words import IdentityKeys
from scimflask.testing.contract_operations import LOG_START, log_entry

from .sql_helpers import DATABASES, MYSQL, MYSQL_URL, POSTGRES, POSTGRES_URL, drop, new_storage, unique_prefix
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
            for table in (storage.tables.log, storage.tables.identity_words):
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
    log, words, prefix = storage.tables.log.name, storage.tables.identity_words.name, storage.tables.prefix
    dialect = storage.engine.dialect.name
    if dialect == "sqlite":  # the log read by id, and by key for the ids
        assert any(line.startswith(f"SEARCH {words} USING COVERING INDEX") and "word>? AND word<?" in line
                   for line in plan), shown
        reads_of_log = [line for line in plan if line.startswith(f"SEARCH {log} ")]
        assert reads_of_log and all("(tenant=? AND id=?)" in line or "(tenant=? AND identity=?)" in line
                                    for line in reads_of_log), shown
        assert any(f"{prefix}ix_log_identity (tenant=? AND identity=?)" in line for line in plan), shown
        assert not any(line.startswith("SCAN") for line in plan), shown
    elif dialect == "postgresql":
        assert any(f"{words} {prefix}pk_log_identity_words" in line and "word >=" in line for line in plan), shown
        assert not any(line.startswith("Seq Scan") for line in plan), shown
        assert any(f" {log} {prefix}ix_log_identity " in line for line in plan), shown
    else:
        assert any(line.startswith(f"{words} type=range key=PRIMARY") for line in plan), shown
        assert any(f"key={prefix}ix_log_identity" in line for line in plan), shown
        assert not any("type=ALL" in line for line in plan), shown
    assert storage.query_log(TENANT, query) == sorted((e for e in entries if query.matches(e)),
                                                      key=lambda e: e.id, reverse=True)[:100]


@pytest.mark.parametrize("text", ["example", "user0", "example user04"])
def test_a_common_word_walks_the_log_newest_first(big_log, text):
    """A word more than COMMON_WORD entries hold is checked on each entry the walk meets
    (its identity's words by the `(tenant, identity, word)` index): the page comes from the
    newest entries instead of from sorting every entry holding the word."""
    storage, entries = big_log
    query = LogQuery(text=text, limit=50)
    statements = captured(storage, lambda: storage.query_log(TENANT, query))
    plan = _plan(storage, *statements[-1])
    shown = "\n".join(plan)
    log, words = storage.tables.log.name, storage.tables.identity_words.name
    dialect = storage.engine.dialect.name
    if dialect == "sqlite":
        assert any(line.startswith(f"SEARCH {log} USING INDEX") for line in plan), shown
        assert any(line.startswith(f"SEARCH {words} USING COVERING INDEX {storage.tables.prefix}ix_log_identity_words")
                   and "identity=?" in line for line in plan), shown
        if all(len([e for e in entries if LogQuery(text=word).matches(e)]) > COMMON_WORD for word in query.text_words):
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


def _word_rows(storage, tenant: str) -> set[tuple[str, str]]:
    w = storage.tables.identity_words
    with storage.engine.connect() as connection:
        return set(connection.execute(select(w.c.word, w.c.identity).where(w.c.tenant == tenant)).all())


def _keys(storage) -> dict[str, str]:
    """Entry id -> the key its identity's words are kept under."""
    g = storage.tables.log
    with storage.engine.connect() as connection:
        return dict(connection.execute(select(g.c.id, g.c.identity)).all())


def _rows_of(*entries: LogEntry) -> set[tuple[str, str]]:
    """The word rows of `entries`, each keyed by the first of them with its identity."""
    first: dict[str, str] = {}
    for entry in entries:
        first.setdefault(entry.identity_hash(), entry.id)
    return {(word, first[entry.identity_hash()]) for entry in entries for word in entry.words()}


def _person(tenant: str, when: datetime, n: int) -> LogEntry:
    return log_entry(tenant, when, user_name=f"user{n:05d}@example.com", display_name=f"User {n}",
                     external_id=f"ext-{n}")


def test_an_identity_s_words_are_stored_once_and_go_with_its_last_entry(storage):
    """Ten entries of three people: three identities' words, each under the id of its first
    entry. Pruning collects the words of a person whose every entry went (their newest entry
    long past), not of one with entries left, even when its first entry went."""
    people = [0, 1, 0, 2, 0, 1, 0, 1, 0, 0]  # the last entry of person 2 is the 4th
    entries = [_person(TENANT, LOG_START + timedelta(seconds=n), who) for n, who in enumerate(people)]
    other = [_person("other", LOG_START, 2)]
    storage.append_logs(entries[:5])
    storage.append_logs(entries[5:] + other)
    assert len(entries[0].words()) == 6  # user00000, example, com, user, 0, ext
    assert _word_rows(storage, TENANT) == _rows_of(*entries) and len(_rows_of(*entries)) == 3 * 6
    first = {0: entries[0].id, 1: entries[1].id, 2: entries[3].id}
    assert _keys(storage) == {**{e.id: first[who] for e, who in zip(entries, people, strict=True)},
                              other[0].id: other[0].id}
    assert storage.prune_log(TENANT, keep=6) == 4  # person 2's only entry goes, and the first of 0 and 1
    assert _word_rows(storage, TENANT) == _rows_of(*entries[:2])
    assert storage.query_log(TENANT, LogQuery(text="user00002")) == []
    assert storage.query_log(TENANT, LogQuery(text="ext 1")) == entries[7:4:-2]
    assert storage.prune_log(TENANT, older_than=LOG_START + timedelta(seconds=8)) == 4  # and person 1's
    assert _word_rows(storage, TENANT) == _rows_of(entries[0])
    assert storage.query_log(TENANT, LogQuery(text="user0000")) == entries[9:7:-1]
    storage.delete_tenant(TENANT)
    assert _word_rows(storage, TENANT) == set()
    assert _word_rows(storage, "other") == _rows_of(*other)
    assert storage.prune_log("other", keep=0) == 1 and _word_rows(storage, "other") == set()


def test_words_a_process_may_still_trust_are_not_collected(storage):
    """A key whose newest pruned entry is recent keeps its words: the process that stored them
    may trust them stored still and write its next entry without them."""
    now = datetime.now(timezone.utc)
    recent, old = _person(TENANT, now, 1), _person(TENANT, now - timedelta(hours=1), 2)
    storage.append_logs([old, recent])
    assert storage.prune_log(TENANT, keep=0) == 2
    assert _word_rows(storage, TENANT) == _rows_of(recent)  # the 1-hour-old one's went (2 × 600 s)
    later = _person(TENANT, now, 1)
    storage.append_logs([later])
    assert _word_rows(storage, TENANT) == _rows_of(recent)  # trusted: not written again
    assert storage.query_log(TENANT, LogQuery(text="user00001")) == [later]


@pytest.mark.parametrize("uri", [pytest.param("file", id="sqlite"), POSTGRES, MYSQL])
def test_words_are_stored_again_once_no_longer_trusted_and_twice_is_harmless(uri, tmp_path):
    """A process stores an identity's words with its first entry and trusts them stored for a
    while; then it stores them again under the same key, skipping rows already there. Another
    process keys the same identity by its own first entry."""
    uri = f"sqlite:///{tmp_path / 'scim.db'}" if uri == "file" else uri
    storage = new_storage(uri, table_prefix=unique_prefix())
    try:
        _stored_again(storage, new_storage(uri, table_prefix=storage.tables.prefix))
    finally:
        drop(storage)


def _stored_again(storage, another) -> None:
    clock = [0.0]
    storage.identity_keys = IdentityKeys(seconds=60, clock=lambda: clock[0])
    first = _person(TENANT, LOG_START, 1)
    storage.append_logs([first])
    w = storage.tables.identity_words
    with storage.engine.begin() as connection:
        connection.execute(delete(w))  # words lost behind the writer's back
    second = _person(TENANT, LOG_START + timedelta(seconds=1), 1)
    storage.append_logs([second])
    assert _word_rows(storage, TENANT) == set()  # trusted: not written again
    clock[0] = 61.0
    third = _person(TENANT, LOG_START + timedelta(seconds=2), 1)
    storage.append_logs([third])
    assert _word_rows(storage, TENANT) == _rows_of(first)  # again, under the first entry's id
    again = _person(TENANT, LOG_START + timedelta(seconds=3), 1)
    storage.append_logs([again])  # trusted anew: no words written
    assert storage.query_log(TENANT, LogQuery(text="user00001")) == [again, third, second, first]
    fourth = _person(TENANT, LOG_START + timedelta(seconds=4), 1)
    another.append_logs([fourth])
    assert _word_rows(storage, TENANT) == _rows_of(first) | _rows_of(fourth)
    assert storage.query_log(TENANT, LogQuery(text="ext 1", limit=2)) == [fourth, again]
    clock[0] = 122.0
    storage.append_logs([_person(TENANT, LOG_START + timedelta(seconds=5), 1)])  # over the rows there
    assert _word_rows(storage, TENANT) == _rows_of(first) | _rows_of(fourth)


def _legacy_words(prefix: str) -> Table:
    """Version 5's `log_words`: a row per (tenant, word, entry)."""
    return Table(f"{prefix}log_words", MetaData(), Column("tenant", String(128), nullable=False),
                 Column("word", String(64), nullable=False), Column("entry_id", String(64), nullable=False),
                 PrimaryKeyConstraint("tenant", "word", "entry_id"))


@pytest.fixture(params=[pytest.param(("sqlite", 5), id="sqlite-v5"), pytest.param(("sqlite", 4), id="sqlite-v4"),
                        pytest.param((POSTGRES_URL, 5), id="postgres-v5", marks=POSTGRES.marks),
                        pytest.param((MYSQL_URL, 5), id="mysql-v5", marks=MYSQL.marks)])
def older(request, tmp_path, monkeypatch):
    """A database as version 5 (words per entry in `log_words`) or 4 (no word index) left it,
    holding entries of two tenants; yields (uri, prefix, entries, version). The upgrade reads 3
    entries a batch here."""
    database, version = request.param
    monkeypatch.setattr(migrations, "BACKFILL_BATCH", 3)
    uri = f"sqlite:///{tmp_path / 'scim.db'}" if database == "sqlite" else database
    prefix = unique_prefix()
    setup = new_storage(uri, table_prefix=prefix)
    entries = _entries("tenant-a", 7) + _entries("tenant-b", 3) + [
        log_entry("tenant-b", LOG_START, user_name=None),
        log_entry("tenant-b", LOG_START, user_name="Ödön ΣΊΣΥΦΟΣ", display_name="h:0123456789abcdef"),
        _entries("tenant-a", 1)[0]]  # the same person as the first
    setup.append_logs(entries)
    tables = setup.tables
    legacy = _legacy_words(prefix)
    with setup.engine.begin() as connection:
        tables.identity_words.drop(connection)
        for index in tables.log.indexes:
            if index.name.endswith("ix_log_identity"):
                index.drop(connection)
        table = connection.dialect.identifier_preparer.format_table(tables.log)
        connection.exec_driver_sql(f"ALTER TABLE {table} DROP COLUMN identity")
        if version == 5:
            legacy.create(connection)
            insert_rows(connection, legacy, [(e.tenant, word, e.id) for e in entries for word in e.words()])
        connection.execute(delete(tables.schema_version))
        connection.execute(insert(tables.schema_version).values(version=version, applied="2024-01-01T00:00:00.000000Z"))
    setup.close()
    yield uri, prefix, entries, version
    drop(new_storage(uri, table_prefix=prefix))


def test_the_upgrade_fills_the_words_of_stored_entries(older):
    uri, prefix, entries, version = older
    storage = new_storage(uri, table_prefix=prefix)
    try:
        storage.ping()
        with storage.engine.connect() as connection:
            versions = connection.execute(select(storage.tables.schema_version.c.version)).scalars().all()
            w, g = storage.tables.identity_words, storage.tables.log
            rows = set(connection.execute(select(w.c.tenant, w.c.word, w.c.identity)).all())
            keys = dict(connection.execute(select(g.c.id, g.c.identity)).all())
            assert not inspect(connection).has_table(f"{prefix}log_words")
        assert sorted(versions) == list(range(version, LATEST + 1)) and LATEST == 6
        first: dict[tuple[str, str | None], str] = {}
        for entry in sorted(entries, key=lambda e: e.id):
            first.setdefault((entry.tenant, entry.identity_hash()), entry.id)
        key_of = {e.id: None if not e.words() else first[e.tenant, e.identity_hash()] for e in entries}
        assert keys == key_of
        assert rows == {(e.tenant, word, key_of[e.id]) for e in entries for word in e.words()}
        for tenant in ("tenant-a", "tenant-b"):
            for text in ("user0000", "ext 2", "σίσυφος", "ödö", "h:0123456789abcdef", "example"):
                query = LogQuery(text=text)
                assert storage.query_log(tenant, query) == sorted(
                    (e for e in entries if e.tenant == tenant and query.matches(e)),
                    key=lambda e: e.id, reverse=True)
    finally:
        storage.close()


def test_a_rare_word_reads_the_log_by_id_without_statistics(tmp_path):
    """SQLite keeps no statistics of the log (statistics.py): its planner must still read a rare
    word's entries by id, not walk the whole log checking each entry's key."""
    storage = new_storage(f"sqlite:///{tmp_path / 'scim.db'}")
    try:
        entries = _entries(TENANT, 3_000)
        storage.append_logs(entries)
        query = LogQuery(text="user01234 example")
        plan = _plan(storage, *captured(storage, lambda: storage.query_log(TENANT, query))[-1])
        log = storage.tables.log.name
        assert not any(line.startswith(f"SEARCH {log} ") and line.endswith("(tenant=?)") for line in plan), \
            "\n".join(plan)
        assert storage.query_log(TENANT, query) == [entries[1234]]
    finally:
        storage.close()
