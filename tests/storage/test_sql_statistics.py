"""Planner statistics of the provisioning log: PostgreSQL analyses the log and its word index
as they grow, even while the directory stays small; SQLite leaves them to its heuristics."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from scimflask_sql.statistics import MIN_ROWS
from sqlalchemy import text

from scimflask.model import RequestContext, Resource
from scimflask.storage.capabilities import LogEntry

from .sql_helpers import POSTGRES_URL, drop, new_storage, unique_prefix

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
CTX = RequestContext(tenant="stats")


def _entries(count: int) -> list[LogEntry]:
    return [LogEntry(id=f"{n:015x}{0:08x}", tenant="stats", time=START + timedelta(seconds=n), method="POST",
                     path="/Users", status=201, outcome="success", resource_type="User", resource_id=f"u{n}",
                     user_name=f"user{n}@example.com")
            for n in range(count)]


def _pg_analysed(storage, table: str):
    with storage.engine.connect() as connection:
        return connection.execute(text(
            "SELECT coalesce(last_analyze, last_autoanalyze) FROM pg_stat_user_tables "
            "WHERE relname = :t AND schemaname = current_schema()"), {"t": table}).scalar()


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="SCIMFLASK_TEST_POSTGRES_URL is not set")
def test_postgresql_analyses_a_growing_log():
    storage = new_storage(POSTGRES_URL, table_prefix=unique_prefix())
    try:
        storage.append_logs(_entries(MIN_ROWS + 10))
        tables = [storage.tables.log.name, storage.tables.identity_words.name]
        analysed: dict[str, object] = {}
        for _ in range(150):  # the server publishes table statistics about once a second
            storage.statistics.refresh(storage.engine)
            analysed = {table: _pg_analysed(storage, table) for table in tables}
            if all(analysed.values()):
                break
            time.sleep(0.1)
        assert all(analysed.values()), analysed
        assert _pg_analysed(storage, storage.tables.resources.name) is None  # an empty directory: no need
    finally:
        drop(storage)


def test_sqlite_analyses_the_directory_but_not_the_log(tmp_path):
    storage = new_storage(f"sqlite:///{tmp_path / 'log.db'}")
    try:
        storage.append_logs(_entries(MIN_ROWS + 10))
        for n in range(MIN_ROWS + 10):
            storage.create(CTX, Resource("User", str(uuid.uuid4()), {"userName": f"user{n}"}, START, START))
        assert storage.statistics.refresh(storage.engine) is True
        with storage.engine.connect() as connection:
            analysed = {row[0] for row in connection.exec_driver_sql("SELECT DISTINCT tbl FROM sqlite_stat1")}
        assert storage.tables.resources.name in analysed
        assert not analysed & {storage.tables.log.name, storage.tables.identity_words.name}
    finally:
        storage.close()
