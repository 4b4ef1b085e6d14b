"""A query's page: one SELECT of the page, a COUNT only when the page cannot tell the total,
and keysets.

- The page is one SELECT with, for users, their groups as a JSON array column (membership.py
  `groups_json`), plus one SELECT for the members of a page of groups when asked.
- `totalResults` comes from the page itself when it is the last one (a lookup's only page),
  else from a COUNT, which reads the index. (A `count(*) OVER ()` column made the database sort
  and carry every match with its document: a page of 100 of 10,000 users cost ~300 ms on SQLite.)
- Pages past the first by startIndex are cut over ids and sort keys in a narrow inner SELECT
  and joined back, so the OFFSET never carries the documents it skips.
- Keyset pages continue strictly after the last row's (sort key, id).
- A query with `max_scan` is first checked against it (scan.py).
- The WHERE and the sort key come from compile.py; statements are kept by shape (statements.py)
  with the tenant, every literal, the limit and the offset or keyset bound.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
    true,
)

from scimflask.model import Keyset, Page, Query, RequestContext, Sort
from scimflask.schema.catalog import Catalog, ResourceType

from .compile import FilterCompiler, sort_key
from .membership import Membership
from .rows import ROW_COLUMNS, row_columns, to_resource
from .scan import ScanBound
from .statements import Statements
from .substring import SubstringIndex
from .tables import SqlTables


@dataclass(frozen=True)
class Ordering:
    """What ORDER BY and a keyset read: the sort expression (None → the default order).
    `nullable`: whether the key can be missing. The default order's key never is, and
    leaving out the "missing last" CASE lets the database read an unfiltered listing from
    the created-order index instead of sorting every match (`Pages._page_statement` keeps
    the CASE when a filter should drive the plan)."""

    key: ColumnElement
    descending: bool
    nullable: bool = True

    def order_by(self, id_column) -> list:
        if not self.nullable:
            return [self.key.desc() if self.descending else self.key.asc(), id_column.asc()]
        missing = case((self.key.is_(None), 1), else_=0)
        if self.descending:
            return [missing.desc(), self.key.desc(), id_column.asc()]
        return [missing.asc(), self.key.asc(), id_column.asc()]

    def after(self, keyset: Keyset, id_column) -> ColumnElement:
        """Rows strictly after `keyset` in this order: bind parameters `after_value` and
        `after_id` (see `after_params`); the shape depends only on whether the value is missing."""
        value, last_id = bindparam("after_value"), bindparam("after_id")
        if keyset.value is None:
            value = None
        if value is None:
            later = and_(self.key.is_(None), id_column > last_id)
            return or_(later, self.key.is_not(None)) if self.descending else later
        beyond = self.key < value if self.descending else self.key > value
        tied = and_(self.key == value, id_column > last_id)
        if self.descending:  # missing values came first, so none follows a present one
            return or_(beyond, tied)
        return or_(beyond, tied, self.key.is_(None))


def after_params(keyset: Keyset) -> dict:
    return {"after_value": keyset.value, "after_id": keyset.id} if keyset.value is not None else {
        "after_id": keyset.id}


def ordering(compiler: FilterCompiler, sort: Sort | None) -> Ordering:
    """The order of `sort` (by created, then id, without one) for the resources of `compiler`."""
    if sort is None:
        return Ordering(compiler.r.c.created_key, False, nullable=False)
    return Ordering(sort_key(compiler, sort.path), sort.descending)


@dataclass(frozen=True)
class _Search:
    """One request's query: its compiler (bound to the filter), the shape its page and count
    statements are kept by (type, base URL, filter shape, sort), and the filter's parameters."""

    compiler: FilterCompiler
    query: Query
    shape: tuple
    params: dict


