"""From a storage URI to a configured SQLAlchemy engine (one per process).

Driver defaults live here, as in Flask-SQLAlchemy's `_apply_driver_defaults`:
- `sqlite://` is one in-memory database shared by every thread (StaticPool); `sqlite:///x.db`
  is relative to the current working directory, resolved once when the storage is built;
- SQLite connections get WAL, foreign keys, a busy timeout and case-sensitive LIKE (SCIM's
  caseExact `sw`/`ew`/`co`), and write transactions start with BEGIN IMMEDIATE so two writers
  queue on the busy timeout instead of failing to upgrade a read lock; a file's pool hands out
  the connection returned last, whose page cache is the one still valid;
- plain `postgresql://`, `mysql://` and `mariadb://` use psycopg 3 and PyMySQL;
- every engine pings a pooled connection before handing it out when it sat idle for more than
  `PING_AFTER` seconds or when its socket has something to read (an idle connection's socket
  is readable when the server or the network closed it): a restarted database is reconnected
  to without restarting the app. Not SQLAlchemy's `pool_pre_ping`, which is one more round
  trip on every checkout, i.e. on every storage call; the socket check is one poll() call.
  Engines also get connect and statement timeouts: `timeout` (the storage option
  `storage_timeout`, from SCIM_STORAGE_TIMEOUT) or STATEMENT_TIMEOUT. On PostgreSQL it is also
  a client-side deadline per step (deadline.py): the server-side statement timeout cannot end
  a wait on a stalled network. MySQL's read/write timeouts are client-side already.
- PostgreSQL keeps its durability: a write is answered once its commit is on disk. The
  storage option `synchronous_commit=False` (opt-in) lets PostgreSQL answer before the WAL is
  flushed: faster commits, but a crash of the database server (not of the app) can lose the
  writes of its last moments (up to three `wal_writer_delay`, 600 ms by default) that clients
  were told had succeeded. Nothing is half-written or inconsistent either way.
"""

from __future__ import annotations

import math
import os
import select
import time
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.pool import StaticPool

from scimflask.storage import ConfigurationError

from .deadline import Deadlines

DRIVERS = {
    "sqlite": "sqlite",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mysql+pymysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
    "mariadb+pymysql": "mariadb+pymysql",
}
CONNECT_TIMEOUT = 10      # seconds, at most (a shorter storage timeout shortens it)
STATEMENT_TIMEOUT = 30    # seconds, unless the storage is given a timeout
SQLITE_BUSY_TIMEOUT = 30  # seconds
GROUP_CONCAT_MAX_LEN = 16 * 1024 * 1024  # MySQL/MariaDB: bytes of one JSON_ARRAYAGG result
PING_AFTER = 2.0          # seconds a pooled connection may idle before it is pinged at checkout
# Driver errors meaning "the database is unreachable or broken" (the storage's `base_exceptions`).
UNAVAILABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)


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


def build_engine(url: URL, engine_options: dict[str, Any] | None = None,
                 timeout: float | None = None, *, synchronous_commit: bool = True) -> Engine:
    """The engine for `url`; `timeout` (seconds) bounds each connect and each statement;
    `synchronous_commit=False`: PostgreSQL's asynchronous commit (see the module docstring)."""
    seconds = STATEMENT_TIMEOUT if timeout is None else timeout
    options: dict[str, Any] = {"connect_args": _connect_args(url, seconds, synchronous_commit)}
    backend = url.get_backend_name()
    if is_memory_sqlite(url):
        options["poolclass"] = StaticPool
    elif backend == "sqlite":
        # The connection returned last is handed out first. A SQLite connection drops its whole
        # page cache when another connection committed since its last transaction (WAL mode),
        # so a thread taking turns between two pooled connections (first in, first out, as
        # soon as a second thread, such as the log's writer, made a second one) rereads every
        # page of every request.
        options["pool_use_lifo"] = True
    options.update(engine_options or {})
    engine = create_engine(url, **options)
    if backend == "postgresql":
        Deadlines(seconds).attach(engine)  # first: its checkout deadline covers the ping too
    if not options.get("pool_pre_ping"):
        ping_idle_connections(engine)
    if backend == "sqlite":
        prepare_sqlite(engine, memory=is_memory_sqlite(url))
    return engine


