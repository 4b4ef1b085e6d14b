"""The substring index on each kind of database (substring.py reads it), built by schema
version 4 for the rows already there, or with the tables of a new database.

- PostgreSQL: the pg_trgm extension, then a GIN index (`gin_trgm_ops`) on `values.key`,
  partial over the rows of the indexed attributes. pg_trgm folds case itself, so the index holds
  the lower-cased values; a `LIKE` on `key` is its operator (rechecked exactly). Each part runs
  in a savepoint: where pg_trgm cannot be created (not installed, or the role may not), no
  index is built, the step still succeeds, and substring filters scan, within `max_scan`.
  Creating it later is `build_substring_index` again (a plain CREATE INDEX: it blocks writes
  to `values` while it runs).
- SQLite: `substrings` (tables.py) and a contentless FTS5 table with the trigram tokenizer
  (SQLite 3.34 and later; case-sensitive: it indexes comparison forms, folded already where the
  attribute is not caseExact), kept in step by triggers on `values` (insert, delete, update of
  an indexed row), so every write of `values` rows, whatever its path, keeps it exact. Without
  FTS5 or its tokenizer, substring filters scan, within `max_scan`.
- MySQL/MariaDB: `trigrams` (tables.py), filled here from the `values` rows, and written with
  them afterwards (trigram_rows.py).
"""

from __future__ import annotations

from itertools import groupby

from sqlalchemy import Connection, Engine, and_, delete, inspect, or_, select, text
from sqlalchemy.exc import DBAPIError

from .statements import CHUNK, Statements
from .substring import FTS5, INDEXED, PG_TRGM, TRIGRAMS
from .tables import FTS_SUFFIX, SqlTables
from .trigram_rows import TrigramRows, trigram_rows

PG_EXTENSION = "pg_trgm"
FTS5_TOKENIZER = "trigram case_sensitive 1"


