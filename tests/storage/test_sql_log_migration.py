"""Schema version 3: a version 2 database gains the log's identity, error, request and client
columns and its filter indexes; the scimType its entries kept in `detail` moves to `scim_type`."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from scimflask_sql.migrations import LATEST
from sqlalchemy import delete, insert, inspect, select, text

from scimflask.storage.capabilities import LogEntry, LogQuery

from .sql_helpers import MYSQL, POSTGRES, drop, new_storage, unique_prefix

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
TENANT = "upgraded"
V3_COLUMNS = ("scim_type", "user_name", "display_name", "external_id", "search_text", "request_id",
              "duration_ms", "client", "user_agent")


@pytest.fixture(params=[pytest.param("sqlite", id="sqlite"), POSTGRES, MYSQL])
def version_two_uri(request, tmp_path):
    """A database as version 2 left it, with two entries written by version 2 (one failure,
    its scimType in `detail`); yields (uri, table prefix)."""
    uri = f"sqlite:///{tmp_path / 'scim.db'}" if request.param == "sqlite" else request.param
    prefix = unique_prefix()
    setup = new_storage(uri, table_prefix=prefix)
    setup.ping()
    tables = setup.tables
    log = tables.log
    with setup.engine.begin() as connection:
        for index in log.indexes:
            if index.name.endswith(("ix_log_outcome", "ix_log_resource")):
                index.drop(connection)
        quoted = connection.dialect.identifier_preparer.format_table(log)
        for column in V3_COLUMNS:
            connection.execute(text(f"ALTER TABLE {quoted} DROP COLUMN {column}"))
        connection.execute(delete(tables.schema_version))
        connection.execute(tables.schema_version.insert().values(version=2, applied="2024-01-01T00:00:00.000000Z"))
    with setup.engine.begin() as connection:
        for number, (status, outcome, detail) in enumerate([(201, "success", None),
                                                              (409, "failure", "uniqueness")]):
            connection.execute(insert(log), {
                "tenant": TENANT, "id": f"0000{number}", "time": f"2024-05-01T11:0{number}:00.000000Z",
                "method": "POST", "path": "/Users", "status": status, "outcome": outcome, "token_id": None,
                "resource_type": "User", "resource_id": None, "changed": "[]", "detail": detail})
    setup.close()
    yield uri, prefix
    drop(new_storage(uri, table_prefix=prefix))


def test_a_version_two_database_gains_the_log_columns_and_indexes(version_two_uri):
    uri, prefix = version_two_uri
    storage = new_storage(uri, table_prefix=prefix)
    try:
        storage.ping()
        inspector = inspect(storage.engine)
        columns = {column["name"] for column in inspector.get_columns(storage.tables.log.name)}
        assert set(V3_COLUMNS) <= columns
        indexes = {index["name"] for index in inspector.get_indexes(storage.tables.log.name)}
        assert {f"{prefix}ix_log_outcome", f"{prefix}ix_log_resource"} <= indexes
        with storage.engine.connect() as connection:
            versions = connection.execute(select(storage.tables.schema_version.c.version)).scalars().all()
        assert sorted(versions) == list(range(2, LATEST + 1))

        old = storage.query_log(TENANT)
        assert [(e.status, e.scim_type, e.detail) for e in old] == [(409, "uniqueness", None), (201, None, None)]
        assert [e.status for e in storage.query_log(TENANT, LogQuery(failures_only=True))] == [409]
        new = LogEntry("00002", TENANT, NOW + timedelta(minutes=1), "POST", "/Users", 409, "failure",
                       detail="userName is already in use by another User", scim_type="uniqueness",
                       user_name="Ada@Example.com", request_id="r-1", duration_ms=3, client="okta")
        storage.append_log(new)
        assert storage.query_log(TENANT, LogQuery(text="ada@")) == [new]
    finally:
        storage.close()
