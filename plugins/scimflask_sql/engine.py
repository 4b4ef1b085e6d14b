"""From a storage URI to a configured SQLAlchemy engine (one per process).

Driver defaults live here, as in Flask-SQLAlchemy's `_apply_driver_defaults`:
- `sqlite://` is one in-memory database shared by every thread (StaticPool); `sqlite:///x.db`
  is relative to the current working directory, resolved once when the storage is built;
- SQLite connections get WAL, foreign keys, a busy timeout and case-sensitive LIKE (SCIM's
  caseExact `sw`/`ew`/`co`), and write transactions start with BEGIN IMMEDIATE so two writers
  queue on the busy timeout instead of failing to upgrade a read lock;
- plain `postgresql://`, `mysql://` and `mariadb://` use psycopg 3 and PyMySQL;
- every engine pre-pings pooled connections (a restarted database is reconnected to without
  restarting the app) and sets connect and statement timeouts.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import StaticPool

from scimflask.errors import ConfigurationError

DRIVERS = {
    "sqlite": "sqlite",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mysql+pymysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
    "mariadb+pymysql": "mariadb+pymysql",
}
CONNECT_TIMEOUT = 10      # seconds
STATEMENT_TIMEOUT = 30    # seconds
SQLITE_BUSY_TIMEOUT = 30  # seconds


def database_url(uri: str) -> URL:
    """The SQLAlchemy URL for a scimflask storage URI, driver made explicit."""
    try:
        url = make_url(uri)
    except ArgumentError as exc:
        raise ConfigurationError(f"invalid SQL storage URI {uri!r}: {exc}") from None
    driver = DRIVERS.get(url.drivername.lower())
    if driver is None:
        raise ConfigurationError(
            f"SQL storage does not support {url.drivername!r}; use one of: {', '.join(sorted(DRIVERS))}"
        )
    url = url.set(drivername=driver)
    if driver == "sqlite" and url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        url = url.set(database=os.path.abspath(url.database))
    return url


def is_memory_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def build_engine(url: URL, engine_options: dict[str, Any] | None = None) -> Engine:
    options: dict[str, Any] = {"pool_pre_ping": True}
    backend = url.get_backend_name()
    if backend == "sqlite":
        options["connect_args"] = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT}
        if is_memory_sqlite(url):
            options["poolclass"] = StaticPool
    elif backend == "postgresql":
        options["connect_args"] = {
            "connect_timeout": CONNECT_TIMEOUT,
            # Custom plans always: after a few executions PostgreSQL may switch a prepared
            # statement to a generic plan that ignores the bound value and walks the tenant's
            # whole value range (a filtered lookup then costs O(users) per call).
            "options": f"-c statement_timeout={STATEMENT_TIMEOUT * 1000} -c plan_cache_mode=force_custom_plan",
        }
    else:
        options["connect_args"] = {
            "connect_timeout": CONNECT_TIMEOUT, "read_timeout": STATEMENT_TIMEOUT,
            "write_timeout": STATEMENT_TIMEOUT, "charset": "utf8mb4",
        }
    options.update(engine_options or {})
    engine = create_engine(url, **options)
    if backend == "sqlite":
        prepare_sqlite(engine, memory=is_memory_sqlite(url))
    return engine


def prepare_sqlite(engine: Engine, *, memory: bool) -> None:
    """Pragmas per connection, and explicit BEGIN (IMMEDIATE for writes) per transaction."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT * 1000}")
        cursor.execute("PRAGMA case_sensitive_like=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        mode = "IMMEDIATE" if connection.get_execution_options().get("scim_write") else "DEFERRED"
        connection.exec_driver_sql(f"BEGIN {mode}")