def build_substring_index(connection: Connection, tables: SqlTables) -> None:
    """Create the database's substring index and fill it from the existing `values` rows."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        _build_pg_trgm(connection, tables)
    elif dialect == "sqlite":
        _build_fts5(connection, tables)
    else:
        tables.trigrams.create(connection, checkfirst=True)
        _fill_trigrams(connection, tables)


def substring_index_kind(engine: Engine, tables: SqlTables) -> str | None:
    """Which kind of substring index the database has (substring.py), None for none."""
    with engine.connect() as connection, connection.begin():
        dialect = connection.dialect.name
        if dialect == "postgresql":
            found = connection.execute(text("SELECT to_regclass(:name)"), {"name": _pg_index(tables)}).scalar()
            return PG_TRGM if found is not None else None
        if dialect == "sqlite":
            found = connection.execute(text("SELECT 1 FROM sqlite_master WHERE name = :name"),
                                       {"name": _fts(tables)}).scalar()
            return FTS5 if found else None
        return TRIGRAMS if inspect(connection).has_table(tables.trigrams.name) else None


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _indexed_rows_sql() -> tuple[str, str]:
    """SQL lists of the indexed `attr` and `sub` texts, for an IN."""
    def listing(texts) -> str:
        return ", ".join(_literal(value) for value in sorted(set(texts)))

    return listing(attr for attr, _ in INDEXED), listing(sub for _, sub in INDEXED)


def _pg_index(tables: SqlTables) -> str:
    return f"{tables.prefix}ix_values_trgm"


def _build_pg_trgm(connection: Connection, tables: SqlTables) -> None:
    quote = connection.dialect.identifier_preparer.quote
    attrs, subs = _indexed_rows_sql()
    # Two IN lists, not one of (attr, sub) pairs: the planner proves that a query's `attr = x
    # AND sub = y` implies each list (so the partial index applies), not a row comparison.
    # The cross product of the lists matches no further row: these attributes have no other of
    # these sub-attributes.
    statements = [
        f"CREATE EXTENSION IF NOT EXISTS {PG_EXTENSION}",
        f"CREATE INDEX IF NOT EXISTS {quote(_pg_index(tables))} ON {quote(tables.values.name)} "
        f"USING gin (key gin_trgm_ops) WHERE attr IN ({attrs}) AND sub IN ({subs})",
    ]
    for statement in statements:
        try:
            with connection.begin_nested():
                connection.exec_driver_sql(statement)
        except DBAPIError:
            return  # no pg_trgm here: substring filters scan (see the module docstring)


def _fts(tables: SqlTables) -> str:
    return tables.substrings.name + FTS_SUFFIX


def _build_fts5(connection: Connection, tables: SqlTables) -> None:
    quote = connection.dialect.identifier_preparer.quote
    fts, rows, values = quote(_fts(tables)), quote(tables.substrings.name), quote(tables.values.name)
    try:
        with connection.begin_nested():
            connection.exec_driver_sql(f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5("
                                       f"key, content='', tokenize='{FTS5_TOKENIZER}')")
    except DBAPIError:
        return  # no FTS5 or no trigram tokenizer: substring filters scan
    tables.substrings.create(connection, checkfirst=True)
    connection.execute(delete(tables.substrings))
    connection.exec_driver_sql(f"INSERT INTO {fts} ({fts}) VALUES ('delete-all')")
    for statement in _fts_triggers(quote, tables, fts, rows, values):
        connection.exec_driver_sql(statement)
    connection.exec_driver_sql(f"INSERT INTO {rows} (tenant, resource_id, attr, sub, elem) SELECT tenant, "
                               f"resource_id, attr, sub, elem FROM {values} AS v WHERE {_indexed_condition('v')}")
    connection.exec_driver_sql(
        f"INSERT INTO {fts} (rowid, key) SELECT s.id, v.key FROM {rows} AS s JOIN {values} AS v "
        "ON v.resource_id = s.resource_id AND v.attr = s.attr AND v.sub = s.sub AND v.elem = s.elem "
        "AND v.tenant = s.tenant")


def _indexed_condition(row: str) -> str:
    """SQLite: `values` row `row` (a name, or NEW / OLD) is one of an indexed attribute."""
    pairs = ", ".join(f"({_literal(attr)}, {_literal(sub)})" for attr, sub in sorted(INDEXED))
    return f"({row}.key IS NOT NULL AND ({row}.attr, {row}.sub) IN (VALUES {pairs}))"


def _fts_triggers(quote, tables: SqlTables, fts: str, rows: str, values: str) -> list[str]:
    """Triggers that mirror the indexed `values` rows into `substrings` and the FTS5 table. A
    contentless FTS5 row is deleted by its rowid and the text it was indexed with."""
    same = ("resource_id = {r}.resource_id AND attr = {r}.attr AND sub = {r}.sub AND elem = {r}.elem "
            "AND tenant = {r}.tenant")
    add = (f"INSERT INTO {rows} (tenant, resource_id, attr, sub, elem) SELECT NEW.tenant, NEW.resource_id, "
           f"NEW.attr, NEW.sub, NEW.elem WHERE {_indexed_condition('NEW')}; "
           f"INSERT INTO {fts} (rowid, key) SELECT last_insert_rowid(), NEW.key WHERE {_indexed_condition('NEW')};")
    remove = (f"INSERT INTO {fts} ({fts}, rowid, key) SELECT 'delete', id, OLD.key FROM {rows} "
              f"WHERE {same.format(r='OLD')}; DELETE FROM {rows} WHERE {same.format(r='OLD')};")
    name = tables.prefix + "values_substrings"
    return [
        f"CREATE TRIGGER IF NOT EXISTS {quote(name + '_insert')} AFTER INSERT ON {values} "
        f"WHEN {_indexed_condition('NEW')} BEGIN {add} END",
        f"CREATE TRIGGER IF NOT EXISTS {quote(name + '_delete')} AFTER DELETE ON {values} "
        f"WHEN {_indexed_condition('OLD')} BEGIN {remove} END",
        f"CREATE TRIGGER IF NOT EXISTS {quote(name + '_update')} AFTER UPDATE ON {values} "
        f"WHEN {_indexed_condition('OLD')} OR {_indexed_condition('NEW')} BEGIN {remove} {add} END",
    ]


def _fill_trigrams(connection: Connection, tables: SqlTables) -> None:
    """The `trigrams` rows of every resource, from its indexed `values` rows, a batch of
    resources at a time. Starts empty: MySQL commits the CREATE at once, so a step that failed
    half-way may have left rows behind."""
    r, v = tables.resources, tables.values
    connection.execute(delete(tables.trigrams))
    writer = TrigramRows(tables, Statements())
    attrs = sorted({attr for attr, _ in INDEXED})
    last = ("", "")
    while True:
        owners = connection.execute(select(r.c.tenant, r.c.id).where(
            or_(r.c.tenant > last[0], and_(r.c.tenant == last[0], r.c.id > last[1])))
            .order_by(r.c.tenant, r.c.id).limit(CHUNK)).all()
        if not owners:
            return
        for tenant, group in groupby(owners, key=lambda owner: owner[0]):
            found: dict[str, list] = {}
            for row in connection.execute(select(v.c.resource_id, v.c.attr, v.c.sub, v.c.key).where(
                    v.c.tenant == tenant, v.c.resource_id.in_([id for _, id in group]), v.c.attr.in_(attrs))
                    ).mappings():
                found.setdefault(row["resource_id"], []).append(row)
            writer.insert(connection, [trigram for id, rows in found.items()
                                       for trigram in trigram_rows(tenant, id, rows)])
        last = tuple(owners[-1])
