"""Seed users into a SQL store in bulk: the rows a create writes, many resources per statement.

Seeding 1,000,000 users one `Storage.create` at a time takes 25–70 minutes on the SQL stores
(a transaction and several statements per user). Here each user still goes through the
validator a POST uses, and its rows are built by the SQL storage's own row builders
(`new_row`, `unique_rows`, `value_rows`, and `trigram_rows` where the database keeps a
`trigrams` table), so the tables, and the substring index that follows them (pg_trgm's GIN on
`values`, SQLite's FTS5 triggers on `values`, MariaDB's `trigrams` rows), end up exactly as the
server would write them; only the statements are batched, a block of users per transaction.
`tests/test_benchmarks_bulk.py` checks that both ways leave the same rows.

MariaDB's `trigrams` rows (about 85 per user) can instead be spooled to files and loaded at
the end of a seeding step in the order of the table's primary key (`load_spooled_trigrams`).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from scimflask_sql import SqlStorage
from scimflask_sql.rows import new_row
from scimflask_sql.statements import copy_rows
from scimflask_sql.substring import TRIGRAMS
from scimflask_sql.trigram_rows import trigram_rows
from scimflask_sql.values import unique_rows, value_rows
from sqlalchemy import insert
from sqlalchemy.schema import AddConstraint, CreateIndex, DropConstraint, DropIndex

from .directory import _resource, user_document, user_id

ROWS_PER_STATEMENT = 2000
# MariaDB: a seeding step of more users than this spools its `trigrams` rows (seeding.py).
SPOOL_TRIGRAMS_ABOVE = 100_000
ROWS_PER_LOAD = 2_000_000  # spooled rows per LOAD DATA, one transaction each


def is_bulk(storage) -> bool:
    """Whether `storage` is seeded in bulk here: the SQL storage's."""
    return isinstance(storage, SqlStorage)


def seed_users(state, tenant: str, start: int, stop: int, spool: Path | None = None) -> None:
    """Create users `start .. stop-1` in the SQL store of `state` in one transaction. With
    `spool` (MariaDB), their `trigrams` rows go to a file there instead, for
    `load_spooled_trigrams`."""
    storage = state.storage
    engine = storage.engine  # creates the schema and learns the substring index's kind
    rt = storage.catalog.resource_type("User")
    tables = storage.tables
    resources, uniques, values, grams = [], [], [], []
    for i in range(start, stop):
        resource = _resource(state, "User", user_id(i), user_document(i))
        resources.append(new_row(tenant, rt, resource))
        uniques += [row for _, row in unique_rows(storage.catalog, rt, tenant, resource.id, resource.data)]
        rows = value_rows(storage.catalog, rt, tenant, resource.id, resource.data)
        values += rows
        if storage.substrings.kind == TRIGRAMS:
            grams += trigram_rows(tenant, resource.id, rows)
    if spool is not None and grams:
        columns = list(grams[0])
        with open(spool / f"trigrams-{os.getpid()}.tsv", "a", encoding="utf-8") as file:
            file.writelines("\t".join(_tsv_field(row[c]) for c in columns) + "\n" for row in grams)
        grams = []
    storage.statistics.tick(engine)  # as each storage transaction does (SQLite keeps its own)
    with engine.connect() as connection:
        # A write transaction, as the storage's own (SQLite: BEGIN IMMEDIATE, so seeding
        # processes take turns at the write lock instead of failing on it).
        connection.execution_options(scim_write=True)
        with connection.begin():
            _insert(connection, ((tables.resources, resources), (tables.uniques, uniques),
                                 (tables.values, values), (tables.trigrams, grams)))


def _insert(connection, batches) -> None:
    """Each (table, rows) by the database's own bulk load where the driver has one (COPY on
    PostgreSQL, LOAD DATA on MariaDB), else multi-row INSERTs."""
    load = {"postgresql": _copy, "mysql": _load_data}.get(connection.dialect.name)
    for table, rows in batches:
        if not rows:
            continue
        if load is not None:
            load(connection, table, rows)
            continue
        for at in range(0, len(rows), ROWS_PER_STATEMENT):
            connection.execute(insert(table), rows[at:at + ROWS_PER_STATEMENT])


