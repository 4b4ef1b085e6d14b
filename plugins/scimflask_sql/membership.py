"""Group memberships: one `members` row per (group, member), indexed both ways (tables.py).

- Changes are deltas: added rows are inserted skipping present ones, removed ones deleted by
  id, so a change costs its own size, never the group's. A checked add (each id must name a
  resource of the tenant, whose type fills the row) is on PostgreSQL one statement that checks,
  takes the types and inserts; elsewhere a SELECT of the types, then the INSERT.
- A group's `members` are read for a page of groups at once (`members_of`); a user's `groups`
  come with the user's own row, as a JSON array column of the same statement (`groups_json`),
  except where MariaDB cut that column short (`attach`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

from sqlalchemy import (
    Connection,
    Integer,
    Text,
    bindparam,
    cast,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite

from scimflask.model import GroupRef, Member, Resource
from scimflask.storage import UnknownMembers

from .statements import ARRAY_CHUNK, Statements, chunks, column_arrays, unnested
from .tables import SqlTables

MEMBER_COLUMNS = ("tenant", "group_id", "member_id", "member_type", "display", "display_key")
GIVEN_MEMBER_COLUMNS = ("member_id", "display", "display_key")  # what a checked add sends


class Membership:
    """The `members` rows of one storage: checks, changes, counts and reads."""

    def __init__(self, tables: SqlTables, statements: Statements) -> None:
        self.tables = tables
        self.statements = statements

    # -- checks -----------------------------------------------------------------------------
    def checked(self, connection: Connection, tenant: str, members: Iterable[Member],
                check: bool) -> list[Member]:
        """One copy per member id (the last one given wins); when `check`, every id must name
        a resource of the tenant, whose type is filled in."""
        unique = {m.value: replace(m) for m in members}
        if not check or not unique:
            return list(unique.values())
        r = self.tables.resources
        statement = self.statements.cached(("types",), lambda: select(r.c.id, r.c.resource_type).where(
            r.c.tenant == bindparam("tenant"), r.c.id.in_(bindparam("ids", expanding=True))))
        types: dict[str, str] = {}
        for chunk in chunks(list(unique)):
            types.update(connection.execute(statement, {"tenant": tenant, "ids": chunk}).all())
        unknown = [id for id in unique if id not in types]
        if unknown:
            raise UnknownMembers(unknown)
        for member in unique.values():
            member.type = types[member.value]
        return list(unique.values())

    # -- changes ----------------------------------------------------------------------------
    def add(self, connection: Connection, tenant: str, group_id: str, members: list[Member],
            check: bool) -> list[Member]:
        """Add `members` to a group, or return them checked for the caller to `insert`.

        On PostgreSQL a checked add is one statement: the given ids are joined to the tenant's
        resources (which fills each member's type), the known ones inserted, and the unknown
        ones returned, instead of a SELECT of the types and then an INSERT.
        """
        if not members or not check or connection.dialect.name != "postgresql":
            return self.checked(connection, tenant, members, check)
        rows = [{"member_id": m.value, "display": m.display, "display_key": _display_key(m.display)}
                for m in {m.value: m for m in members}.values()]
        statement = self.statements.cached(("add_members_checked",), self._add_checked)
        unknown: list[str] = []
        for chunk in chunks(rows, ARRAY_CHUNK):
            unknown += connection.execute(statement, {
                "tenant": tenant, "gid": group_id, **column_arrays(chunk, GIVEN_MEMBER_COLUMNS)}).scalars()
        if unknown:
            raise UnknownMembers(unknown)  # the transaction rolls back what was inserted
        return []

    def _add_checked(self):
        """PostgreSQL: INSERT the given members that name a resource of the tenant (taking its
        type), skipping present ones, and SELECT the ids that name none."""
        r, m = self.tables.resources, self.tables.members
        given = unnested([(name, Text()) for name in GIVEN_MEMBER_COLUMNS]).cte("given")
        known = select(given.c.member_id, r.c.resource_type, given.c.display, given.c.display_key).select_from(
            given.join(r, (r.c.tenant == bindparam("tenant")) & (r.c.id == given.c.member_id))).cte("known")
        inserted = postgresql.insert(m).from_select(MEMBER_COLUMNS, select(
            cast(bindparam("tenant"), Text()), cast(bindparam("gid"), Text()), known.c.member_id,
            known.c.resource_type, known.c.display, known.c.display_key)).on_conflict_do_nothing().cte("inserted")
        return (select(given.c.member_id)
                .where(~select(known.c.member_id).where(known.c.member_id == given.c.member_id).exists())
                .add_cte(inserted))

    def insert(self, connection: Connection, tenant: str, group_id: str, members: list[Member]) -> None:
        """Insert the rows of `members` (checked), skipping those already present (set semantics)."""
        if not members:
            return
        rows = [{"tenant": tenant, "group_id": group_id, "member_id": m.value, "member_type": m.type,
                 "display": m.display, "display_key": _display_key(m.display)} for m in members]
        table = self.tables.members
        dialect = connection.dialect.name
        if dialect == "postgresql":  # one statement whatever the count: one array per column
            statement = self.statements.cached(("insert_members",), lambda: postgresql.insert(table).from_select(
                MEMBER_COLUMNS, unnested([(name, Text()) for name in MEMBER_COLUMNS])).on_conflict_do_nothing())
            for chunk in chunks(rows, ARRAY_CHUNK):
                connection.execute(statement, column_arrays(chunk, MEMBER_COLUMNS))
            return
        if dialect == "sqlite":  # executemany: in-process, no round trips
            statement = self.statements.cached(("insert_members",), lambda: sqlite.insert(table).on_conflict_do_nothing())
        else:  # PyMySQL sends an executemany INSERT as multi-row INSERTs
            statement = self.statements.cached(("insert_members",), lambda: insert(table).prefix_with("IGNORE"))
        for chunk in chunks(rows):
            connection.execute(statement, chunk)

    def remove(self, connection: Connection, tenant: str, group_id: str, member_ids: list[str]) -> None:
        m = self.tables.members
        statement = self.statements.cached(("remove_members",), lambda: delete(m).where(
            m.c.tenant == bindparam("tenant"), m.c.group_id == bindparam("gid"),
            m.c.member_id.in_(bindparam("ids", expanding=True))))
        for chunk in chunks(list(dict.fromkeys(member_ids))):
            connection.execute(statement, {"tenant": tenant, "gid": group_id, "ids": chunk})

    def replace(self, connection: Connection, tenant: str, group_id: str, members: list[Member]) -> None:
        """Make `members` (checked) the group's members: remove the others, insert the new."""
        m = self.tables.members
        wanted = {member.value for member in members}
        present = set(connection.execute(select(m.c.member_id).where(
            m.c.tenant == tenant, m.c.group_id == group_id)).scalars())
        self.remove(connection, tenant, group_id, sorted(present - wanted))
        self.insert(connection, tenant, group_id, [member for member in members if member.value not in present])

    def forget(self, connection: Connection, tenant: str, id: str) -> None:
        """Delete every row naming resource `id`, as group or as member."""
        m = self.tables.members
        connection.execute(delete(m).where(m.c.tenant == tenant, m.c.group_id == id))
        connection.execute(delete(m).where(m.c.tenant == tenant, m.c.member_id == id))

    # -- reads ------------------------------------------------------------------------------
    def count(self, connection: Connection, tenant: str, group_id: str, up_to: int | None) -> int | None:
        """The group's member count (with `up_to`, at most `up_to + 1`: it counts that many
        rows of the primary key, O(up_to) and not O(members)); None when there is no such group."""
        m, r = self.tables.members, self.tables.resources
        limited = up_to is not None

        def build():
            rows = select(m.c.member_id).where(m.c.tenant == bindparam("tenant"), m.c.group_id == bindparam("gid"))
            if limited:
                rows = rows.limit(bindparam("limit", type_=Integer))
            found = select(r.c.id).where(r.c.tenant == bindparam("tenant"), r.c.id == bindparam("gid"),
                                         r.c.resource_type == "Group").scalar_subquery()
            counted = select(func.count()).select_from(rows.subquery()).scalar_subquery()
            return select(found.label("found"), counted.label("n"))  # one round trip for both

        params = {"tenant": tenant, "gid": group_id}
        if limited:
            params["limit"] = max(up_to, 0) + 1
        found, count = connection.execute(self.statements.cached(("count_members", limited), build), params).one()
        return None if found is None else count

    def members_of(self, connection: Connection, tenant: str, group_ids: list[str]) -> dict[str, list[Member]]:
        m = self.tables.members

        def build(many: bool):
            owner = m.c.group_id.in_(bindparam("owners", expanding=True)) if many else m.c.group_id == bindparam("owner")
            return (select(m.c.group_id, m.c.member_id, m.c.member_type, m.c.display)
                    .where(m.c.tenant == bindparam("tenant"), owner).order_by(m.c.group_id, m.c.member_id))

        out: dict[str, list[Member]] = {id: [] for id in group_ids}
        for group_id, member_id, member_type, display in self._by_owner(
                connection, "members_of", build, tenant, group_ids):
            out[group_id].append(Member(member_id, member_type, display))
        return out

    def groups_of(self, connection: Connection, tenant: str, member_ids: list[str]) -> dict[str, list[GroupRef]]:
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
                connection, "groups_of", build, tenant, member_ids):
            out[member_id].append(GroupRef(group_id, display_name))
        return out

    def _by_owner(self, connection: Connection, key: str, build: Callable[[bool], object], tenant: str,
                  ids: list[str]) -> Iterator:
        """Rows of the cached statement `build(many)` for `ids`: `=` for one id, an expanding
        IN list of at most CHUNK ids otherwise."""
        if len(ids) == 1:
            yield from connection.execute(self.statements.cached((key, 1), lambda: build(False)),
                                          {"tenant": tenant, "owner": ids[0]})
            return
        statement = self.statements.cached((key, "in"), lambda: build(True))
        for chunk in chunks(ids):
            yield from connection.execute(statement, {"tenant": tenant, "owners": chunk})

    def groups_json(self, dialect: str, source=None):
        """A column of the resources row: the groups of the user as a JSON array of
        [group id, display name] (NULL or [] for none), so a page of users and their groups
        is one statement. Each row costs one probe of `ix_members_member`, as `groups_of` does.
        `source` is what the rows come from (the resources table, or a page subquery with its
        `tenant` and `id`); `dialect` is the connection's."""
        r = self.tables.resources if source is None else source
        m, g = self.tables.members.alias("gm"), self.tables.resources.alias("gr")
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

    def attach(self, connection: Connection, tenant: str, resources: list[Resource], rows: list, *,
               members: bool, groups: bool) -> None:
        """Fill `members` of groups (one query for them all) and, with `groups`, `groups` of
        users from their rows' `groups_json` column. MariaDB cuts JSON_ARRAYAGG at
        `group_concat_max_len`, leaving invalid JSON: those users' groups get a query of their own."""
        if groups:
            missing = []
            for resource, row in zip(resources, rows, strict=True):
                pairs = _pairs(row.groups_json)
                if pairs is None:
                    missing.append(resource)
                else:
                    resource.groups = [GroupRef(id, display) for id, display in sorted(pairs, key=_first)]
            if missing:
                found = self.groups_of(connection, tenant, [resource.id for resource in missing])
                for resource in missing:
                    resource.groups = found[resource.id]
        if members and resources:
            found = self.members_of(connection, tenant, [resource.id for resource in resources])
            for resource in resources:
                resource.members = found[resource.id]


def _display_key(display: str | None) -> str | None:
    """What `members.display` filters compare: the display name lower-cased."""
    return None if display is None else display.lower()


def _pairs(value) -> list | tuple | None:
    """The [group id, display name] pairs of a `groups_json` value; None if it is cut short."""
    if isinstance(value, (str, bytes)):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value or ()


def _first(pair):
    return pair[0]
