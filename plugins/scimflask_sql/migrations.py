"""Schema versions: create the tables on first use, and upgrade an older database in order.

The `schema_version` table holds one row per applied version. A database without that table
is new: every table is created at the current shape (`tables.py`, and the substring index of
substring_schema.py, which is not all SQLAlchemy tables) and stamped `LATEST`. A
database at version N gets each step N+1..LATEST applied, in order, each in its transaction
with its version row, so a failed step leaves the database at the last good version.

How a later release changes the schema: edit `tables.py` to the new shape, bump `LATEST`, and
append a `Migration(version, description, apply)` whose `apply(connection, tables)` brings a
database of the previous version to the new shape (ALTER TABLE / CREATE INDEX through
SQLAlchemy DDL constructs, or `connection.exec_driver_sql` per dialect); tests/storage/
test_sql_migrations.py shows the pattern. Several processes starting at once are serialised
by a database lock (PostgreSQL advisory lock, MySQL GET_LOCK, SQLite's write lock).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Connection, Engine, Table, bindparam, delete, func, inspect, select, text, update
from sqlalchemy.schema import CreateColumn

from scimflask.storage import ConfigurationError
from scimflask.storage.log_words import IdentityKeys, entry_words, identity_hash

from .operating import identity_word_rows, insert_rows
from .substring_schema import build_substring_index
from .tables import SqlTables, log_columns_v3
from .values import stamp

LATEST = 6
BACKFILL_BATCH = 1000  # log entries read per statement while filling the word index
BACKFILL_KEYS = 100_000  # identities of a tenant whose key the upgrade remembers
_LOCK_ID = 0x5C1F1A5  # PostgreSQL advisory lock key for "scimflask schema"


@dataclass(frozen=True)
class Migration:
    """One upgrade step: `apply` turns a database at `version - 1` into `version`."""

    version: int
    description: str
    apply: Callable[[Connection, SqlTables], None]


def _add_operating_tables(connection: Connection, tables: SqlTables) -> None:
    # checkfirst: MySQL commits each CREATE TABLE at once, so a step that failed half-way
    # (its version row unwritten) may have left some of these tables behind.
    for table in (tables.tenants, tables.log, tables.counters):
        table.create(connection, checkfirst=True)


def _add_missing_columns(connection: Connection, table: Table, names: list[str]) -> None:
    """ALTER TABLE ADD COLUMN, at the shape tables.py gives it, each of `names` the table lacks."""
    present = {column["name"] for column in inspect(connection).get_columns(table.name)}
    table_name = connection.dialect.identifier_preparer.format_table(table)
    for name in names:
        if name not in present:
            definition = CreateColumn(table.c[name]).compile(dialect=connection.dialect)
            connection.exec_driver_sql(f"ALTER TABLE {table_name} ADD COLUMN {definition}")


def _add_log_identities(connection: Connection, tables: SqlTables) -> None:
    """The log's identity, error, request and client columns and its two filter indexes.

    Each part is skipped when present (MySQL commits DDL at once, so a failed run may have left
    some behind; a version 1 database got `log` at today's shape from step 2). Entries of
    version 2 kept the error's scimType in `detail`: it moves to `scim_type`.
    """
    log = tables.log
    _add_missing_columns(connection, log, [column.name for column in log_columns_v3()])
    for index in log.indexes:
        index.create(connection, checkfirst=True)
    # Until this step is stamped only version 2 code writes entries, so every detail is a scimType.
    # In this order: MySQL gives later assignments the values of earlier ones.
    connection.execute(update(log).where(log.c.scim_type.is_(None), log.c.detail.is_not(None))
                       .ordered_values((log.c.scim_type, log.c.detail), (log.c.detail, None)))


def _add_log_words(connection: Connection, tables: SqlTables) -> None:
    """Version 5 kept each entry's words in `log_words`; version 6 keeps them per identity and
    fills them from the entries themselves, so a database passing through 5 builds nothing."""


@dataclass(frozen=True, slots=True)
class _StoredEntry:
    """A stored log row as `IdentityKeys` reads an entry (`log_words.KeyedEntry`)."""

    tenant: str
    id: str
    identity: tuple[str | None, ...]  # user_name, display_name, external_id

    def identity_hash(self) -> str | None:
        return identity_hash(self.identity)

    def words(self) -> list[str]:
        return entry_words(self.identity)


def _words_per_identity(connection: Connection, tables: SqlTables) -> None:
    """`log.identity` and its index, `log_identity_words`, then the key and words of every entry
    already stored, read tenant by tenant in batches of BACKFILL_BATCH entries by primary key
    and keyed as the log's writer keys them (`IdentityKeys`, remembering BACKFILL_KEYS
    identities: one met again after that gets a key of its own); last, version 5's `log_words`
    goes. Each part is skipped or redone when a failed earlier run (MySQL commits DDL at once)
    left it behind."""
    log, words = tables.log, tables.identity_words
    _add_missing_columns(connection, log, ["identity"])
    for index in log.indexes:
        index.create(connection, checkfirst=True)
    words.create(connection, checkfirst=True)
    connection.execute(delete(words))
    columns = (log.c.tenant, log.c.id, log.c.user_name, log.c.display_name, log.c.external_id)
    set_key = (update(log).where(log.c.tenant == bindparam("t"), log.c.id == bindparam("i"))
               .values(identity=bindparam("k")))
    identity_keys = IdentityKeys(size=BACKFILL_KEYS)
    tenant = connection.execute(select(func.min(log.c.tenant))).scalar()
    while tenant is not None:
        last = ""  # below every id
        while True:
            rows = connection.execute(select(*columns).where(log.c.tenant == tenant, log.c.id > last)
                                      .order_by(log.c.id).limit(BACKFILL_BATCH)).all()
            entries = [_StoredEntry(tenant, row.id, (row.user_name, row.display_name, row.external_id))
                       for row in rows]
            keys, due = identity_keys.assign(entries)
            assigned = [{"t": tenant, "i": entry.id, "k": key}
                        for entry, key in zip(entries, keys, strict=True) if key is not None]
            if assigned:
                connection.execute(set_key, assigned)
                new, again = identity_word_rows(entries, due)
                insert_rows(connection, words, new)
                insert_rows(connection, words, again, ignore_duplicates=True)
                identity_keys.stored(entries, keys, due)
            if len(rows) < BACKFILL_BATCH:
                break
            last = rows[-1].id
        tenant = connection.execute(select(func.min(log.c.tenant)).where(log.c.tenant > tenant)).scalar()
    legacy = f"{tables.prefix}log_words"
    if inspect(connection).has_table(legacy):
        connection.exec_driver_sql(f"DROP TABLE {connection.dialect.identifier_preparer.quote(legacy)}")


# Steps after the first release's tables, in order.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(2, "tenants, provisioning log and rate-limit counters", _add_operating_tables),
    Migration(3, "provisioning log: target identity, error detail, request and client; filter indexes",
              _add_log_identities),
    Migration(4, "substring index of co/sw/ew: pg_trgm (PostgreSQL), FTS5 (SQLite), trigrams (MySQL)",
              build_substring_index),
    Migration(5, "provisioning log: word index of the text search", _add_log_words),
    Migration(6, "provisioning log: words kept per identity instead of per entry", _words_per_identity),
)


def current_version(connection: Connection, tables: SqlTables) -> int | None:
    """The database's schema version, or None for a database without scimflask tables."""
    if not inspect(connection).has_table(tables.schema_version.name):
        return None
    return connection.execute(select(func.max(tables.schema_version.c.version))).scalar()