def _copy(connection, table, rows: list[dict]) -> None:
    columns = list(rows[0])
    copy_rows(connection, table, columns, [tuple(row[column] for column in columns) for row in rows])


def _tsv_field(value) -> str:
    """One field of LOAD DATA's default format (tab-separated, backslash escapes, `\\N` null)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _load_data(connection, table, rows: list[dict]) -> None:
    columns = list(rows[0])
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".tsv") as file:
        for row in rows:
            file.write("\t".join(_tsv_field(row[column]) for column in columns) + "\n")
        file.flush()
        _load_file(connection, table, columns, file.name)


def _load_file(connection, table, columns: list[str], path: str) -> None:
    """LOAD DATA of a file of `_tsv_field` lines. The session skips the per-row foreign key and
    unique checks, as a dump's reload does: the rows are new and consistent (the primary keys
    are still checked)."""
    quote = connection.dialect.identifier_preparer.quote
    connection.exec_driver_sql("SET SESSION foreign_key_checks = 0, unique_checks = 0")
    try:
        connection.exec_driver_sql(
            f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE {quote(table.name)} CHARACTER SET utf8mb4 "
            f"({', '.join(map(quote, columns))})")
    finally:
        connection.exec_driver_sql("SET SESSION foreign_key_checks = 1, unique_checks = 1")


def load_spooled_trigrams(state, spool: Path) -> int:
    """Load the `trigrams` rows that `seed_users` spooled to `spool`, in the order of the
    table's primary key, and return how many there were.

    Loaded as the users come, each block's rows land all over the primary key. Once the table
    outgrows the buffer pool nearly every row reads a page from disk: MariaDB seeded 844,500
    users in 40 minutes that way, slowing from 32,000 to 11,000 a minute past 70 million rows.
    In key order each page is filled once. The owner index (and its foreign key, which needs
    it) is dropped meanwhile and built again after, by a sort instead of row by row, so the
    table ends up with the definition the storage created."""
    files = sorted(spool.glob("trigrams-*.tsv"))
    if not files:
        return 0
    # Byte order is the key's order: the columns are utf8mb4_nopad_bin, and a tab sorts below
    # every character a field holds.
    ordered = spool / "trigrams.sorted"
    subprocess.run(["sort", "-S", "25%", "-T", str(spool), "-o", str(ordered), *map(str, files)],
                   env={**os.environ, "LC_ALL": "C"}, check=True)
    for file in files:
        file.unlink()
    subprocess.run(["split", "-l", str(ROWS_PER_LOAD), "-d", "-a", "4", str(ordered), str(spool / "part-")],
                   check=True)
    ordered.unlink()
    table = state.storage.tables.trigrams
    (owner,) = table.indexes
    (foreign_key,) = table.foreign_key_constraints
    columns = [column.name for column in table.c]
    loaded = 0
    with state.storage.engine.connect() as connection:
        connection.execute(DropConstraint(foreign_key))
        connection.execute(DropIndex(owner))
        connection.commit()
        try:
            for part in sorted(spool.glob("part-*")):
                _load_file(connection, table, columns, str(part))
                connection.commit()
                with open(part, "rb") as file:
                    loaded += sum(1 for _ in file)
                part.unlink()
        finally:
            connection.execute(CreateIndex(owner))
            # Unchecked, as the rows were loaded: with checks on, MariaDB adds a foreign key
            # by copying the whole table.
            connection.exec_driver_sql("SET SESSION foreign_key_checks = 0")
            connection.execute(AddConstraint(foreign_key))
            connection.exec_driver_sql("SET SESSION foreign_key_checks = 1")
            connection.commit()
    return loaded


def finish(state) -> None:
    """Bring the planner's statistics up to date after a bulk load, as the storage's own
    check would after that many creates (on SQLite nothing else does)."""
    storage = state.storage
    storage.statistics.refresh(storage.engine)
