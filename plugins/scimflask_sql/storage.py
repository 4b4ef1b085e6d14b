"""`SqlStorage`: the storage contract on SQLAlchemy Core (SQLite, PostgreSQL, MySQL/MariaDB).

Here: the storage's life (options, the engine per process, transactions) and the resource
methods, each one transaction that puts the pieces together:

- the data model: tables.py; schema versions: migrations.py; the engine: engine.py; planner
  statistics the storage keeps current itself: statistics.py;
- a resource's rows, written under its version: writes.py (rows.py maps a row to a resource,
  values.py builds the `values` / `uniques` rows from its data);
- memberships: membership.py; queries: paging.py over the filter compiler, compile.py, with
  the substring index (substring.py, substring_schema.py) and the scan bound (scan.py);
- tokens, tenants, the provisioning log and counters: operating.py;
- statements are built once per shape and kept by the storage (statements.py).

Reads on PostgreSQL run in autocommit (no BEGIN / COMMIT round trips; READ COMMITTED gives
nothing more), and so does a write that is one statement. Driver errors meaning "unreachable"
become `StorageUnavailable` through `base_exceptions`; deadlocks and lock timeouts are retried
a few times first. The engine is created lazily per process (gunicorn forks after import).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Connection, Engine, bindparam, select
from sqlalchemy.exc import DBAPIError, OperationalError

from scimflask.model import Change, Page, Query, RequestContext, Resource, copy_json
from scimflask.schema.catalog import Catalog, ResourceType
from scimflask.storage import ConfigurationError, ResourceNotFound, StorageUnavailable
from scimflask.storage.log_words import IdentityKeys

from .engine import SQLITE_BUSY_TIMEOUT, UNAVAILABLE, adopt_engine, build_engine, database_url, is_memory_sqlite
from .membership import Membership
from .migrations import migrate
from .operating import SqlOperating
from .paging import Pages
from .rows import changed_columns, row_columns, to_resource
from .statements import Statements
from .statistics import PlannerStatistics
from .substring import SubstringIndex
from .substring_schema import substring_index_kind
from .tables import SqlTables, build_tables
from .values import RowDiff, parse_stamp, row_diff
from .writes import ResourceWrites

RETRIES = 3          # attempts of a write transaction that hit a deadlock or lock timeout
_RETRYABLE = {"40001", "40P01", "55P03", 1205, 1213}  # serialization / deadlock / lock timeout

OPTIONS = ("engine", "table_prefix", "engine_options", "storage_timeout", "synchronous_commit")


class SqlStorage(SqlOperating):
    """SCIM resources, memberships and tokens in one SQL database (see the module docstring).

    `SCIM_STORAGE_OPTIONS`: `engine` (an existing SQLAlchemy Engine to use instead of one
    built from the URI; an injected SQLite engine gets the same pragmas), `table_prefix`
    (default "scim_"), `engine_options` (extra `create_engine` keyword arguments),
    `storage_timeout` (seconds each connect and statement may take, from SCIM_STORAGE_TIMEOUT;
    an injected engine keeps its own), `synchronous_commit` (PostgreSQL, default True; False
    answers a write before its commit is on disk: see engine.py for what a server crash loses).
    """

    schemes = ("sqlite", "postgresql", "postgresql+psycopg", "mysql", "mysql+pymysql",
               "mariadb", "mariadb+pymysql")
    base_exceptions = UNAVAILABLE
    supports_keyset = True

    def __init__(self, catalog: Catalog, uri: str, *, engine: Engine | None = None,
                 table_prefix: str = "scim_", engine_options: dict | None = None,
                 timeout: float | None = None, synchronous_commit: bool = True) -> None:
        super().__init__(catalog)
        self._url = None if engine is not None else database_url(uri)
        self._synchronous_commit = synchronous_commit
        self._injected = engine
        self._engine_options = engine_options or {}
        self._timeout = timeout
        self.tables: SqlTables = build_tables(table_prefix)
        self.statistics = PlannerStatistics(self.tables)
        self.statements = Statements()
        self.membership = Membership(self.tables, self.statements)
        self.substrings = SubstringIndex(self.tables)
        self.writes = ResourceWrites(self.tables, self.statements, catalog, self.substrings)
        self.pages = Pages(self.tables, self.statements, catalog, self.membership, self.substrings)
        self.identity_keys = IdentityKeys()
        self._engine: Engine | None = None
        self._pid: int | None = None
        self._ready = False
        self._setup_lock = threading.Lock()
        # One in-memory SQLite connection is shared by all threads: transactions take turns.
        memory = engine is None and is_memory_sqlite(self._url)
        self._serial = threading.RLock() if memory else None
        self._writers: threading.RLock | None = None  # see `_taking_turns`

    @classmethod
    def from_uri(cls, uri: str, options: dict, catalog: Catalog) -> SqlStorage:
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise ConfigurationError(
                f"unknown SQL storage option(s) {', '.join(unknown)}; known: {', '.join(OPTIONS)}")
        engine = options.get("engine")
        if engine is not None and not isinstance(engine, Engine):
            raise ConfigurationError("SCIM_STORAGE_OPTIONS['engine'] must be a SQLAlchemy Engine")
        timeout = options.get("storage_timeout")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                    or not 0 < timeout < float("inf")):
            raise ConfigurationError(f"SQL storage option storage_timeout must be seconds above 0, not {timeout!r}")
        synchronous_commit = options.get("synchronous_commit", True)
        if not isinstance(synchronous_commit, bool):
            raise ConfigurationError(f"SQL storage option synchronous_commit must be true or false, "
                                     f"not {synchronous_commit!r}")
        return cls(catalog, uri, engine=engine, table_prefix=options.get("table_prefix", "scim_"),
                   engine_options=options.get("engine_options"), timeout=timeout,
                   synchronous_commit=synchronous_commit)

    @property
    def indexed_filters(self) -> bool:  # type: ignore[override]
        """True where the database has its substring index (substring_schema.py); without
        pg_trgm or FTS5, `co`/`sw`/`ew` scan, within `max_scan`. Known once the engine is."""
        return self.engine is not None and self.substrings.kind is not None

    # -- engine and transactions ------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        """This process's engine, created (and the schema ensured) on first use."""
        pid = os.getpid()
        if self._engine is not None and self._pid == pid:
            return self._engine
        with self._setup_lock:
            if self._engine is None or self._pid != pid:
                engine = self._process_engine()
                if not self._ready:
                    migrate(engine, self.tables)
                    self.substrings.kind = substring_index_kind(engine, self.tables)
                    self._ready = True
                # A lock of this process's own (a forked child must not inherit one held).
                self._writers = threading.RLock() if engine.dialect.name == "sqlite" and self._serial is None else None
                # Published last: other threads use the engine only once the schema exists.
                self._engine, self._pid = engine, pid
        return self._engine

    def _process_engine(self) -> Engine:
        """The engine for this process: the injected one, or a new one (in a forked child, the
        parent's pooled sockets are dropped, never closed: they are the parent's)."""
        if self._injected is not None:
            if self._pid is not None:
                self._injected.dispose(close=False)  # forked: drop the parent's sockets
                return self._injected
            return adopt_engine(self._injected)
        if self._engine is not None:
            self._engine.dispose(close=False)
        return build_engine(self._url, self._engine_options, self._timeout,
                            synchronous_commit=self._synchronous_commit)

    @contextmanager
    def _transaction(self, *, write: bool = False, one_statement: bool = False) -> Iterator[Connection]:
        """A connection in a transaction. `one_statement`: the work is a single statement,
        which PostgreSQL runs atomically by itself."""
        engine = self.engine
        with self._serialised(), self._taking_turns(write):
            self.statistics.tick(engine)
            try:
                with engine.connect() as connection:
                    if write:
                        connection.execution_options(scim_write=True)
                    if (one_statement or not write) and connection.dialect.name == "postgresql":
                        # READ COMMITTED gives each statement its own snapshot inside a
                        # transaction too: a read, or a write that is one statement, needs no
                        # BEGIN / COMMIT round trips.
                        connection.execution_options(isolation_level="AUTOCOMMIT")
                    with connection.begin():
                        yield connection
            except DBAPIError as exc:
                if exc.connection_invalidated and not isinstance(exc, self.base_exceptions):
                    raise StorageUnavailable(f"{type(self).__name__}: connection lost") from exc
                raise

    @contextmanager
    def _serialised(self) -> Iterator[None]:
        if self._serial is None:
            yield
        else:
            with self._serial:
                yield

    @contextmanager
    def _taking_turns(self, write: bool) -> Iterator[None]:
        """On a SQLite file, this process's write transactions queue on a lock of its own.

        SQLite lets one writer in at a time; one that finds the database locked sleeps and
        retries (after 1, 2, 5, 10 ms and longer), so a request that met the log writer's batch
        slept past its end, and retrying cost CPU (measured: with the lock, the log's cost in
        CPU per request fell from 0.26 to 0.16 ms for a create). A thread waiting here starts
        as soon as the transaction before it ends. Writers of other processes still meet
        SQLite's wait; reads never wait (WAL)."""
        lock = self._writers
        if lock is None or not write:
            yield
            return
        if not lock.acquire(timeout=SQLITE_BUSY_TIMEOUT):
            raise StorageUnavailable(f"{type(self).__name__}: database is locked")
        try:
            yield
        finally:
            lock.release()

    def _write(self, work, *, one_statement: bool = False):
        """Run `work(connection)` in a write transaction, retrying deadlocks and lock timeouts."""
        for attempt in range(RETRIES):
            try:
                with self._transaction(write=True, one_statement=one_statement) as connection:
                    return work(connection)
            except OperationalError as exc:
                if attempt + 1 == RETRIES or _error_code(exc) not in _RETRYABLE:
                    raise

    def _type(self, name: str) -> ResourceType:
        return self.catalog.resource_type(name)

    # -- resources --------------------------------------------------------------------------
    def create(self, ctx: RequestContext, resource: Resource, *, check_members: bool = True) -> Resource:
        rt = self._type(resource.resource_type)

        def work(connection: Connection) -> list:
            members = self.membership.checked(connection, ctx.tenant, resource.members or (), check_members)
            self.writes.insert(connection, ctx.tenant, rt, resource)
            self.membership.insert(connection, ctx.tenant, resource.id, members)
            return members

        # On PostgreSQL a create without members is one statement in autocommit; when it meets
        # a taken value it writes nothing, and the statement-by-statement write names the attribute.
        if not resource.members and self.engine.dialect.name == "postgresql" and self._write(
                lambda connection: self.writes.insert_in_one_statement(connection, ctx.tenant, rt, resource),
                one_statement=True):
            members = []
        else:
            members = self._write(work)
        out = Resource(rt.name, resource.id, copy_json(resource.data), resource.created,
                       resource.last_modified, 1)
        if self.catalog.has_members(rt):
            out.members = sorted(members, key=lambda m: m.value)
        if self.catalog.has_groups(rt):
            out.groups = []
        return out

    def get(self, ctx: RequestContext, resource_type: str, id: str, *,
            with_members: bool = True, with_groups: bool = True) -> Resource:
        rt = self._type(resource_type)
        groups = with_groups and self.catalog.has_groups(rt)
        with self._transaction() as connection:
            row = connection.execute(self._get_statement(connection, rt, groups),
                                     {"tenant": ctx.tenant, "rid": id}).first()
            if row is None:
                raise ResourceNotFound(rt.name, id)
            resource = to_resource(row)
            self.membership.attach(connection, ctx.tenant, [resource], [row], groups=groups,
                                   members=with_members and self.catalog.has_members(rt))
            return resource

    def _get_statement(self, connection: Connection, rt: ResourceType, groups: bool):
        """SELECT of one resource row; with `groups`, the user's groups as a column of it."""
        r = self.tables.resources
        return self.statements.cached(("get", rt.name, groups), lambda: select(
            *row_columns(r), *([self.membership.groups_json(connection.dialect.name)] if groups else [])).where(
            r.c.tenant == bindparam("tenant"), r.c.id == bindparam("rid"), r.c.resource_type == rt.name))

    def update(self, ctx: RequestContext, resource_type: str, id: str, change: Change, *,
               expected_version: int | None = None, check_members: bool = True,
               now: datetime) -> Resource:
        rt = self._type(resource_type)
        base = change.base_at(expected_version) if change.data is not None else None
        # With a base the diff needs no read: computed once, for either write path below.
        diff = None if base is None else row_diff(self.catalog, rt, ctx.tenant, id, base.data, change.data)
        # On PostgreSQL, one statement in autocommit (writes.update_in_one_statement) when no
        # unique attribute changes (a unique conflict must name its attribute) and no member.
        one_statement = diff is not None and not diff.touches_uniques and not change.touches_members

        def work(connection: Connection) -> Resource:
            if one_statement and connection.dialect.name == "postgresql":
                return self.writes.update_in_one_statement(connection, ctx.tenant, rt, base, change.data, diff, now)
            return self._update_rows(connection, ctx.tenant, rt, id, change, base=base, diff=diff,
                                     expected_version=expected_version, check_members=check_members, now=now)

        return self._write(work, one_statement=one_statement)

    def _update_rows(self, connection: Connection, tenant: str, rt: ResourceType, id: str, change: Change, *,
                     base: Resource | None, diff: RowDiff | None, expected_version: int | None,
                     check_members: bool, now: datetime) -> Resource:
        """The update, statement by statement: the row first (its lock), then the members
        and the data rows."""
        columns = changed_columns(change.data, now)
        old_data, created, version = self.writes.claim(connection, tenant, rt, id, columns, base=base,
                                                       expected_version=expected_version)
        members = self.membership
        # Removes first, then adds (PostgreSQL inserts them here): a delta naming an id in both
        # ends with it present on every dialect.
        members.remove(connection, tenant, id, change.remove_members)
        added = members.add(connection, tenant, id, change.add_members, check_members)
        replacing = (None if change.replace_members is None
                     else members.checked(connection, tenant, change.replace_members, check_members))
        if change.data is not None:
            self.writes.rewrite_data(connection, tenant, id, diff if diff is not None
                                     else row_diff(self.catalog, rt, tenant, id, old_data, change.data))
        if replacing is not None:
            members.replace(connection, tenant, id, replacing)
        members.insert(connection, tenant, id, added)
        data = json.loads(columns["data"]) if "data" in columns else old_data
        return Resource(rt.name, id, data, created, parse_stamp(columns["last_modified"]), version + 1)

    def delete(self, ctx: RequestContext, resource_type: str, id: str, *,
               expected_version: int | None = None) -> None:
        rt = self._type(resource_type)

        def work(connection: Connection) -> None:
            # Lock the row and check its version, then remove dependent rows and the row.
            self.writes.lock_for_delete(connection, ctx.tenant, rt, id, expected_version)
            self.writes.clear_data(connection, ctx.tenant, id)
            self.membership.forget(connection, ctx.tenant, id)
            self.writes.delete_row(connection, ctx.tenant, id)

        self._write(work)

    def query(self, ctx: RequestContext, resource_type: str, query: Query) -> Page:
        rt = self._type(resource_type)
        with self._transaction() as connection:
            return self.pages.query(connection, ctx, rt, query)

    def count_members(self, ctx: RequestContext, group_id: str, *, up_to: int | None = None) -> int:
        """With `up_to`, counts at most `up_to + 1` rows: O(up_to), not O(members), for the
        "more than SCIM_PATCH_RESPONSE_MAX_MEMBERS?" question."""
        with self._transaction() as connection:
            count = self.membership.count(connection, ctx.tenant, group_id, up_to)
        if count is None:
            raise ResourceNotFound("Group", group_id)
        return count

    # -- lifecycle --------------------------------------------------------------------------
    def ping(self) -> None:
        with self._transaction() as connection:
            connection.exec_driver_sql("SELECT 1")

    def close(self) -> None:
        if self._engine is not None and self._injected is None:
            self._engine.dispose()
        self._engine, self._pid, self._ready = None, None, False


def _error_code(exc: DBAPIError) -> object:
    """The driver's error code: SQLSTATE (psycopg) or the MySQL error number (PyMySQL)."""
    original = exc.orig
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate:
        return sqlstate
    args = getattr(original, "args", ())
    return args[0] if args else None
