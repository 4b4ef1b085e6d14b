"""`SqlStorage`: the storage contract on SQLAlchemy Core (SQLite, PostgreSQL, MySQL/MariaDB).

The data model is described in tables.py, filter compilation in compile.py, schema versions in
migrations.py. Here: transactions, integrity and paging.

- Each public method is one transaction. A write's first statement takes the resource row's
  lock, so concurrent writers of one resource queue in the database, whatever process they run
  in: a version-checked UPDATE when the caller read the row at that version (`Change.base`),
  an UPDATE … RETURNING for membership changes where the database has it, else a locking
  SELECT and the version check. An update rewrites only the `values` / `uniques` rows of the
  attributes whose rows changed (old and new data are diffed in Python, values.py `row_diff`).
  On PostgreSQL a PATCH that changes no unique attribute is one statement (WITH UPDATE,
  DELETE, INSERT) in autocommit, and added members are checked and inserted by one statement.
- Uniqueness is the `uniques` primary key; its IntegrityError becomes `UniqueConflict(attribute)`.
- A query is one SELECT of the page with, for users, their groups as a JSON array column (plus
  one SELECT for the members of a page of groups when asked); a COUNT is added unless the page
  is the last one (a lookup's only page). Pages past the first by startIndex are cut over ids
  and sort keys and joined back, so the OFFSET never carries documents.
- Statements are built once per shape (compile.py) and cached on the storage, with the tenant
  and every literal bound: SQLAlchemy's compiled cache then serves them. Reads on PostgreSQL
  run in autocommit (no BEGIN / COMMIT round trips; READ COMMITTED gives nothing more).
- Driver errors meaning "unreachable" become `StorageUnavailable` through `base_exceptions`;
  deadlocks and lock timeouts are retried a few times first.
- The engine is created lazily per process (gunicorn forks after import); idle connections are
  pinged so a restarted database is picked up without restarting the app (engine.py). Planner statistics are kept
  current by the storage itself (statistics.py).
- The operating capabilities (tenant records, provisioning log, rate-limit counters) use the
  tables of schema version 2; a counter hit is one upsert, so workers never lose a hit.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from sqlalchemy import (
    Boolean,
    Connection,
    Engine,
    Integer,
    Text,
    any_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.exc import (
    DBAPIError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from scimflask.model import Change, GroupRef, Keyset, Member, Page, Query, RequestContext, Resource, Token, copy_json
from scimflask.schema.catalog import Catalog, ResourceType
from scimflask.storage import (
    ConfigurationError,
    ResourceNotFound,
    Storage,
    StorageUnavailable,
    UniqueConflict,
    UnknownMembers,
    VersionMismatch,
)
from scimflask.storage.capabilities import (
    CounterSupport,
    LogEntry,
    ProvisioningLogSupport,
    Tenant,
    TenantSupport,
)

from .compile import FilterCompiler, Ordering, after_params, ordering
from .engine import build_engine, database_url, is_memory_sqlite, prepare_sqlite
from .migrations import migrate
from .statistics import PlannerStatistics
from .tables import SqlTables, build_tables
from .values import RowDiff, parse_stamp, row_diff, stamp, unique_rows, value_rows

CHUNK = 500          # ids per IN (...) list: well under every driver's parameter limit
STATEMENTS = 1024    # built statements kept per storage, by shape
RETRIES = 3          # attempts of a write transaction that hit a deadlock or lock timeout
_RETRYABLE = {"40001", "40P01", "55P03", 1205, 1213}  # serialization / deadlock / lock timeout

OPTIONS = ("engine", "table_prefix", "engine_options")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class SqlStorage(Storage, TenantSupport, ProvisioningLogSupport, CounterSupport):
    """SCIM resources, memberships and tokens in one SQL database (see the module docstring).

    `SCIM_STORAGE_OPTIONS`: `engine` (an existing SQLAlchemy Engine to use instead of one
    built from the URI; an injected SQLite engine gets the same pragmas), `table_prefix`
    (default "scim_"), `engine_options` (extra `create_engine` keyword arguments).
    """

    schemes = ("sqlite", "postgresql", "postgresql+psycopg", "mysql", "mysql+pymysql",
               "mariadb", "mariadb+pymysql")
    base_exceptions = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)
    supports_keyset = True

    def __init__(self, catalog: Catalog, uri: str, *, engine: Engine | None = None,
                 table_prefix: str = "scim_", engine_options: dict | None = None) -> None:
        super().__init__(catalog)
        self._url = None if engine is not None else database_url(uri)
        self._injected = engine
        self._engine_options = engine_options or {}
        self.tables: SqlTables = build_tables(table_prefix)
        self.statistics = PlannerStatistics(self.tables)
        self._engine: Engine | None = None
        self._pid: int | None = None
        self._ready = False
        self._setup_lock = threading.Lock()
        # Built statements by shape (see compile.py): tenant and literals are bind parameters.
        self._statements: dict[tuple, object] = {}
        # One in-memory SQLite connection is shared by all threads: transactions take turns.
        memory = engine is None and is_memory_sqlite(self._url)
        self._serial = threading.RLock() if memory else None

    @classmethod
    def from_uri(cls, uri: str, options: dict, catalog: Catalog) -> SqlStorage:
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise ConfigurationError(
                f"unknown SQL storage option(s) {', '.join(unknown)}; known: {', '.join(OPTIONS)}")
        engine = options.get("engine")
        if engine is not None and not isinstance(engine, Engine):
            raise ConfigurationError("SCIM_STORAGE_OPTIONS['engine'] must be a SQLAlchemy Engine")
        return cls(catalog, uri, engine=engine, table_prefix=options.get("table_prefix", "scim_"),
                   engine_options=options.get("engine_options"))

    # -- connections --------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        """This process's engine, created (and the schema ensured) on first use."""
        pid = os.getpid()
        if self._engine is not None and self._pid == pid:
            return self._engine
        with self._setup_lock:
            if self._engine is None or self._pid != pid:
                if self._injected is not None:
                    if self._pid is not None:
                        self._injected.dispose(close=False)  # forked: drop the parent's sockets
                    elif self._injected.dialect.name == "sqlite":
                        prepare_sqlite(self._injected, memory=is_memory_sqlite(self._injected.url))
                    engine = self._injected
                else:
                    if self._engine is not None:
                        self._engine.dispose(close=False)
                    engine = build_engine(self._url, self._engine_options)
                if not self._ready:
                    migrate(engine, self.tables)
                    self._ready = True
                # Published last: other threads use the engine only once the schema exists.
                self._engine, self._pid = engine, pid
        return self._engine

    @contextmanager
    def _transaction(self, *, write: bool = False, one_statement: bool = False) -> Iterator[Connection]:
        """A connection in a transaction. `one_statement`: the work is a single statement,
        which PostgreSQL runs atomically by itself."""
        engine = self.engine
        with self._serialised():
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

    def _write(self, work, *, one_statement: bool = False):
        """Run `work(connection)` in a write transaction, retrying deadlocks and lock timeouts."""
        for attempt in range(RETRIES):
            try:
                with self._transaction(write=True, one_statement=one_statement) as connection:
                    return work(connection)
            except OperationalError as exc:
                if attempt + 1 == RETRIES or _error_code(exc) not in _RETRYABLE:
                    raise

    # -- helpers --------------------------------------------------------------------------
    def _type(self, name: str) -> ResourceType:
        return self.catalog.resource_type(name)

    def _has(self, rt: ResourceType, attribute: str) -> bool:
        """Whether the core schema of `rt` has `attribute` (members: Groups, groups: Users)."""
        return self.catalog.top_level(rt, rt.schema, attribute) is not None

    def _row_to_resource(self, row, groups: bool = False) -> Resource:
        """The resource of a row; with `groups`, its `groups_json` column (see `_groups_json`)
        fills `groups`."""
        resource = Resource(row.resource_type, row.id, json.loads(row.data), parse_stamp(row.created),
                            parse_stamp(row.last_modified), row.version)
        if groups:
            pairs = row.groups_json
            if isinstance(pairs, (str, bytes)):
                try:
                    pairs = json.loads(pairs)
                except ValueError:  # MariaDB cut it at group_concat_max_len: see _fill_groups
                    return resource
            resource.groups = [GroupRef(id, display) for id, display in sorted(pairs or (), key=_first)]
        return resource

    def _fill_groups(self, connection: Connection, ctx: RequestContext, resources: list[Resource]) -> None:
        """Read the groups of the users whose `groups_json` could not be read (MariaDB cuts
        JSON_ARRAYAGG at `group_concat_max_len`, leaving invalid JSON) with a query of their own."""
        missing = [resource for resource in resources if resource.groups is None]
        if missing:
            groups = self._groups_of(connection, ctx, [resource.id for resource in missing])
            for resource in missing:
                resource.groups = groups[resource.id]

    def _groups_json(self, source=None):
        """A column of the resources row: the groups of the user as a JSON array of
        [group id, display name] (NULL or [] for none), so a page of users and their groups
        is one statement. Each row costs one probe of `ix_members_member`, as `_groups_of` does.
        `source` is what the rows come from (the resources table, or a page subquery with its
        `tenant` and `id`)."""
        r = self.tables.resources if source is None else source
        m, g = self.tables.members.alias("gm"), self.tables.resources.alias("gr")
        dialect = self.engine.dialect.name
        if dialect == "postgresql":
            aggregate = func.json_agg(func.json_build_array(m.c.group_id, g.c.display_name))
        elif dialect == "sqlite":
            aggregate = func.json_group_array(func.json_array(m.c.group_id, g.c.display_name))
        else:
            aggregate = func.json_arrayagg(func.json_array(m.c.group_id, g.c.display_name))
        statement = (select(aggregate)
                     .select_from(m.join(g, (g.c.tenant == m.c.tenant) & (g.c.id == m.c.group_id)))
                     .where(m.c.tenant == r.c.tenant, m.c.member_id == r.c.id))
        # MariaDB probes the correlated subquery through the primary key's `tenant` prefix (all
        # the tenant's memberships, per user row) unless told to use the member index.
        index = next(ix.name for ix in self.tables.members.indexes if ix.name.endswith("ix_members_member"))
        for name in ("mysql", "mariadb"):
            statement = statement.with_hint(m, f"FORCE INDEX ({index})", dialect_name=name)
        return statement.scalar_subquery().label("groups_json")

    def _resource_columns(self):
        r = self.tables.resources
        return tuple(r.c[name] for name in _ROW_COLUMNS)

    def _checked(self, connection: Connection, ctx: RequestContext, members: Iterable[Member],
                 check: bool) -> list[Member]:
        """One copy per member id (the last one given wins); when `check`, every id must name
        a resource of the tenant, whose type is filled in."""
        unique = {m.value: replace(m) for m in members}
        if not check or not unique:
            return list(unique.values())
        r = self.tables.resources
        statement = self._stmt(("types",), lambda: select(r.c.id, r.c.resource_type).where(
            r.c.tenant == bindparam("tenant"), r.c.id.in_(bindparam("ids", expanding=True))))
        types: dict[str, str] = {}
        for chunk in _chunks(list(unique)):
            types.update(connection.execute(statement, {"tenant": ctx.tenant, "ids": chunk}).all())
        unknown = [id for id in unique if id not in types]
        if unknown:
            raise UnknownMembers(unknown)
        for member in unique.values():
            member.type = types[member.value]
        return list(unique.values())

    def _add_members(self, connection: Connection, ctx: RequestContext, group_id: str,
                     members: list[Member], check: bool) -> list[Member]:
        """Add `members` to a group, or return them checked for the caller to insert.

        On PostgreSQL a checked add is one statement: the given ids are joined to the tenant's
        resources (which fills each member's type), the known ones inserted, and the unknown
        ones returned, instead of a SELECT of the types and then an INSERT.
        """
        if not members or not check or connection.dialect.name != "postgresql":
            return self._checked(connection, ctx, members, check)
        unique = {m.value: m for m in members}
        rows = [{"member_id": m.value, "display": m.display,
                 "display_key": None if m.display is None else m.display.lower()} for m in unique.values()]
        statement = self._stmt(("add_members_checked",), self._add_members_checked)
        unknown: list[str] = []
        for chunk in _chunks(rows, 5000):
            unknown += connection.execute(statement, {
                "tenant": ctx.tenant, "gid": group_id,
                **{name: [row[name] for row in chunk] for name in _GIVEN_MEMBER_COLUMNS}}).scalars()
        if unknown:
            raise UnknownMembers(unknown)  # the transaction rolls back what was inserted
        return []

    def _add_members_checked(self):
        """PostgreSQL: INSERT the given members that name a resource of the tenant (taking its
        type), skipping present ones, and SELECT the ids that name none."""
        r, m = self.tables.resources, self.tables.members
        given = select(*[func.unnest(bindparam(name, type_=postgresql.ARRAY(Text()))).label(name)
                         for name in _GIVEN_MEMBER_COLUMNS]).cte("given")
        known = select(given.c.member_id, r.c.resource_type, given.c.display, given.c.display_key).select_from(
            given.join(r, (r.c.tenant == bindparam("tenant")) & (r.c.id == given.c.member_id))).cte("known")
        inserted = postgresql.insert(m).from_select(_MEMBER_COLUMNS, select(
            cast(bindparam("tenant"), Text()), cast(bindparam("gid"), Text()), known.c.member_id,
            known.c.resource_type, known.c.display, known.c.display_key)).on_conflict_do_nothing().cte("inserted")
        return (select(given.c.member_id)
                .where(~select(known.c.member_id).where(known.c.member_id == given.c.member_id).exists())
                .add_cte(inserted))

    def _member_rows(self, ctx: RequestContext, group_id: str, members: list[Member]) -> list[dict]:
        return [{"tenant": ctx.tenant, "group_id": group_id, "member_id": m.value,
                 "member_type": m.type, "display": m.display,
                 "display_key": None if m.display is None else m.display.lower()} for m in members]

    def _insert_members(self, connection: Connection, rows: list[dict]) -> None:
        """Insert membership rows, skipping those already present (set semantics)."""
        if not rows:
            return
        table = self.tables.members
        dialect = connection.dialect.name
        if dialect == "postgresql":
            # One statement whatever the count: the rows travel as one array per column.
            # (An executemany is one INSERT per row on the server: ~50 ms for 100 members.)
            statement = self._stmt(("insert_members",), lambda: postgresql.insert(table).from_select(
                _MEMBER_COLUMNS, select(*[func.unnest(bindparam(name, type_=postgresql.ARRAY(Text()))).label(name)
                                          for name in _MEMBER_COLUMNS])).on_conflict_do_nothing())
            for chunk in _chunks(rows, 5000):
                connection.execute(statement, {name: [row[name] for row in chunk] for name in _MEMBER_COLUMNS})
            return
        if dialect == "sqlite":  # executemany: in-process, no round trips
            statement = self._stmt(("insert_members",), lambda: sqlite.insert(table).on_conflict_do_nothing())
        else:  # PyMySQL sends an executemany INSERT as multi-row INSERTs
            statement = self._stmt(("insert_members",), lambda: insert(table).prefix_with("IGNORE"))
        for chunk in _chunks(rows):
            connection.execute(statement, chunk)

    def _write_data(self, connection: Connection, ctx: RequestContext, rt: ResourceType, id: str,
                    data: dict) -> None:
        """Build the `values` and `uniques` rows of a new resource from its data."""
        self._insert_uniques(connection, unique_rows(self.catalog, rt, ctx.tenant, id, data))
        self._insert_values(connection, value_rows(self.catalog, rt, ctx.tenant, id, data))

    def _insert_uniques(self, connection: Connection, rows: list[tuple[str, dict]]) -> None:
        statement = self._stmt(("insert_uniques",), lambda: insert(self.tables.uniques))
        for attribute, row in rows:
            try:  # on failure the whole transaction rolls back: no savepoint needed
                connection.execute(statement, row)
            except IntegrityError:
                raise UniqueConflict(attribute) from None

    def _insert_values(self, connection: Connection, rows: list[dict]) -> None:
        statement = self._stmt(("insert_values",), lambda: insert(self.tables.values))
        for chunk in _chunks(rows):
            connection.execute(statement, chunk)

    def _rewrite_data(self, connection: Connection, ctx: RequestContext, rid: str, diff: RowDiff) -> None:
        """Replace the `uniques` and `values` rows a data change touches (see `row_diff`)."""
        v, u = self.tables.values, self.tables.uniques
        if diff.unique_gone:  # the old digests go first: the new ones may reuse none of them
            connection.execute(self._attr_delete(u), {"tenant": ctx.tenant, "rid": rid, "attrs": diff.unique_gone})
        self._insert_uniques(connection, diff.unique_new)
        if diff.value_gone:
            connection.execute(self._attr_delete(v), {"tenant": ctx.tenant, "rid": rid, "attrs": diff.value_gone})
        if diff.value_new:
            self._insert_values(connection, diff.value_new)

    def _attr_delete(self, table):
        """DELETE of the rows of some attributes of one resource (`values` or `uniques`)."""
        return self._stmt(("attr_delete", table.name), lambda: delete(table).where(
            table.c.tenant == bindparam("tenant"), table.c.resource_id == bindparam("rid"),
            table.c.attr.in_(bindparam("attrs", expanding=True))))

    def _clear_data(self, connection: Connection, ctx: RequestContext, id: str) -> None:
        for table in (self.tables.values, self.tables.uniques):
            connection.execute(delete(table).where(table.c.tenant == ctx.tenant, table.c.resource_id == id))

    def _stmt(self, key: tuple, build):
        """The statement cached under `key`, built by `build()` on first use."""
        statement = self._statements.get(key)
        if statement is None:
            statement = build()
            self._remember(key, statement)
        return statement

    def _by_owner(self, connection: Connection, key: str, build, tenant: str, ids: list[str]) -> Iterator:
        """Rows of the cached statement `build(condition)` for `ids`: `=` for one id, an
        expanding IN list of at most CHUNK ids otherwise."""
        if len(ids) == 1:
            yield from connection.execute(self._stmt((key, 1), lambda: build(False)),
                                          {"tenant": tenant, "owner": ids[0]})
            return
        statement = self._stmt((key, "in"), lambda: build(True))
        for chunk in _chunks(ids):
            yield from connection.execute(statement, {"tenant": tenant, "owners": chunk})

    def _members_of(self, connection: Connection, ctx: RequestContext, group_ids: list[str]) -> dict[str, list[Member]]:
        m = self.tables.members

        def build(many: bool):
            owner = m.c.group_id.in_(bindparam("owners", expanding=True)) if many else m.c.group_id == bindparam("owner")
            return (select(m.c.group_id, m.c.member_id, m.c.member_type, m.c.display)
                    .where(m.c.tenant == bindparam("tenant"), owner).order_by(m.c.group_id, m.c.member_id))

        out: dict[str, list[Member]] = {id: [] for id in group_ids}
        for group_id, member_id, member_type, display in self._by_owner(
                connection, "members_of", build, ctx.tenant, group_ids):
            out[group_id].append(Member(member_id, member_type, display))
        return out

    def _groups_of(self, connection: Connection, ctx: RequestContext, member_ids: list[str]) -> dict[str, list[GroupRef]]:
        m, r = self.tables.members, self.tables.resources

        def build(many: bool):
            owner = (m.c.member_id.in_(bindparam("owners", expanding=True)) if many
                     else m.c.member_id == bindparam("owner"))
            return (select(m.c.member_id, m.c.group_id, r.c.display_name)
                    .join(r, (r.c.tenant == m.c.tenant) & (r.c.id == m.c.group_id))
                    .where(m.c.tenant == bindparam("tenant"), owner)
                    .order_by(m.c.member_id, m.c.group_id))

        out: dict[str, list[GroupRef]] = {id: [] for id in member_ids}
        for member_id, group_id, display_name in self._by_owner(
                connection, "groups_of", build, ctx.tenant, member_ids):
            out[member_id].append(GroupRef(group_id, display_name))
        return out

    def _attach(self, connection: Connection, ctx: RequestContext, rt: ResourceType,
                resources: list[Resource], *, with_members: bool, with_groups: bool) -> None:
        ids = [r.id for r in resources]
        if with_members and self._has(rt, "members") and ids:
            members = self._members_of(connection, ctx, ids)
            for resource in resources:
                resource.members = members[resource.id]
        if with_groups and self._has(rt, "groups") and ids:
            groups = self._groups_of(connection, ctx, ids)
            for resource in resources:
                resource.groups = groups[resource.id]

    # -- resources ------------------------------------------------------------------------
    def create(self, ctx: RequestContext, resource: Resource, *, check_members: bool = True) -> Resource:
        rt = self._type(resource.resource_type)
        data = resource.data

        def work(connection: Connection) -> list[Member]:
            members = self._checked(connection, ctx, resource.members or (), check_members)
            try:
                connection.execute(insert(self.tables.resources), {
                    "tenant": ctx.tenant, "id": resource.id, "resource_type": rt.name, "version": 1,
                    "created": stamp(resource.created), "created_key": _millis(resource.created),
                    "last_modified": stamp(resource.last_modified),
                    "display_name": _display_name(data), "data": json.dumps(data, ensure_ascii=False),
                })
            except IntegrityError:
                raise UniqueConflict("id") from None
            self._write_data(connection, ctx, rt, resource.id, data)
            self._insert_members(connection, self._member_rows(ctx, resource.id, members))
            return members

        members = self._write(work)
        out = Resource(rt.name, resource.id, json.loads(json.dumps(data)), resource.created,
                       resource.last_modified, 1)
        if self._has(rt, "members"):
            out.members = sorted(members, key=lambda m: m.value)
        if self._has(rt, "groups"):
            out.groups = []
        return out

    def get(self, ctx: RequestContext, resource_type: str, id: str, *,
            with_members: bool = True, with_groups: bool = True) -> Resource:
        rt = self._type(resource_type)
        r = self.tables.resources
        groups = with_groups and self._has(rt, "groups")
        statement = self._stmt(("get", rt.name, groups), lambda: select(
            *self._resource_columns(), *([self._groups_json()] if groups else [])).where(
            r.c.tenant == bindparam("tenant"), r.c.id == bindparam("rid"), r.c.resource_type == rt.name))
        with self._transaction() as connection:
            row = connection.execute(statement, {"tenant": ctx.tenant, "rid": id}).first()
            if row is None:
                raise ResourceNotFound(rt.name, id)
            resource = self._row_to_resource(row, groups)
            if groups:
                self._fill_groups(connection, ctx, [resource])
            self._attach(connection, ctx, rt, [resource], with_members=with_members, with_groups=False)
            return resource

    def count_members(self, ctx: RequestContext, group_id: str, *, up_to: int | None = None) -> int:
        """With `up_to`, counts at most `up_to + 1` rows of the primary key: O(up_to), not
        O(members), for the "more than SCIM_PATCH_RESPONSE_MAX_MEMBERS?" question."""
        m, r = self.tables.members, self.tables.resources

        def build(limited: bool):
            rows = select(m.c.member_id).where(m.c.tenant == bindparam("tenant"), m.c.group_id == bindparam("gid"))
            if limited:
                rows = rows.limit(bindparam("limit", type_=Integer))
            found = select(r.c.id).where(r.c.tenant == bindparam("tenant"), r.c.id == bindparam("gid"),
                                         r.c.resource_type == "Group").scalar_subquery()
            counted = select(func.count()).select_from(rows.subquery()).scalar_subquery()
            return select(found.label("found"), counted.label("n"))  # one round trip for both

        limited = up_to is not None
        params = {"tenant": ctx.tenant, "gid": group_id}
        if limited:
            params["limit"] = max(up_to, 0) + 1
        with self._transaction() as connection:
            found, count = connection.execute(self._stmt(("count_members", limited), lambda: build(limited)),
                                              params).one()
        if found is None:
            raise ResourceNotFound("Group", group_id)
        return count

    def update(self, ctx: RequestContext, resource_type: str, id: str, change: Change, *,
               expected_version: int | None = None, check_members: bool = True,
               now: datetime) -> Resource:
        rt = self._type(resource_type)
        r, m = self.tables.resources, self.tables.members

        base = change.base_at(expected_version) if change.data is not None else None
        # With a base the diff needs no read: computed once, for either write path below.
        diff = None if base is None else row_diff(self.catalog, rt, ctx.tenant, id, base.data, change.data)

        def work(connection: Connection) -> Resource:
            values: dict = {"last_modified": stamp(now)}
            if change.data is not None:
                values["data"] = json.dumps(change.data, ensure_ascii=False)
                values["display_name"] = _display_name(change.data)
            if base is not None:
                # The caller read the row at this version: the version check in the UPDATE
                # itself is the compare-and-set, and no locking read is needed for the diff.
                old_data, created, version = base.data, base.created, base.version
                self._touch_at_version(connection, ctx, rt, id, version, values)
            elif change.data is None and connection.dialect.update_returning:
                # A membership change keeps the data: bump the version and read the row back
                # in one statement (PostgreSQL, SQLite) instead of a locking read first.
                row = self._bump(connection, ctx, rt, id, expected_version, values["last_modified"])
                old_data, created, version = json.loads(row.data), parse_stamp(row.created), row.version - 1
            else:
                # Lock the row and read what its `values` rows were built from (the diff needs it).
                current = connection.execute(self._stmt(("lock", rt.name), lambda: select(
                    *self._resource_columns()).where(r.c.tenant == bindparam("tenant"), r.c.id == bindparam("rid"),
                                                     r.c.resource_type == rt.name).with_for_update()),
                    {"tenant": ctx.tenant, "rid": id}).first()
                if current is None:
                    raise ResourceNotFound(rt.name, id)
                if expected_version is not None and current.version != expected_version:
                    raise VersionMismatch(current.version)
                old_data, created, version = json.loads(current.data), parse_stamp(current.created), current.version
                connection.execute(self._stmt(("touch",), lambda: update(r).where(
                    r.c.tenant == bindparam("b_tenant"), r.c.id == bindparam("b_id"))),
                    {"b_tenant": ctx.tenant, "b_id": id, "version": version + 1, **values})
            # Removes first, then adds (PostgreSQL inserts them here): a delta naming an id in
            # both ends with it present on every dialect.
            self._remove_members(connection, ctx, id, change.remove_members)
            added = self._add_members(connection, ctx, id, change.add_members, check_members)
            replacing = (None if change.replace_members is None
                         else self._checked(connection, ctx, change.replace_members, check_members))
            if change.data is not None:
                self._rewrite_data(connection, ctx, id,
                                   diff if diff is not None else row_diff(self.catalog, rt, ctx.tenant, id, old_data, change.data))
            if replacing is not None:
                wanted = {member.value for member in replacing}
                present = set(connection.execute(select(m.c.member_id).where(
                    m.c.tenant == ctx.tenant, m.c.group_id == id)).scalars())
                self._remove_members(connection, ctx, id, sorted(present - wanted))
                self._insert_members(connection, self._member_rows(
                    ctx, id, [member for member in replacing if member.value not in present]))
            if added:
                self._insert_members(connection, self._member_rows(ctx, id, added))
            data = json.loads(values["data"]) if "data" in values else old_data
            return Resource(rt.name, id, data, created, parse_stamp(values["last_modified"]), version + 1)

        if (diff is not None and not diff.touches_uniques and not change.touches_members
                and self.engine.dialect.name == "postgresql"):  # a unique conflict must name its attribute
            return self._update_in_one_statement(ctx, rt, base, change.data, diff, now)
        return self._write(work)

    def _update_in_one_statement(self, ctx: RequestContext, rt: ResourceType, base: Resource, data: dict,
                                 diff: RowDiff, now: datetime) -> Resource:
        """PostgreSQL: the version-checked UPDATE of the row and the rewrite of its changed
        `values` rows as one statement in autocommit, one round trip instead of five
        (BEGIN, UPDATE, DELETE, INSERT, COMMIT). A single statement is atomic by itself."""
        last_modified = stamp(now)
        params = {"b_tenant": ctx.tenant, "b_id": base.id, "b_version": base.version,
                  "b_new_version": base.version + 1, "b_last_modified": last_modified,
                  "b_data": json.dumps(data, ensure_ascii=False), "b_display_name": _display_name(data),
                  "b_gone": diff.value_gone,
                  **{f"v_{name}": [row[name] for row in diff.value_new] for name, _ in _VALUE_ROW_COLUMNS}}

        def work(connection: Connection) -> None:
            statement = self._stmt(("update_one_statement", rt.name), lambda: self._one_statement_update(rt))
            if not connection.execute(statement, params).scalar():
                self._why_not(connection, ctx, rt, base.id)

        self._write(work, one_statement=True)
        return Resource(rt.name, base.id, copy_json(data), base.created, parse_stamp(last_modified), base.version + 1)

    def _one_statement_update(self, rt: ResourceType):
        """WITH touched AS (UPDATE … WHERE version = :v RETURNING id), gone AS (DELETE the
        changed attributes' rows if touched), added AS (INSERT the new rows if touched)
        SELECT count(*) FROM touched."""
        r, v = self.tables.resources, self.tables.values
        touched = (update(r).where(*self._this_row(rt, at_version=True))
                   .values(version=bindparam("b_new_version"), last_modified=bindparam("b_last_modified"),
                           data=bindparam("b_data"), display_name=bindparam("b_display_name"))
                   .returning(r.c.id).cte("touched"))
        gone = delete(v).where(v.c.tenant == bindparam("b_tenant"), v.c.resource_id.in_(select(touched.c.id)),
                               v.c.attr == any_(bindparam("b_gone", type_=postgresql.ARRAY(Text())))).cte("gone")
        rows = select(*[func.unnest(bindparam(f"v_{name}", type_=postgresql.ARRAY(kind))).label(name)
                        for name, kind in _VALUE_ROW_COLUMNS]).subquery("rows")
        added = insert(v).from_select(
            ["tenant", "resource_id", *[name for name, _ in _VALUE_ROW_COLUMNS]],
            select(cast(bindparam("b_tenant"), Text()), cast(bindparam("b_id"), Text()),
                   *[rows.c[name] for name, _ in _VALUE_ROW_COLUMNS])
            .where(select(touched.c.id).exists())).cte("added")
        return select(func.count()).select_from(touched).add_cte(gone).add_cte(added)

    def _bump(self, connection: Connection, ctx: RequestContext, rt: ResourceType, id: str,
              expected_version: int | None, last_modified: str):
        """UPDATE the version (checked against `expected_version` when given) and the
        modification time, RETURNING the row's version, created and data."""
        r = self.tables.resources
        checked = expected_version is not None

        def build():
            return (update(r).where(*self._this_row(rt, at_version=checked)).values(version=r.c.version + 1)
                    .returning(r.c.version, r.c.created, r.c.data))

        params = {"b_tenant": ctx.tenant, "b_id": id, "last_modified": last_modified}
        if checked:
            params["b_version"] = expected_version
        row = connection.execute(self._stmt(("bump", rt.name, checked), build), params).first()
        if row is None:
            self._why_not(connection, ctx, rt, id)
        return row

    def _this_row(self, rt: ResourceType, *, at_version: bool) -> list:
        """The WHERE of an UPDATE of one resource row, bound as `b_tenant` / `b_id` (an UPDATE's
        own column names are taken by its SET) and, `at_version`, `b_version`: the compare-and-set."""
        r = self.tables.resources
        conditions = [r.c.tenant == bindparam("b_tenant"), r.c.id == bindparam("b_id"), r.c.resource_type == rt.name]
        if at_version:
            conditions.append(r.c.version == bindparam("b_version"))
        return conditions

    def _why_not(self, connection: Connection, ctx: RequestContext, rt: ResourceType, id: str) -> None:
        """Raise why a version-checked UPDATE of the row matched nothing."""
        r = self.tables.resources
        found = connection.execute(self._stmt(("version_of", rt.name), lambda: select(r.c.version).where(
            r.c.tenant == bindparam("tenant"), r.c.id == bindparam("rid"), r.c.resource_type == rt.name)),
            {"tenant": ctx.tenant, "rid": id}).scalar()
        if found is None:
            raise ResourceNotFound(rt.name, id)
        raise VersionMismatch(found)

    def _touch_at_version(self, connection: Connection, ctx: RequestContext, rt: ResourceType, id: str,
                          version: int, values: dict) -> None:
        """UPDATE the row only if it is still at `version`; else say why it is not."""
        statement = self._stmt(("touch_at", rt.name), lambda: update(self.tables.resources).where(
            *self._this_row(rt, at_version=True)))
        result = connection.execute(statement, {"b_tenant": ctx.tenant, "b_id": id, "b_version": version,
                                                "version": version + 1, **values})
        if result.rowcount != 1:
            self._why_not(connection, ctx, rt, id)

    def _remove_members(self, connection: Connection, ctx: RequestContext, group_id: str,
                        member_ids: list[str]) -> None:
        m = self.tables.members
        statement = self._stmt(("remove_members",), lambda: delete(m).where(
            m.c.tenant == bindparam("tenant"), m.c.group_id == bindparam("gid"),
            m.c.member_id.in_(bindparam("ids", expanding=True))))
        for chunk in _chunks(list(dict.fromkeys(member_ids))):
            connection.execute(statement, {"tenant": ctx.tenant, "gid": group_id, "ids": chunk})

    def delete(self, ctx: RequestContext, resource_type: str, id: str, *,
               expected_version: int | None = None) -> None:
        rt = self._type(resource_type)
        r, m = self.tables.resources, self.tables.members

        def work(connection: Connection) -> None:
            # Lock the row and check its version, then remove dependent rows and the row.
            found = connection.execute(select(r.c.version).where(
                r.c.tenant == ctx.tenant, r.c.id == id, r.c.resource_type == rt.name).with_for_update()
            ).scalar()
            if found is None:
                raise ResourceNotFound(rt.name, id)
            if expected_version is not None and found != expected_version:
                raise VersionMismatch(found)
            self._clear_data(connection, ctx, id)
            connection.execute(delete(m).where(m.c.tenant == ctx.tenant, m.c.group_id == id))
            connection.execute(delete(m).where(m.c.tenant == ctx.tenant, m.c.member_id == id))
            connection.execute(delete(r).where(r.c.tenant == ctx.tenant, r.c.id == id))

        self._write(work)

    def query(self, ctx: RequestContext, resource_type: str, query: Query) -> Page:
        rt = self._type(resource_type)
        compiler = FilterCompiler(self.tables, self.catalog, rt, ctx.tenant, ctx.base_url)
        shape, params = (None, {"tenant": ctx.tenant}) if query.filter is None else compiler.bind(query.filter)
        count = max(query.count, 0)
        sort = None if query.sort is None else (query.sort.path, query.sort.descending)
        keyset = query.after
        groups = query.with_groups and self._has(rt, "groups")
        base = (rt.name, ctx.base_url, shape, sort)
        with self._transaction() as connection:
            if count == 0:
                return Page([], self._count(connection, base, compiler, query, params))
            if keyset is None:
                offset = max(query.start_index, 1) - 1
                paging: tuple = ("offset", offset > 0)
                page_params = {**params, "limit": count + 1, "offset": offset}
            else:
                offset = None
                paging = ("after", keyset.value is None)
                page_params = {**params, "limit": count + 1, **after_params(keyset)}
            statement = self._statements.get(("page", *base, paging, groups))
            if statement is None:
                statement = self._page_statement(compiler, query, keyset, groups, deferred=paging == ("offset", True))
                self._remember(("page", *base, paging, groups), statement)
            rows = connection.execute(statement, page_params).all()
            more = len(rows) > count
            rows = rows[:count]
            if keyset is None and not more and (rows or offset == 0):
                total = offset + len(rows)  # the last page (a lookup's only one): no COUNT
            else:
                total = self._count(connection, base, compiler, query, params)
            resources = [self._row_to_resource(row, groups) for row in rows]
            if groups:
                self._fill_groups(connection, ctx, resources)
            self._attach(connection, ctx, rt, resources, with_members=query.with_members, with_groups=False)
        next_keyset = Keyset(rows[-1].sort_key, rows[-1].id) if more else None
        return Page(resources, total, next_keyset)

    def _wheres(self, compiler: FilterCompiler, query: Query) -> list:
        r = self.tables.resources
        wheres = [r.c.tenant == bindparam("tenant"), r.c.resource_type == compiler.rt.name]
        if query.filter is not None:
            wheres.append(compiler.condition(query.filter))
        return wheres

    def _page_statement(self, compiler: FilterCompiler, query: Query, keyset: Keyset | None, groups: bool, *,
                        deferred: bool = False):
        """The SELECT of one page (tenant, literals, limit, offset / keyset all bound).

        `deferred` (pages past the first by startIndex): the matches are ordered and skipped
        in a narrow inner SELECT of ids and sort keys, which the created-order index can answer
        alone, and only the page's rows are joined back for their documents, so the OFFSET
        never carries the documents it skips. A first page or a keyset page reads only its own
        rows anyway and stays one plain SELECT (a lookup is one), which plans faster.
        `totalResults` comes from the page itself when it is the last one, else from a COUNT.
        Before, a `count(*) OVER ()` column made the database sort and carry every match with
        its document: a page of 100 of 10,000 users cost ~300 ms on SQLite.
        """
        r = self.tables.resources
        order = ordering(compiler, query.sort)
        if query.filter is not None and not order.nullable:
            # With a filter, keep the "missing last" CASE in the default order: an ORDER BY the
            # created-order index can serve tempts SQLite into walking the whole tenant in that
            # order and testing the filter per row, instead of letting the filter drive.
            order = replace(order, nullable=True)
        wheres = self._wheres(compiler, query)
        if keyset is not None:
            wheres.append(order.after(keyset, r.c.id))
        columns = [r.c.tenant, r.c.id, order.key.label("sort_key")]
        if not deferred:
            columns += [r.c[name] for name in _ROW_COLUMNS if name != "id"]
        statement = (select(*columns).where(*wheres).order_by(*order.order_by(r.c.id))
                     .limit(bindparam("limit", type_=Integer)))
        if keyset is None:
            statement = statement.offset(bindparam("offset", type_=Integer))
        if not deferred and not groups:
            return statement
        page = statement.subquery("page")
        if deferred:
            stored = self.tables.resources.alias("stored")
            if self.engine.dialect.name == "postgresql":
                # LATERAL: one primary-key probe per page row. As a plain join, PostgreSQL may
                # guess a hash join over a full scan of the resources for a page of 100; the
                # LIMIT keeps it from flattening the LATERAL back into such a join.
                row = select(*[stored.c[name] for name in _ROW_COLUMNS]).where(
                    stored.c.tenant == page.c.tenant, stored.c.id == page.c.id).limit(1).lateral("row")
                source = page.join(row, true())
            else:
                row = stored
                source = page.join(row, (row.c.tenant == page.c.tenant) & (row.c.id == page.c.id))
        else:
            row, source = page, page
        columns = [*[row.c[name] for name in _ROW_COLUMNS], page.c.sort_key]
        if groups:  # for the page's rows only, not for every match the OFFSET walks
            columns.append(self._groups_json(page))
        # The page's own order, re-applied to its sort keys (the same comparison as inside).
        return (select(*columns).select_from(source)
                .order_by(*Ordering(page.c.sort_key, order.descending, order.nullable).order_by(page.c.id)))

    def _count(self, connection: Connection, base: tuple, compiler: FilterCompiler, query: Query,
               params: dict) -> int:
        statement = self._statements.get(("count", *base))
        if statement is None:
            statement = select(func.count()).select_from(self.tables.resources).where(
                *self._wheres(compiler, query))
            self._remember(("count", *base), statement)
        return connection.execute(statement, params).scalar_one()

    def _remember(self, key: tuple, statement) -> None:
        """Cache a built statement under its shape; the oldest goes beyond `STATEMENTS`
        (filters come from clients: their shapes are not a bounded set)."""
        statements = self._statements
        if len(statements) >= STATEMENTS:
            try:
                del statements[next(iter(statements))]
            except (KeyError, StopIteration, RuntimeError):
                pass  # another thread evicted it first
        statements[key] = statement

    # -- tokens -------------------------------------------------------------------------
    def _token(self, row) -> Token:
        return Token(row.id, row.tenant, row.secret_hash, parse_stamp(row.created), row.description,
                     None if row.last_used is None else parse_stamp(row.last_used),
                     None if row.expires is None else parse_stamp(row.expires))

    def add_token(self, token: Token) -> None:
        t = self.tables.tokens

        def work(connection: Connection) -> None:
            connection.execute(delete(t).where(t.c.id == token.id))
            connection.execute(insert(t), {
                "id": token.id, "tenant": token.tenant, "secret_hash": token.secret_hash,
                "created": stamp(token.created), "description": token.description,
                "last_used": None if token.last_used is None else stamp(token.last_used),
                "expires": None if token.expires is None else stamp(token.expires),
            })

        self._write(work)

    def find_token(self, secret_hash: str) -> Token | None:
        t = self.tables.tokens
        with self._transaction() as connection:
            row = connection.execute(select(t).where(t.c.secret_hash == secret_hash)).first()
        return None if row is None else self._token(row)

    def list_tokens(self, tenant: str | None = None) -> list[Token]:
        t = self.tables.tokens
        statement = select(t).order_by(t.c.created, t.c.id)
        if tenant is not None:
            statement = statement.where(t.c.tenant == tenant)
        with self._transaction() as connection:
            return [self._token(row) for row in connection.execute(statement)]

    def delete_token(self, token_id: str) -> bool:
        t = self.tables.tokens
        return self._write(lambda connection: connection.execute(
            delete(t).where(t.c.id == token_id)).rowcount == 1)

    def touch_token(self, token_id: str, when: datetime) -> None:
        t = self.tables.tokens
        self._write(lambda connection: connection.execute(
            update(t).where(t.c.id == token_id).values(last_used=stamp(when))))

    def update_token(self, token: Token) -> bool:
        t = self.tables.tokens
        return self._write(lambda connection: connection.execute(
            update(t).where(t.c.id == token.id).values(
                last_used=None if token.last_used is None else stamp(token.last_used),
                expires=None if token.expires is None else stamp(token.expires),
                description=token.description)).rowcount == 1)

    # -- tenants --------------------------------------------------------------------------
    def put_tenant(self, tenant: Tenant) -> None:
        t = self.tables.tenants
        fields = {"created": stamp(tenant.created), "disabled": tenant.disabled,
                  "description": tenant.description}
        self._write(lambda connection: connection.execute(
            _upsert(connection, t, {"id": tenant.id, **fields}, [t.c.id], fields)))

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        t = self.tables.tenants
        with self._transaction() as connection:
            row = connection.execute(select(t).where(t.c.id == tenant_id)).first()
        return None if row is None else _tenant(row)

    def list_tenants(self) -> list[Tenant]:
        t = self.tables.tenants
        with self._transaction() as connection:
            return [_tenant(row) for row in connection.execute(select(t).order_by(t.c.created, t.c.id))]

    def delete_tenant(self, tenant_id: str) -> bool:
        """One transaction: dependent rows first, so no foreign key ever points at a gone row."""
        tables = self.tables

        def work(connection: Connection) -> bool:
            for table in (tables.members, tables.values, tables.uniques, tables.resources,
                          tables.tokens, tables.log):
                connection.execute(delete(table).where(table.c.tenant == tenant_id))
            c = tables.counters
            low, high = _key_range(tenant_id)
            connection.execute(delete(c).where(c.c.key >= low, c.c.key < high))
            t = tables.tenants
            return connection.execute(delete(t).where(t.c.id == tenant_id)).rowcount == 1

        return self._write(work)

    # -- provisioning log -----------------------------------------------------------------
    def append_log(self, entry: LogEntry) -> None:
        self.append_logs([entry])

    def append_logs(self, entries: list[LogEntry]) -> None:
        """One transaction and one executemany for a batch (the log writes in batches)."""
        rows = [{
            "tenant": entry.tenant, "id": entry.id, "time": stamp(entry.time), "method": entry.method,
            "path": entry.path, "status": entry.status, "outcome": entry.outcome,
            "token_id": entry.token_id, "resource_type": entry.resource_type,
            "resource_id": entry.resource_id, "detail": entry.detail,
            "changed": json.dumps(list(entry.changed), ensure_ascii=False),
        } for entry in entries]
        if rows:
            self._write(lambda connection: connection.execute(insert(self.tables.log), rows))

    def query_log(self, tenant: str, *, limit: int = 100, before: str | None = None,
                  since: datetime | None = None) -> list[LogEntry]:
        g = self.tables.log
        statement = select(g).where(g.c.tenant == tenant).order_by(g.c.id.desc()).limit(max(limit, 0))
        if before is not None:
            statement = statement.where(g.c.id < before)
        if since is not None:
            statement = statement.where(g.c.time >= stamp(since))
        with self._transaction() as connection:
            return [_log_entry(row) for row in connection.execute(statement)]

    def prune_log(self, tenant: str, *, keep: int | None = None,
                  older_than: datetime | None = None) -> int:
        g = self.tables.log

        def work(connection: Connection) -> int:
            deleted = 0
            if keep is not None:
                statement = delete(g).where(g.c.tenant == tenant)
                if keep > 0:  # everything older than the oldest entry kept goes
                    oldest_kept = connection.execute(
                        select(g.c.id).where(g.c.tenant == tenant).order_by(g.c.id.desc())
                        .offset(keep - 1).limit(1)).scalar()
                    statement = None if oldest_kept is None else statement.where(g.c.id < oldest_kept)
                if statement is not None:
                    deleted += connection.execute(statement).rowcount
            if older_than is not None:
                deleted += connection.execute(delete(g).where(
                    g.c.tenant == tenant, g.c.time < stamp(older_than))).rowcount
            return deleted

        return self._write(work)

    # -- counters -------------------------------------------------------------------------
    def hit_counter(self, key: str, window_seconds: int, now: datetime) -> int:
        """One upsert on `(key, window_start)`; the first hit of a window also sweeps windows
        that ended before it began (of every key), in its own short transaction."""
        c = self.tables.counters
        start = _window_start(now, window_seconds)
        row = {"key": key, "window_start": start, "window_end": start + window_seconds, "count": 1}

        def work(connection: Connection) -> int:
            upsert = _upsert(connection, c, row, [c.c.key, c.c.window_start], {"count": c.c.count + 1})
            dialect = connection.dialect
            if dialect.name in ("postgresql", "sqlite") and dialect.insert_returning:  # SQLite >= 3.35
                return connection.execute(upsert.returning(c.c.count)).scalar_one()
            # The upsert holds the row's lock (SQLite: the database's) until commit: read it back.
            connection.execute(upsert)
            return connection.execute(select(c.c.count).where(
                c.c.key == key, c.c.window_start == start).with_for_update()).scalar_one()

        count = self._write(work)
        if count == 1:
            self._write(lambda connection: connection.execute(delete(c).where(c.c.window_end < start)))
        return count

    # -- lifecycle ------------------------------------------------------------------------
    def ping(self) -> None:
        with self._transaction() as connection:
            connection.exec_driver_sql("SELECT 1")

    def close(self) -> None:
        if self._engine is not None and self._injected is None:
            self._engine.dispose()
        self._engine, self._pid, self._ready = None, None, False


