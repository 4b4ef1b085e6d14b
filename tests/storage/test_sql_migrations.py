"""Schema versions: a new database is created and stamped; an older one is upgraded step by
step, the way a later release will ship its schema changes (see migrations.py), as version 2
did when it added the tenants, log and counters tables."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from scimflask_sql.migrations import LATEST, Migration, current_version, migrate
from sqlalchemy import Index, delete, inspect, select

from scimflask.errors import ConfigurationError
from scimflask.model import RequestContext, Resource, Token
from scimflask.storage import LogEntry, Tenant

from .sql_helpers import MYSQL, POSTGRES, drop, new_storage, unique_prefix

DATABASES = [pytest.param("sqlite", id="sqlite"), POSTGRES]
UPGRADE_CTX = RequestContext(tenant="upgraded")
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(params=DATABASES)
def storage(request, tmp_path):
    uri = f"sqlite:///{tmp_path / 'scim.db'}" if request.param == "sqlite" else request.param
    storage = new_storage(uri, table_prefix=unique_prefix())
    yield storage
    drop(storage)


def _versions(storage) -> list[int]:
    table = storage.tables.schema_version
    with storage.engine.connect() as connection:
        return list(connection.execute(select(table.c.version).order_by(table.c.version)).scalars())


def _display_name_index(storage) -> Index:
    return Index(f"{storage.tables.resources.name}_dn", storage.tables.resources.c.display_name,
                 mysql_length=191)


def test_first_use_creates_every_table_and_stamps_the_latest_version(storage):
    storage.ping()  # first use
    names = set(inspect(storage.engine).get_table_names())
    created = {t.name for t in storage.tables.created_on(storage.engine.dialect.name)}
    assert created <= names
    # The substring index's table of another kind of database is not made here.
    assert not ({t.name for t in storage.tables.metadata.sorted_tables} - created) & names
    assert _versions(storage) == [LATEST]
    assert migrate(storage.engine, storage.tables) == LATEST  # already current: nothing to do


def test_an_older_database_is_upgraded_in_order_once(storage):
    storage.ping()
    applied: list[int] = []

    def add_index(connection, tables) -> None:
        applied.append(LATEST + 1)
        _display_name_index(storage).create(connection)

    def record(connection, tables) -> None:
        applied.append(LATEST + 2)

    steps = [Migration(LATEST + 2, "second", record), Migration(LATEST + 1, "index on display_name", add_index)]
    assert migrate(storage.engine, storage.tables, steps, latest=LATEST + 2) == LATEST
    assert applied == [LATEST + 1, LATEST + 2]
    assert _versions(storage) == [LATEST, LATEST + 1, LATEST + 2]
    indexes = {ix["name"] for ix in inspect(storage.engine).get_indexes(storage.tables.resources.name)}
    assert f"{storage.tables.resources.name}_dn" in indexes
    assert migrate(storage.engine, storage.tables, steps, latest=LATEST + 2) == LATEST + 2
    assert applied == [LATEST + 1, LATEST + 2]


def test_a_failing_step_leaves_the_last_good_version(storage):
    storage.ping()

    def broken(connection, tables) -> None:
        _display_name_index(storage).create(connection)
        raise RuntimeError("step failed half-way")

    with pytest.raises(RuntimeError):
        migrate(storage.engine, storage.tables, [Migration(LATEST + 1, "broken", broken)], latest=LATEST + 1)
    assert _versions(storage) == [LATEST]
    with storage.engine.connect() as connection:
        assert current_version(connection, storage.tables) == LATEST


def test_a_database_newer_than_the_code_is_refused(storage):
    storage.ping()
    migrate(storage.engine, storage.tables, [Migration(LATEST + 1, "future", lambda c, t: None)],
            latest=LATEST + 1)
    with pytest.raises(ConfigurationError, match="newer"):
        migrate(storage.engine, storage.tables)


@pytest.fixture(params=[pytest.param("sqlite", id="sqlite"), POSTGRES, MYSQL])
def version_one_uri(request, tmp_path):
    """A database as release 1 left it: its tables, stamped version 1, holding a user and a
    token; yields (uri, table prefix)."""
    uri = f"sqlite:///{tmp_path / 'scim.db'}" if request.param == "sqlite" else request.param
    prefix = unique_prefix()
    setup = new_storage(uri, table_prefix=prefix)
    setup.create(UPGRADE_CTX, Resource("User", "u-1", {"userName": "before-upgrade"}, NOW, NOW))
    setup.add_token(Token("tok-1", UPGRADE_CTX.tenant, "a" * 64, NOW))
    tables = setup.tables
    with setup.engine.begin() as connection:
        for table in (tables.tenants, tables.log, tables.counters):
            table.drop(connection)
        connection.execute(delete(tables.schema_version))
        connection.execute(tables.schema_version.insert().values(version=1, applied="2024-01-01T00:00:00.000000Z"))
    setup.close()
    yield uri, prefix
    drop(new_storage(uri, table_prefix=prefix))


def test_a_version_one_database_gains_the_operating_tables(version_one_uri):
    uri, prefix = version_one_uri
    storage = new_storage(uri, table_prefix=prefix)
    try:
        assert storage.get(UPGRADE_CTX, "User", "u-1").data["userName"] == "before-upgrade"
        assert _versions(storage) == list(range(1, LATEST + 1))
        names = set(inspect(storage.engine).get_table_names())
        assert {storage.tables.tenants.name, storage.tables.log.name, storage.tables.counters.name} <= names
        storage.put_tenant(Tenant(UPGRADE_CTX.tenant, NOW))
        storage.append_log(LogEntry("00000000000000000001-ab", UPGRADE_CTX.tenant, NOW, "POST", "/Users",
                                    201, "success", changed=("userName",)))
        assert storage.hit_counter(f"{UPGRADE_CTX.tenant}:tok-1", 60, NOW) == 1
        assert [e.changed for e in storage.query_log(UPGRADE_CTX.tenant)] == [("userName",)]
        assert storage.delete_tenant(UPGRADE_CTX.tenant) is True
        assert storage.find_token("a" * 64) is None
    finally:
        storage.close()
