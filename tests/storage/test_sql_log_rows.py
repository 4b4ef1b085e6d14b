"""The SQL log's rows are written by column name (`operating.insert_rows`), not by position."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from scimflask_sql.operating import _log_row
from sqlalchemy import select

from scimflask.storage.capabilities import LogEntry

from .sql_helpers import DATABASES, drop, new_storage, unique_prefix


@pytest.mark.parametrize("uri", DATABASES)
def test_every_field_of_an_entry_lands_in_its_own_column(uri):
    storage = new_storage(uri, table_prefix=unique_prefix())
    try:
        entry = LogEntry("0001", "t1", datetime(2024, 5, 1, 12, tzinfo=timezone.utc), "PATCH", "/Users/u1", 200,
                         "success", "tok", "User", "u1", ("title",), "some detail", "invalidValue", "Ann",
                         "Ann Lee", "ext-1", "req-1", 12, "okta", "Okta SCIM Client 1.0.0")
        assert len(_log_row(entry)) == len(storage.tables.log.columns)
        storage.append_logs([entry])
        log = storage.tables.log
        with storage.engine.connect() as connection:
            row = connection.execute(select(log)).one()._mapping
        assert {name: row[name] for name in ("method", "path", "status", "outcome", "token_id", "resource_type",
                                             "resource_id", "changed", "detail", "scim_type", "user_name",
                                             "display_name", "external_id", "search_text", "request_id",
                                             "duration_ms", "client", "user_agent")} == {
            "method": "PATCH", "path": "/Users/u1", "status": 200, "outcome": "success", "token_id": "tok",
            "resource_type": "User", "resource_id": "u1", "changed": '["title"]', "detail": "some detail",
            "scim_type": "invalidValue", "user_name": "Ann", "display_name": "Ann Lee", "external_id": "ext-1",
            "search_text": "ann\nann lee\next-1", "request_id": "req-1", "duration_ms": 12, "client": "okta",
            "user_agent": "Okta SCIM Client 1.0.0"}
    finally:
        drop(storage)