def migrate(engine: Engine, tables: SqlTables, migrations: Sequence[Migration] = MIGRATIONS,
            latest: int = LATEST) -> int:
    """Bring the database to `latest`; return the version it was at (0 when new)."""
    with engine.connect().execution_options(scim_write=True) as connection:
        _session_lock(connection, acquire=True)
        try:
            return _migrate(connection, tables, migrations, latest)
        finally:
            _session_lock(connection, acquire=False)


def _migrate(connection: Connection, tables: SqlTables, migrations: Sequence[Migration], latest: int) -> int:
    with connection.begin():
        _transaction_lock(connection)
        found = current_version(connection, tables)
        if found is None:
            tables.metadata.create_all(connection, tables=tables.created_on(connection.dialect.name))
            build_substring_index(connection, tables)
            _stamp(connection, tables, latest)
            return 0
    if found > latest:
        raise ConfigurationError(
            f"the SQL storage schema is at version {found}, newer than this scimflask "
            f"understands ({latest}); upgrade scimflask"
        )
    for step in sorted(migrations, key=lambda m: m.version):
        if found < step.version <= latest:
            with connection.begin():
                _transaction_lock(connection)
                if current_version(connection, tables) >= step.version:
                    continue  # another process applied it meanwhile
                step.apply(connection, tables)
                _stamp(connection, tables, step.version)
    return found


def _stamp(connection: Connection, tables: SqlTables, version: int) -> None:
    connection.execute(tables.schema_version.insert().values(
        version=version, applied=stamp(datetime.now(timezone.utc))))


def _transaction_lock(connection: Connection) -> None:
    """PostgreSQL: serialise schema changes across processes until this transaction ends."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_ID})


def _session_lock(connection: Connection, *, acquire: bool) -> None:
    """MySQL/MariaDB: DDL commits implicitly, so a named session lock spans the whole run."""
    if connection.dialect.name not in ("mysql", "mariadb"):
        return
    statement = "SELECT GET_LOCK('scimflask_schema', 60)" if acquire else "SELECT RELEASE_LOCK('scimflask_schema')"
    with connection.begin():
        connection.execute(text(statement))
