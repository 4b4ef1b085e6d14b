"""The SQL databases the SQL storage tests run on, and fresh storages on them.

SQLite (in memory, new per test) always runs; PostgreSQL and MariaDB/MySQL run when their URL
is in the environment. On a server, one set of tables with a random prefix serves the whole
session (dropped at its end), so runs sharing a database never see each other's rows; each
test starts from empty tables except for a seed tenant whose rows give the planner realistic
statistics (as a live database has), and the rows of the test's tenants are deleted after it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from scimflask_sql import SqlStorage
from sqlalchemy import delete

from scimflask.model import Member, RequestContext, Resource
from scimflask.schema import default_catalog

POSTGRES_URL = os.environ.get("SCIMFLASK_TEST_POSTGRES_URL")
MYSQL_URL = os.environ.get("SCIMFLASK_TEST_MYSQL_URL")
SEED = RequestContext(tenant="seed-statistics")


def _needs(url: str | None, variable: str):
    return pytest.mark.skipif(not url, reason=f"{variable} is not set (e.g. CI's .ci/run sets it)")


POSTGRES = pytest.param(POSTGRES_URL, id="postgres",
                        marks=[pytest.mark.postgres, _needs(POSTGRES_URL, "SCIMFLASK_TEST_POSTGRES_URL")])
MYSQL = pytest.param(MYSQL_URL, id="mysql",
                     marks=[pytest.mark.mysql, _needs(MYSQL_URL, "SCIMFLASK_TEST_MYSQL_URL")])
DATABASES = [pytest.param("sqlite://", id="sqlite"), POSTGRES, MYSQL]
SERVERS = [POSTGRES, MYSQL]


def unique_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}_"


def new_storage(uri: str, **options) -> SqlStorage:
    return SqlStorage.from_uri(uri, options, default_catalog())


def drop(storage: SqlStorage) -> None:
    storage.tables.metadata.drop_all(storage.engine)
    storage.close()


def seed(storage: SqlStorage, users: int = 300, groups: int = 20) -> None:
    """A tenant of users and groups, then ANALYZE, so query plans are those of a live database."""
    now = datetime.now(timezone.utc)
    ids = []
    for n in range(users):
        ids.append(str(uuid.uuid4()))
        storage.create(SEED, Resource("User", ids[-1], {
            "userName": f"seed{n}", "externalId": f"x{n}", "title": ["A", "B", "C"][n % 3],
            "emails": [{"value": f"seed{n}@example.com", "type": "work"}]}, now, now))
    for n in range(groups):
        storage.create(SEED, Resource("Group", str(uuid.uuid4()), {"displayName": f"seed group {n}"}, now, now,
                                      members=[Member(id) for id in ids[n::groups]]))
    with storage.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("ANALYZE")
        else:
            for table in storage.tables.metadata.sorted_tables:
                connection.exec_driver_sql(f"ANALYZE TABLE {table.name}")


def clear(storage: SqlStorage) -> None:
    """Delete every row but the seed tenant's."""
    tables = storage.tables
    with storage.engine.begin() as connection:
        for table in (tables.tokens, tables.tenants, tables.identity_words, tables.log, tables.counters):
            connection.execute(delete(table))
        for table in (tables.members, tables.values, tables.uniques, tables.resources):
            connection.execute(delete(table).where(table.c.tenant != SEED.tenant))


class SharedDatabase:
    """One server database's session-wide tables."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.prefix = unique_prefix()
        self.owner = new_storage(uri, table_prefix=self.prefix)
        seed(self.owner)

    def storage(self) -> SqlStorage:
        return new_storage(self.uri, engine=self.owner.engine, table_prefix=self.prefix)

    def close(self) -> None:
        drop(self.owner)


def storages(request, shared: dict) -> Iterator[SqlStorage]:
    """Body of a `scim_storage` fixture parametrised over DATABASES."""
    uri = request.param
    if uri.startswith("sqlite"):
        storage = new_storage(uri)
        yield storage
        storage.close()
        return
    if uri not in shared:
        shared[uri] = SharedDatabase(uri)
    storage = shared[uri].storage()
    try:
        yield storage
    finally:
        clear(storage)


@pytest.fixture(scope="session")
def sql_shared() -> Iterator[dict]:
    """uri -> SharedDatabase, created on first use; tables dropped when the session ends."""
    shared: dict[str, SharedDatabase] = {}
    yield shared
    for database in shared.values():
        database.close()


def bulk_users(storage: SqlStorage, ctx: RequestContext, datas: list[dict]) -> list[str]:
    """Insert users in one transaction with multi-row INSERTs (rows as `create` writes them)."""
    from scimflask_sql.rows import new_row
    from scimflask_sql.values import unique_rows, value_rows

    catalog, rt = storage.catalog, storage.catalog.resource_type("User")
    now = datetime.now(timezone.utc)
    resources, values, uniques, ids = [], [], [], []
    for data in datas:
        id = str(uuid.uuid4())
        ids.append(id)
        resources.append(new_row(ctx.tenant, rt, Resource("User", id, data, now, now)))
        values.extend(value_rows(catalog, rt, ctx.tenant, id, data))
        uniques.extend(row for _, row in unique_rows(catalog, rt, ctx.tenant, id, data))
    tables = storage.tables
    with storage.engine.begin() as connection:
        for table, rows in ((tables.resources, resources), (tables.uniques, uniques), (tables.values, values)):
            for start in range(0, len(rows), 1000):
                connection.execute(table.insert(), rows[start:start + 1000])
    return ids


def sent_statements(storage, call) -> list[tuple[str, object, bool]]:
    """(statement, parameters, executemany) of every statement `call()` sends to the database."""
    from sqlalchemy import event

    sent: list[tuple[str, object, bool]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        sent.append((statement, parameters, executemany))

    event.listen(storage.engine, "before_cursor_execute", record)
    try:
        call()
    finally:
        event.remove(storage.engine, "before_cursor_execute", record)
    return sent