class Pages:
    """Runs queries: the page, the total and the next keyset."""

    def __init__(self, tables: SqlTables, statements: Statements, catalog: Catalog,
                 membership: Membership, substrings: SubstringIndex) -> None:
        self.tables = tables
        self.statements = statements
        self.catalog = catalog
        self.membership = membership
        self.substrings = substrings
        self.bound = ScanBound(tables, statements, substrings)

    def query(self, connection: Connection, ctx: RequestContext, rt: ResourceType, query: Query) -> Page:
        search = self._search(ctx, rt, query)
        self.bound.check(connection, search.compiler, query, search.params)
        if search.compiler.resolved:  # leaves that take their candidates as ids compile otherwise
            search = replace(search, shape=(*search.shape, frozenset(search.compiler.resolved)))
        count = max(query.count, 0)
        if count == 0:
            return Page([], self._count(connection, search))
        keyset = query.after
        if keyset is None:
            offset = max(query.start_index, 1) - 1
            paging: tuple = ("offset", offset > 0)
            window = {"limit": count + 1, "offset": offset}
        else:
            offset = None
            paging = ("after", keyset.value is None)
            window = {"limit": count + 1, **after_params(keyset)}
        groups = query.with_groups and self.catalog.has_groups(rt)
        statement = self.statements.cached(("page", *search.shape, paging, groups), lambda: self._page_statement(
            connection.dialect.name, search, groups, deferred=paging == ("offset", True)))
        rows = connection.execute(statement, {**search.params, **window}).all()
        more = len(rows) > count
        rows = rows[:count]
        if keyset is None and not more and (rows or offset == 0):
            total = offset + len(rows)  # the last page (a lookup's only one): no COUNT
        else:
            total = self._count(connection, search)
        resources = [to_resource(row) for row in rows]
        self.membership.attach(connection, ctx.tenant, resources, rows, groups=groups,
                               members=query.with_members and self.catalog.has_members(rt))
        next_keyset = Keyset(rows[-1].sort_key, rows[-1].id) if more else None
        return Page(resources, total, next_keyset)

    def _search(self, ctx: RequestContext, rt: ResourceType, query: Query) -> _Search:
        compiler = FilterCompiler(self.tables, self.catalog, rt, ctx.tenant, ctx.base_url, self.substrings)
        shape, params = (None, {"tenant": ctx.tenant}) if query.filter is None else compiler.bind(query.filter)
        sort = None if query.sort is None else (query.sort.path, query.sort.descending)
        return _Search(compiler, query, (rt.name, ctx.base_url, shape, sort), params)

    def _wheres(self, search: _Search) -> list:
        r = self.tables.resources
        wheres = [r.c.tenant == bindparam("tenant"), r.c.resource_type == search.compiler.rt.name]
        if search.query.filter is not None:
            wheres.append(search.compiler.condition(search.query.filter))
        return wheres

    def _count(self, connection: Connection, search: _Search) -> int:
        statement = self.statements.cached(("count", *search.shape), lambda: select(func.count()).select_from(
            self.tables.resources).where(*self._wheres(search)))
        return connection.execute(statement, search.params).scalar_one()

    def _page_statement(self, dialect: str, search: _Search, groups: bool, *, deferred: bool):
        """The SELECT of one page (tenant, literals, limit, offset / keyset all bound).

        `deferred` (pages past the first by startIndex): the matches are ordered and skipped
        in a narrow inner SELECT of ids and sort keys, which the created-order index can answer
        alone, and only the page's rows are joined back for their documents. A first page or a
        keyset page reads only its own rows anyway and stays one plain SELECT (a lookup is
        one), which plans faster.
        """
        r = self.tables.resources
        query = search.query
        order = ordering(search.compiler, query.sort)
        if query.filter is not None and not order.nullable:
            # With a filter, keep the "missing last" CASE in the default order: an ORDER BY the
            # created-order index can serve tempts SQLite into walking the whole tenant in that
            # order and testing the filter per row, instead of letting the filter drive.
            order = replace(order, nullable=True)
        wheres = self._wheres(search)
        if query.after is not None:
            wheres.append(order.after(query.after, r.c.id))
        columns = [r.c.tenant, r.c.id, order.key.label("sort_key")]
        if not deferred:
            columns += [r.c[name] for name in ROW_COLUMNS if name != "id"]
        statement = (select(*columns).where(*wheres).order_by(*order.order_by(r.c.id))
                     .limit(bindparam("limit", type_=Integer)))
        if query.after is None:
            statement = statement.offset(bindparam("offset", type_=Integer))
        if not deferred and not groups:
            return statement
        return self._around_page(dialect, statement.subquery("page"), order, groups, deferred=deferred)

    def _around_page(self, dialect: str, page, order: Ordering, groups: bool, *, deferred: bool):
        """The rows of the `page` subquery in its own order, with their documents joined back
        (`deferred`) and their groups column (`groups`), computed for the page's rows only, not
        for every match the OFFSET walks."""
        if deferred:
            stored = self.tables.resources.alias("stored")
            if dialect == "postgresql":
                # LATERAL: one primary-key probe per page row. As a plain join, PostgreSQL may
                # guess a hash join over a full scan of the resources for a page of 100; the
                # LIMIT keeps it from flattening the LATERAL back into such a join.
                row = select(*row_columns(stored)).where(
                    stored.c.tenant == page.c.tenant, stored.c.id == page.c.id).limit(1).lateral("row")
                source = page.join(row, true())
            else:
                row = stored
                source = page.join(row, (row.c.tenant == page.c.tenant) & (row.c.id == page.c.id))
        else:
            row, source = page, page
        columns = [*row_columns(row), page.c.sort_key]
        if groups:
            columns.append(self.membership.groups_json(dialect, page))
        # The page's own order, re-applied to its sort keys (the same comparison as inside).
        return (select(*columns).select_from(source)
                .order_by(*Ordering(page.c.sort_key, order.descending, order.nullable).order_by(page.c.id)))
