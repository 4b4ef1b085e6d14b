"""The SQL log's rows are written by column name (`operating.insert_rows`), not by position,
and a batch the database refuses leaves nothing behind and fails as any statement does."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from scimflask_sql.operating import _log_row
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from scimflask.storage import StorageUnavailable
from scimflask.storage.capabilities import LogEntry, LogQuery

from .sql_helpers import DATABASES, drop, new_storage, unique_prefix


def _entry(entry_id: str, user_name: str = "Ann") -> LogEntry:
    return LogEntry(entry_id, "t1", datetime(2024, 5, 1, 12, tzinfo=timezone.utc), "PATCH", "/Users/u1", 200,
                    "success", "tok", "User", "u1", ("title",), "some detail", "invalidValue", user_name,
                    "Ann Lee", "ext-1", "req-1", 12, "okta", "Okta SCIM Client 1.0.0")


@pytest.mark.parametrize("uri", DATABASES)
def test_a_refused_batch_writes_none_of_its_rows_and_fails_as_a_storage_error(uri):
    """A batch holding an id already stored (PostgreSQL's COPY refuses it as a whole): no entry,
    word or hourly count of the batch stays, and the error is SQLAlchemy's or the storage's,
    never the driver's own, which retries and the 503 mapping would not know."""
    storage = new_storage(uri, table_prefix=unique_prefix())
    try:
        storage.append_logs([_entry("0001")])
        with pytest.raises((DBAPIError, StorageUnavailable)):
            storage.append_logs([_entry("0002", "Zed"), _entry("0001")])
        assert [entry.id for entry in storage.query_log("t1", LogQuery())] == ["0001"]
        assert storage.query_log("t1", LogQuery(text="zed")) == []
        assert [hour.requests for hour in storage.log_hours("t1", datetime(2024, 5, 1, tzinfo=timezone.utc))] == [1]
        with storage.engine.connect() as connection:
            words = connection.execute(select(func.count()).select_from(storage.tables.identity_words)).scalar()
        assert words == len(_entry("0001").words())  # the first entry's only
        storage.append_logs([_entry("0003", "Zed")])  # the connection is usable afterwards
        assert [entry.id for entry in storage.query_log("t1", LogQuery(text="zed"))] == ["0003"]
    finally:
        drop(storage)


@pytest.mark.parametrize("uri", DATABASES)
def test_every_field_of_an_entry_lands_in_its_own_column(uri):
    storage = new_storage(uri, table_prefix=unique_prefix())
    try:
        entry = LogEntry("0001", "t1", datetime(2024, 5, 1, 12, tzinfo=timezone.utc), "PATCH", "/Users/u1", 200,
                         "success", "tok", "User", "u1", ("title",), "some detail", "invalidValue", "Ann",
                         "Ann Lee", "ext-1", "req-1", 12, "okta", "Okta SCIM Client 1.0.0")
        assert len(_log_row(entry, entry.id)) == len(storage.tables.log.columns)
        storage.append_logs([entry])
        log = storage.tables.log
        with storage.engine.connect() as connection:
            row = connection.execute(select(log)).one()._mapping
        assert {name: row[name] for name in ("method", "path", "status", "outcome", "token_id", "resource_type",
                                             "resource_id", "changed", "detail", "scim_type", "user_name",
                                             "display_name", "external_id", "search_text", "request_id",
                                             "duration_ms", "client", "user_agent", "identity")} == {
            "method": "PATCH", "path": "/Users/u1", "status": 200, "outcome": "success", "token_id": "tok",
            "resource_type": "User", "resource_id": "u1", "changed": '["title"]', "detail": "some detail",
            "scim_type": "invalidValue", "user_name": "Ann", "display_name": "Ann Lee", "external_id": "ext-1",
            "search_text": "ann\nann lee\next-1", "request_id": "req-1", "duration_ms": 12, "client": "okta",
            "user_agent": "Okta SCIM Client 1.0.0", "identity": entry.id}  # the first entry of its identity: its words' key
    finally:
        drop(storage)