def _connect_args(url: URL, seconds: float, synchronous_commit: bool = True) -> dict[str, Any]:
    """The driver's connect arguments: timeouts and per-session settings."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        return {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT}
    # libpq takes whole seconds (2 at least); PyMySQL takes fractions.
    connect = min(CONNECT_TIMEOUT, max(2, math.ceil(seconds)) if backend == "postgresql" else seconds)
    if backend == "postgresql":
        return {
            "connect_timeout": connect,
            # Custom plans always: after a few executions PostgreSQL may switch a prepared
            # statement to a generic plan that ignores the bound value and walks the tenant's
            # whole value range (a filtered lookup then costs O(users) per call).
            # A transaction left idle for half the timeout is ended by the server: when the
            # network stalls after a statement, the deadline (deadline.py) fails the COMMIT no
            # earlier than a whole timeout after it, so by the time the client answers 503 the
            # server has already rolled the transaction back and a COMMIT the network delivers
            # late finds no session to commit.
            "options": (f"-c statement_timeout={round(seconds * 1000)} "
                        f"-c idle_in_transaction_session_timeout={max(1, round(seconds * 500))} "
                        "-c plan_cache_mode=force_custom_plan"
                        + ("" if synchronous_commit else " -c synchronous_commit=off")),
        }
    return {
        "connect_timeout": connect, "read_timeout": seconds, "write_timeout": seconds,
        "charset": "utf8mb4",
        # JSON_ARRAYAGG (a user's groups, read with the user) is cut at this length; 1 MB
        # by default. The storage falls back to a separate query when it is cut anyway.
        "init_command": f"SET SESSION group_concat_max_len = {GROUP_CONCAT_MAX_LEN}",
    }


def adopt_engine(engine: Engine) -> Engine:
    """An engine the host built (`SCIM_STORAGE_OPTIONS["engine"]`): a SQLite one gets the same
    pragmas and BEGIN handling as one built here; a server's is used as it is."""
    if engine.dialect.name == "sqlite":
        prepare_sqlite(engine, memory=is_memory_sqlite(engine.url))
    return engine


def _socket_readable(dbapi_connection) -> bool:
    """Whether the socket of an idle server connection has input (closed by the peer, or a
    message from it); True when that cannot be told, so that the caller pings."""
    try:
        fileno = getattr(dbapi_connection, "fileno", None)
        fd = fileno() if fileno is not None else dbapi_connection._sock.fileno()  # psycopg / PyMySQL
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLPRI)
        return bool(poller.poll(0))
    except Exception:  # closed, or a driver without a socket we know of
        return True


def ping_idle_connections(engine: Engine, idle: float = PING_AFTER) -> None:
    """At checkout, ping a connection idle for more than `idle` seconds or whose socket has
    input; a failed ping makes the pool connect afresh (SQLAlchemy's DisconnectionError
    protocol). SQLite connections (no server) are never pinged."""
    if engine.dialect.name == "sqlite":
        return

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection, record) -> None:
        if record is not None:
            record.info["scim_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection, record, _proxy) -> None:
        since = record.info.pop("scim_idle_since", None)
        if since is None:
            return  # new: just connected
        if time.monotonic() - since <= idle and not _socket_readable(dbapi_connection):
            return  # in steady use, and nothing came in while it was idle
        try:
            if not engine.dialect.do_ping(dbapi_connection):
                raise DisconnectionError("ping failed")
        except DisconnectionError:
            raise
        except Exception as exc:  # the driver's own error type: the connection is gone
            raise DisconnectionError(str(exc)) from exc


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
        # Straight to the driver: BEGIN returns nothing, and SQLAlchemy's execution machinery
        # (context, cursor wrapping, events) costs more than the statement itself.
        write = connection.get_execution_options().get("scim_write")
        connection.connection.driver_connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
