"""The writes of one resource's rows: its `resources` row under its version, and the `values` /
`uniques` rows built from its data (values.py).

- The first statement of a write takes the resource row's lock, so concurrent writers of one
  resource queue in the database, whatever process they run in (`claim`): a version-checked
  UPDATE when the caller read the row at that version (`Change.base`), an UPDATE … RETURNING
  for membership changes where the database has it, else a locking SELECT and the version check.
- An update rewrites only the rows of the attributes whose rows changed (`RowDiff`).
- Uniqueness is the `uniques` primary key: its IntegrityError becomes `UniqueConflict(attribute)`.
- On PostgreSQL, an update from its base that changes no unique attribute is one statement
  (WITH UPDATE, DELETE, INSERT) in autocommit (`update_in_one_statement`), and so is a create
  without members (`insert_in_one_statement`: WITH INSERT, INSERT, INSERT); a create that
  meets a taken value fails whole and is written again statement by statement, which names
  the attribute.
- The substring index follows the `values` rows: by itself on PostgreSQL (an index on them),
  by triggers on SQLite; on MySQL/MariaDB the `trigrams` rows of the same attributes are
  replaced here, in the same transaction (trigram_rows.py).
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import (
    Boolean,
    Connection,
    Integer,
    Text,
    any_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError

from scimflask.model import Resource, copy_json
from scimflask.schema.catalog import Catalog, ResourceType
from scimflask.storage import ResourceNotFound, UniqueConflict, VersionMismatch

from .rows import display_name, new_row, row_columns
from .statements import Statements, chunks, column_arrays, unnested
from .substring import TRIGRAMS, SubstringIndex
from .tables import SqlTables
from .trigram_rows import TrigramRows, trigram_rows
from .values import RowDiff, parse_stamp, stamp, unique_rows, value_rows

# The columns of a `values` row besides its owner, with their element types for unnest().
VALUE_ROW_COLUMNS = (("attr", Text()), ("sub", Text()), ("elem", Integer()), ("key", Text()),
                     ("num", postgresql.DOUBLE_PRECISION()), ("sort_rep", Boolean()))
VALUE_NAMES = [name for name, _ in VALUE_ROW_COLUMNS]
# The columns of a `uniques` row that differ between the rows of one resource.
UNIQUE_ROW_COLUMNS = (("attr", Text()), ("digest", Text()))


class ResourceWrites:
    """The statements that write one resource's rows, each in the caller's transaction."""

    def __init__(self, tables: SqlTables, statements: Statements, catalog: Catalog,
                 substrings: SubstringIndex) -> None:
        self.tables = tables
        self.statements = statements
        self.catalog = catalog
        self.substrings = substrings
        self.trigrams = TrigramRows(tables, statements)

    @property
    def _keeps_trigrams(self) -> bool:
        return self.substrings.kind == TRIGRAMS

    # -- the resources row --------------------------------------------------------------------
    def insert(self, connection: Connection, tenant: str, rt: ResourceType, resource: Resource) -> None:
        """The row of a new resource, then its `uniques` and `values` rows."""
        try:
            connection.execute(insert(self.tables.resources), new_row(tenant, rt, resource))
        except IntegrityError:
            raise UniqueConflict("id") from None
        self._insert_uniques(connection, unique_rows(self.catalog, rt, tenant, resource.id, resource.data))
        rows = value_rows(self.catalog, rt, tenant, resource.id, resource.data)
        self._insert_values(connection, rows)
        if self._keeps_trigrams:
            self.trigrams.insert(connection, trigram_rows(tenant, resource.id, rows))

    def claim(self, connection: Connection, tenant: str, rt: ResourceType, id: str, columns: dict, *,
              base: Resource | None, expected_version: int | None) -> tuple[dict, datetime, int]:
        """Write the row's next version and `columns` (rows.changed_columns), taking its lock;
        return what the row held before: (data, created, version)."""
        if base is not None:
            # The caller read the row at this version: the version check in the UPDATE itself
            # is the compare-and-set, and no locking read is needed for the diff.
            self._touch_at_version(connection, tenant, rt, id, base.version, columns)
            return base.data, base.created, base.version
        if "data" not in columns and connection.dialect.update_returning:
            # A membership change keeps the data: bump the version and read the row back in one
            # statement (PostgreSQL, SQLite) instead of a locking read first.
            row = self._bump(connection, tenant, rt, id, expected_version, columns["last_modified"])
            return json.loads(row.data), parse_stamp(row.created), row.version - 1
        # Lock the row and read what its `values` rows were built from (the diff needs it).
        r = self.tables.resources
        current = connection.execute(self.statements.cached(("lock", rt.name), lambda: select(
            *row_columns(r)).where(r.c.tenant == bindparam("tenant"), r.c.id == bindparam("rid"),
                                   r.c.resource_type == rt.name).with_for_update()),
            {"tenant": tenant, "rid": id}).first()
        if current is None:
            raise ResourceNotFound(rt.name, id)
        if expected_version is not None and current.version != expected_version:
            raise VersionMismatch(current.version)
        connection.execute(self.statements.cached(("touch",), lambda: update(r).where(
            r.c.tenant == bindparam("b_tenant"), r.c.id == bindparam("b_id"))),
            {"b_tenant": tenant, "b_id": id, "version": current.version + 1, **columns})
        return json.loads(current.data), parse_stamp(current.created), current.version

    def _touch_at_version(self, connection: Connection, tenant: str, rt: ResourceType, id: str,
                          version: int, columns: dict) -> None:
        """UPDATE the row only if it is still at `version`; else say why it is not."""
        statement = self.statements.cached(("touch_at", rt.name), lambda: update(self.tables.resources).where(
            *self._this_row(rt, at_version=True)))
        result = connection.execute(statement, {"b_tenant": tenant, "b_id": id, "b_version": version,
                                                "version": version + 1, **columns})
        if result.rowcount != 1:
            self._why_not(connection, tenant, rt, id)

    def _bump(self, connection: Connection, tenant: str, rt: ResourceType, id: str,
              expected_version: int | None, last_modified: str):
        """UPDATE the version (checked against `expected_version` when given) and the
        modification time, RETURNING the row's version, created and data."""
        r = self.tables.resources
        checked = expected_version is not None

        def build():
            return (update(r).where(*self._this_row(rt, at_version=checked)).values(version=r.c.version + 1)
                    .returning(r.c.version, r.c.created, r.c.data))

        params = {"b_tenant": tenant, "b_id": id, "last_modified": last_modified}
        if checked:
            params["b_version"] = expected_version
        row = connection.execute(self.statements.cached(("bump", rt.name, checked), build), params).first()
        if row is None:
            self._why_not(connection, tenant, rt, id)
        return row

    def _this_row(self, rt: ResourceType, *, at_version: bool) -> list:
        """The WHERE of an UPDATE of one resource row, bound as `b_tenant` / `b_id` (an UPDATE's
        own column names are taken by its SET) and, `at_version`, `b_version`: the compare-and-set."""
        r = self.tables.resources
        conditions = [r.c.tenant == bindparam("b_tenant"), r.c.id == bindparam("b_id"), r.c.resource_type == rt.name]
        if at_version:
            conditions.append(r.c.version == bindparam("b_version"))
        return conditions

    def _why_not(self, connection: Connection, tenant: str, rt: ResourceType, id: str) -> None:
        """Raise why a version-checked UPDATE of the row matched nothing."""
        r = self.tables.resources
        found = connection.execute(self.statements.cached(("version_of", rt.name), lambda: select(r.c.version).where(
            r.c.tenant == bindparam("tenant"), r.c.id == bindparam("rid"), r.c.resource_type == rt.name)),
            {"tenant": tenant, "rid": id}).scalar()
        if found is None:
            raise ResourceNotFound(rt.name, id)
        raise VersionMismatch(found)

    def lock_for_delete(self, connection: Connection, tenant: str, rt: ResourceType, id: str,
                        expected_version: int | None) -> None:
        """Lock the row and check its version before the resource's rows go."""
        r = self.tables.resources
        found = connection.execute(select(r.c.version).where(
            r.c.tenant == tenant, r.c.id == id, r.c.resource_type == rt.name).with_for_update()
        ).scalar()
        if found is None:
            raise ResourceNotFound(rt.name, id)
        if expected_version is not None and found != expected_version:
            raise VersionMismatch(found)

    def delete_row(self, connection: Connection, tenant: str, id: str) -> None:
        r = self.tables.resources
        connection.execute(delete(r).where(r.c.tenant == tenant, r.c.id == id))

    # -- the values and uniques rows ----------------------------------------------------------
    def _insert_uniques(self, connection: Connection, rows: list[tuple[str, dict]]) -> None:
        statement = self.statements.cached(("insert_uniques",), lambda: insert(self.tables.uniques))
        for attribute, row in rows:
            try:  # on failure the whole transaction rolls back: no savepoint needed
                connection.execute(statement, row)
            except IntegrityError:
                raise UniqueConflict(attribute) from None

    def _insert_values(self, connection: Connection, rows: list[dict]) -> None:
        statement = self.statements.cached(("insert_values",), lambda: insert(self.tables.values))
        for chunk in chunks(rows):
            connection.execute(statement, chunk)

    def rewrite_data(self, connection: Connection, tenant: str, id: str, diff: RowDiff) -> None:
        """Replace the `uniques` and `values` rows a data change touches (see `row_diff`)."""
        v, u = self.tables.values, self.tables.uniques
        if diff.unique_gone:  # the old digests go first: the new ones may reuse none of them
            connection.execute(self._attr_delete(u), {"tenant": tenant, "rid": id, "attrs": diff.unique_gone})
        self._insert_uniques(connection, diff.unique_new)
        if diff.value_gone:
            connection.execute(self._attr_delete(v), {"tenant": tenant, "rid": id, "attrs": diff.value_gone})
        if diff.value_new:
            self._insert_values(connection, diff.value_new)
        if self._keeps_trigrams:
            self.trigrams.replace(connection, tenant, id, diff.value_gone, diff.value_new)

    def _attr_delete(self, table):
        """DELETE of the rows of some attributes of one resource (`values` or `uniques`)."""
        return self.statements.cached(("attr_delete", table.name), lambda: delete(table).where(
            table.c.tenant == bindparam("tenant"), table.c.resource_id == bindparam("rid"),
            table.c.attr.in_(bindparam("attrs", expanding=True))))

    def clear_data(self, connection: Connection, tenant: str, id: str) -> None:
        for table in (self.tables.values, self.tables.uniques):
            connection.execute(delete(table).where(table.c.tenant == tenant, table.c.resource_id == id))
        if self._keeps_trigrams:
            self.trigrams.clear(connection, tenant, id)

    # -- PostgreSQL: an update in one statement -----------------------------------------------
    def update_in_one_statement(self, connection: Connection, tenant: str, rt: ResourceType, base: Resource,
                                data: dict, diff: RowDiff, now: datetime) -> Resource:
        """PostgreSQL: the version-checked UPDATE of the row and the rewrite of its changed
        `values` rows as one statement, run in autocommit: one round trip instead of five
        (BEGIN, UPDATE, DELETE, INSERT, COMMIT). A single statement is atomic by itself. Only
        for a `diff` that touches no unique attribute: a unique conflict must name its attribute."""
        last_modified = stamp(now)
        params = {"b_tenant": tenant, "b_id": base.id, "b_version": base.version,
                  "b_new_version": base.version + 1, "b_last_modified": last_modified,
                  "b_data": json.dumps(data, ensure_ascii=False), "b_display_name": display_name(data),
                  "b_gone": diff.value_gone,
                  **column_arrays(diff.value_new, VALUE_NAMES, prefix="v_")}
        statement = self.statements.cached(("update_one_statement", rt.name), lambda: self._one_statement(rt))
        if not connection.execute(statement, params).scalar():
            self._why_not(connection, tenant, rt, base.id)
        return Resource(rt.name, base.id, copy_json(data), base.created, parse_stamp(last_modified), base.version + 1)

    def _one_statement(self, rt: ResourceType):
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
        added = self._insert_unnested(v, VALUE_ROW_COLUMNS, "v_", when=select(touched.c.id).exists()).cte("added")
        return select(func.count()).select_from(touched).add_cte(gone).add_cte(added)

    def _insert_unnested(self, table, columns, prefix: str, when=None, **constants):
        """INSERT INTO `table` the rows of one array parameter per column (`unnested`), each
        with the resource's `b_tenant` / `b_id` and the `constants` (column name: bound value)."""
        rows = unnested(columns, prefix=prefix).subquery(prefix + "rows")
        fixed = {"tenant": bindparam("b_tenant"), "resource_id": bindparam("b_id"), **constants}
        chosen = select(*[cast(value, Text()) for value in fixed.values()], *[rows.c[name] for name, _ in columns])
        return insert(table).from_select([*fixed, *[name for name, _ in columns]],
                                         chosen if when is None else chosen.where(when))

    # -- PostgreSQL: a create in one statement ------------------------------------------------
    def insert_in_one_statement(self, connection: Connection, tenant: str, rt: ResourceType,
                                resource: Resource) -> bool:
        """PostgreSQL: the row of a new resource and its `uniques` and `values` rows as one
        statement, run in autocommit: one round trip instead of five or more (BEGIN, three
        INSERTs, COMMIT), and one INSERT of the values on the server instead of one per row.
        False, with nothing written, when a unique value or the id is taken: the statement
        fails whole, and the caller writes statement by statement (`insert`), which says which
        attribute conflicts."""
        uniques = [row for _, row in unique_rows(self.catalog, rt, tenant, resource.id, resource.data)]
        params = {**new_row(tenant, rt, resource), "b_tenant": tenant, "b_id": resource.id,
                  "b_resource_type": rt.name,
                  **column_arrays(uniques, [name for name, _ in UNIQUE_ROW_COLUMNS], prefix="u_"),
                  **column_arrays(value_rows(self.catalog, rt, tenant, resource.id, resource.data),
                                  VALUE_NAMES, prefix="v_")}
        statement = self.statements.cached(("insert_one_statement",), self._one_insert)
        try:
            connection.execute(statement, params)
        except IntegrityError:
            return False
        return True

    def _one_insert(self):
        """WITH made AS (INSERT the row RETURNING id), uniques AS (INSERT …), added AS
        (INSERT …) SELECT count(*) FROM made. The foreign keys of the `uniques` and `values`
        rows are checked at the end of the statement, when the row is there."""
        r, u, v = self.tables.resources, self.tables.uniques, self.tables.values
        made = insert(r).values({column.name: bindparam(column.name) for column in r.c}).returning(r.c.id).cte("made")
        uniques = self._insert_unnested(u, UNIQUE_ROW_COLUMNS, "u_",
                                        resource_type=bindparam("b_resource_type")).cte("uniques")
        added = self._insert_unnested(v, VALUE_ROW_COLUMNS, "v_").cte("added")
        return select(func.count()).select_from(made).add_cte(uniques).add_cte(added)