def _upsert(connection: Connection, table, row: dict, key_columns: list, changes: dict):
    """INSERT `row`, or apply `changes` to the row with the same key, as one statement."""
    name = connection.dialect.name
    if name in ("postgresql", "sqlite"):
        insert_ = postgresql.insert(table) if name == "postgresql" else sqlite.insert(table)
        return insert_.values(row).on_conflict_do_update(index_elements=key_columns, set_=changes)
    return mysql.insert(table).values(row).on_duplicate_key_update(**changes)


def _tenant(row) -> Tenant:
    return Tenant(row.id, parse_stamp(row.created), bool(row.disabled), row.description)


def _log_entry(row) -> LogEntry:
    return LogEntry(row.id, row.tenant, parse_stamp(row.time), row.method, row.path, row.status,
                    row.outcome, row.token_id, row.resource_type, row.resource_id,
                    tuple(json.loads(row.changed)), row.detail)


def _key_range(tenant_id: str) -> tuple[str, str]:
    """Counter keys of a tenant start with `<tenant>:`: the range [`<tenant>:`, `<tenant>;`)
    under the binary collation of the key column (`;` follows `:`)."""
    return f"{tenant_id}:", f"{tenant_id};"


def _window_start(now: datetime, window_seconds: int) -> int:
    """The epoch second at which the fixed window containing `now` starts."""
    seconds = (now - _EPOCH) // timedelta(seconds=1)
    return seconds // window_seconds * window_seconds


