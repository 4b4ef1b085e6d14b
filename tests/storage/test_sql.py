"""The SQL backend against the full storage contract on every configured database, plus
what only it promises (URIs, options, timestamps, SQL-specific edge cases)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from scimflask_sql import SqlStorage, scimflask_register_storage
from scimflask_sql.engine import database_url
from sqlalchemy import create_engine, event

from scimflask.errors import ConfigurationError
from scimflask.model import Query, RequestContext, Resource
from scimflask.schema import default_catalog
from scimflask.storage import StorageRegistry
from scimflask.testing.contract import AllContracts
from scimflask.testing.contract_support import filter_of

from .sql_helpers import DATABASES, sql_shared, storages  # noqa: F401 (sql_shared is a fixture)

CTX = RequestContext(tenant="t1")


@pytest.fixture(params=DATABASES)
def scim_storage(request, sql_shared):
    yield from storages(request, sql_shared)


class TestSqlStorage(AllContracts):
    pass


def test_registers_every_scheme_it_serves():
    registry = StorageRegistry()
    scimflask_register_storage(registry)
    for uri in ("sqlite://", "postgresql://h/db", "postgresql+psycopg://h/db", "mysql+pymysql://h/db",
                "mariadb://h/db"):
        assert registry.lookup(uri) is SqlStorage


@pytest.mark.parametrize("uri, driver", [
    ("postgresql://u@h/db", "postgresql+psycopg"),
    ("mysql://u@h/db", "mysql+pymysql"),
    ("mariadb://u@h/db", "mariadb+pymysql"),
    ("mariadb+pymysql://u@h/db", "mariadb+pymysql"),
])
def test_plain_schemes_use_the_bundled_drivers(uri, driver):
    assert database_url(uri).drivername == driver


@pytest.mark.parametrize("uri, options", [
    ("postgresql+asyncpg://h/db", {}),
    ("sqlite://", {"unknown": 1}),
    ("sqlite://", {"engine": "not an engine"}),
])
def test_bad_configuration_is_a_configuration_error(uri, options):
    with pytest.raises(ConfigurationError):
        SqlStorage.from_uri(uri, options, default_catalog())


def test_relative_sqlite_path_is_relative_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    storage = SqlStorage.from_uri("sqlite:///scim.db", {}, default_catalog())
    try:
        storage.ping()
        monkeypatch.chdir("/")  # a later chdir does not move the database
        now = datetime.now(timezone.utc)
        storage.create(CTX, Resource("User", "u-1", {"userName": "a"}, now, now))
        assert (tmp_path / "scim.db").exists()
        with storage.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        storage.close()


def test_an_injected_engine_is_used_and_not_disposed(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'host.db'}")
    storage = SqlStorage.from_uri("sqlite://", {"engine": engine}, default_catalog())
    now = datetime.now(timezone.utc)
    storage.create(CTX, Resource("User", "u-1", {"userName": "Host"}, now, now))
    storage.close()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM scim_resources").scalar() == 1


def test_microseconds_round_trip_but_filters_see_milliseconds(scim_storage):
    created = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
    scim_storage.create(CTX, Resource("User", "u-1", {"userName": "a"}, created, created))
    assert scim_storage.get(CTX, "User", "u-1").created == created
    found = scim_storage.query(CTX, "User", Query(filter=filter_of(
        scim_storage, "User", 'meta.created eq "2024-05-01T14:00:00.123+02:00"')))
    assert [r.id for r in found.resources] == ["u-1"]


def test_a_filter_is_one_statement(scim_storage):
    """`userName eq` without groups costs exactly one statement (no separate COUNT)."""
    now = datetime.now(timezone.utc)
    scim_storage.create(CTX, Resource("User", "u-1", {"userName": "Alice"}, now, now))
    statements: list[str] = []

    def record(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(scim_storage.engine, "before_cursor_execute", record)
    try:
        page = scim_storage.query(CTX, "User", Query(
            filter=filter_of(scim_storage, "User", 'userName eq "alice"'), with_groups=False))
    finally:
        event.remove(scim_storage.engine, "before_cursor_execute", record)
    assert ([r.id for r in page.resources], page.total) == (["u-1"], 1)
    data_statements = [s for s in statements if "resources" in s or "values" in s]
    assert len(data_statements) == 1 and data_statements[0].lstrip().upper().startswith("SELECT")
