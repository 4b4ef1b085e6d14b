"""Schema versions: a new database is created and stamped; an older one is upgraded step by
step, the way a later release will ship its schema changes (see migrations.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import Index, inspect, select

from scimflask.errors import ConfigurationError
from scimflask_sql.migrations import LATEST, Migration, current_version, migrate

from .sql_helpers import POSTGRES, drop, new_storage, unique_prefix

DATABASES = [pytest.param("sqlite", id="sqlite"), POSTGRES]


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
    assert {t.name for t in storage.tables.metadata.sorted_tables} <= names
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