_MEMBER_COLUMNS = ["tenant", "group_id", "member_id", "member_type", "display", "display_key"]
_GIVEN_MEMBER_COLUMNS = ["member_id", "display", "display_key"]
_ROW_COLUMNS = ["id", "resource_type", "version", "created", "last_modified", "data"]  # of a Resource
# The columns of a `values` row besides its owner, with their element types for unnest().
_VALUE_ROW_COLUMNS = [("attr", Text()), ("sub", Text()), ("elem", Integer()), ("key", Text()),
                      ("num", postgresql.DOUBLE_PRECISION()), ("sort_rep", Boolean())]


def _first(pair):
    return pair[0]


def _chunks(items: list, size: int = CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _millis(value: datetime) -> str:
    """`stamp` at the millisecond precision SCIM documents show (what filters and sorts see)."""
    value = value.astimezone(timezone.utc)
    return stamp(value.replace(microsecond=value.microsecond // 1000 * 1000))


def _display_name(data: dict) -> str | None:
    value = data.get("displayName")
    return value if isinstance(value, str) else None


def _error_code(exc: DBAPIError) -> object:
    """The driver's error code: SQLSTATE (psycopg) or the MySQL error number (PyMySQL)."""
    original = exc.orig
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate:
        return sqlstate
    args = getattr(original, "args", ())
    return args[0] if args else None
