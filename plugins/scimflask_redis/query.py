"""Filters and sorts executed by Redis: which indexes answer what, and at what cost.

Results are always exactly the reference's (`scimflask.filter.evaluate.matches`,
`scimflask.filter.sort`): indexes only choose *which* resources to look at, and every one looked
at is checked with the reference evaluator. Three strategies, cheapest first:

1. No filter, sort on an ordered index (none, meta.created, meta.lastModified, userName,
   displayName, either direction): `ZCARD` for the total and one `ZRANGE` (by rank, or `BYLEX`
   after a keyset) for the page. O(log n + page).
2. Indexed filter: `id eq`, `eq` on a unique attribute (userName, Group displayName), on
   `externalId`, `emails.value`, Group `members.value` (the member -> groups set) and User
   `groups.value` (the group -> members hash), also inside `emails[...]`; `sw` on userName and
   displayName (a lexicographic range of their ordered index); combined with `and`
   (the smallest side) and `or` (the union of both). When the candidates number at most
   `CANDIDATE_LIMIT`, only they are loaded and evaluated, and sorted in Python. O(matches).
3. Anything else (`co`, `sw` elsewhere, `gt`, `pr`, `not`, `ne`, an `or` with an unindexed side, or more
   than `CANDIDATE_LIMIT` candidates): the ordered index of the requested sort (meta.created for
   other sorts) is walked in `BATCH`-sized `ZRANGEBYLEX` steps, each batch loaded with one
   pipelined round trip and evaluated. O(n) work in O(n / BATCH) round trips, never the whole
   key space in one reply. Sorting on an attribute without an ordered index keeps the sort key
   and id of every match in memory (O(matches)) and loads only the page.

`totalResults` of strategies 2 and 3 counts every match, so it costs the evaluation above even
when `count` is 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from scimflask.errors import InvalidCursor
from scimflask.filter.ast import EQ, SW, And, AttrPath, Compare, Filter, Or, ValuePath, attribute_paths
from scimflask.filter.evaluate import matches, parse_datetime
from scimflask.filter.path import definition_of
from scimflask.filter.sort import sort_key
from scimflask.model import Keyset, Page, Query, RequestContext, Resource, format_datetime
from scimflask.schema.catalog import DATETIME, Catalog, ResourceType

from . import keys
from .indexes import IndexedPath, TypeIndexes, fold, parse_entry, prefix_range, sort_entry
from .reader import GROUPS, MEMBERS, Reader, has_attribute

BATCH = 200
CANDIDATE_LIMIT = 1000


# -- planning -----------------------------------------------------------------------------
@dataclass
class Leaf:
    """One index lookup giving a superset of a filter node's matches."""

    kind: str  # "ids" (known ids), "unique" (HGET), "set" (SMEMBERS), "hash" (HKEYS),
    #            "range" (ZRANGEBYLEX of an ordered index between `low` and `high`)
    key: str = ""
    member: str = ""  # the unique hash field
    low: bytes = b""
    high: bytes = b""
    ids: set[str] = field(default_factory=set)
    size: int = 0


@dataclass
class Combine:
    op: str  # "and": any side is a superset; "or": the union of both sides is
    parts: list


def plan(node: Filter, indexes: TypeIndexes, catalog: Catalog, rt: ResourceType) -> Leaf | Combine | None:
    """Index lookups whose result contains every match of `node`, or None (scan needed)."""
    if isinstance(node, And):
        sides = [p for p in (plan(node.left, indexes, catalog, rt), plan(node.right, indexes, catalog, rt)) if p]
        return Combine("and", sides) if len(sides) == 2 else (sides[0] if sides else None)
    if isinstance(node, Or):
        sides = [plan(node.left, indexes, catalog, rt), plan(node.right, indexes, catalog, rt)]
        return Combine("or", sides) if all(sides) else None
    if isinstance(node, ValuePath):
        return plan(node.filter, indexes, catalog, rt)
    if isinstance(node, Compare) and node.op == SW and isinstance(node.value, str):
        ordered = indexes.ordered.get(node.path)
        if ordered is None or ordered.path.attribute == "meta":
            return None
        low, high = prefix_range(_folded(ordered, node.value))
        return Leaf("range", indexes.ordered_key(ordered), low=low, high=high)
    if not (isinstance(node, Compare) and node.op == EQ and isinstance(node.value, str)):
        return None  # Not, Present and other operators need the evaluator
    path, value = node.path, node.value
    if path == AttrPath(rt.schema, "id"):
        return Leaf("ids", ids={value})
    unique = indexes.unique_by_path.get(path)
    if unique is not None:
        return Leaf("unique", indexes.unique_key(unique), member=_folded(unique, value))
    equality = indexes.equality.get(path)
    if equality is not None:
        return Leaf("set", indexes.equality_key(equality, _folded(equality, value)))
    if path == AttrPath(rt.schema, MEMBERS, "value") and has_attribute(catalog, rt, MEMBERS):
        return Leaf("set", keys.member_groups(value))
    if path == AttrPath(rt.schema, GROUPS, "value") and has_attribute(catalog, rt, GROUPS):
        return Leaf("hash", keys.group_members(value))
    return None


def _folded(indexed: IndexedPath, value: str) -> str:
    return value if indexed.case_exact else fold(value)


def _leaves(node: Leaf | Combine) -> Iterator[Leaf]:
    if isinstance(node, Leaf):
        yield node
    else:
        for part in node.parts:
            yield from _leaves(part)


def _estimate(node: Leaf | Combine) -> int:
    if isinstance(node, Leaf):
        return node.size
    sizes = [_estimate(part) for part in node.parts]
    return min(sizes) if node.op == "and" else sum(sizes)


def _chosen(node: Leaf | Combine) -> Iterator[Leaf]:
    """The leaves whose ids make the candidate set: the smallest side of each `and`."""
    if isinstance(node, Leaf):
        yield node
    elif node.op == "and":
        yield from _chosen(min(node.parts, key=_estimate))
    else:
        for part in node.parts:
            yield from _chosen(part)


def _ids(node: Leaf | Combine) -> set[str]:
    if isinstance(node, Leaf):
        return node.ids
    if node.op == "and":
        return _ids(min(node.parts, key=_estimate))
    return set().union(*(_ids(part) for part in node.parts))


def attributes_read(query: Query) -> set[str]:
    """Top-level attribute names the filter and sort read (to skip loading big member lists)."""
    names = set() if query.filter is None else {path.attribute for path in attribute_paths(query.filter)}
    if query.sort is not None:
        names.add(query.sort.path.attribute)
    return names


# -- execution ----------------------------------------------------------------------------
class QueryRunner:
    """Runs one `Query` over one tenant's resources of one type."""

    def __init__(self, reader: Reader, indexes: TypeIndexes, rt: ResourceType, catalog: Catalog,
                 ctx: RequestContext, query: Query) -> None:
        self.reader = reader
        self.indexes = indexes
        self.rt = rt
        self.catalog = catalog
        self.ctx = ctx
        self.query = query
        self.descending = query.sort is not None and query.sort.descending
        self.ordered = indexes.default_order if query.sort is None else indexes.ordered.get(query.sort.path)
        needs = attributes_read(query)
        self.eval_members = MEMBERS in needs
        self.eval_groups = GROUPS in needs
        self._datetimes = query.sort is None or definition_of(catalog, rt, query.sort.path).type == DATETIME

    def run(self) -> Page:
        query = self.query
        if query.filter is None and self.ordered is not None:
            return self._index_page()
        found = plan(query.filter, self.indexes, self.catalog, self.rt) if query.filter is not None else None
        candidates = self._candidates(found) if found is not None else None
        if candidates is not None:
            rows = self._evaluate(self._load(sorted(candidates)))
            return self._page_from_rows(rows)
        if self.ordered is not None:
            return self._ordered_scan()
        walked = self._walk(self.indexes.default_order, False)
        return self._page_from_rows(self._evaluate(resource for _, resource in walked))

    # strategy 1 ------------------------------------------------------------------------
    def _index_page(self) -> Page:
        client, key = self.reader.client, self._ordered_key()
        total = client.zcard(key)
        count = max(self.query.count, 0)
        if count == 0:
            return Page([], total)
        if self.query.after is not None:
            boundary = b"(" + self._boundary(self.query.after)
            entries = client.zrangebylex(key, boundary, b"+", 0, count + 1)
            more = len(entries) > count
            entries = entries[:count]
        else:
            start = max(self.query.start_index, 1) - 1
            entries = client.zrange(key, start, start + count - 1)
            more = start + len(entries) < total
        ids = [parse_entry(entry, self.descending)[1] for entry in entries]
        resources = [r for r in self.reader.records(self.rt, ids) if r is not None]
        return self._finish(resources, total, more)

    # strategy 2 ------------------------------------------------------------------------
    def _candidates(self, found: Leaf | Combine) -> set[str] | None:
        """The candidate ids, or None when there are more than CANDIDATE_LIMIT."""
        client = self.reader.client
        leaves = [leaf for leaf in _leaves(found) if leaf.kind != "ids"]
        pipe = client.pipeline(transaction=False)
        for leaf in leaves:
            key = self.reader.key(leaf.key)
            if leaf.kind == "unique":
                pipe.hget(key, leaf.member)
            elif leaf.kind == "set":
                pipe.scard(key)
            elif leaf.kind == "range":
                pipe.zlexcount(key, leaf.low, leaf.high)
            else:
                pipe.hlen(key)
        for leaf, reply in zip(leaves, pipe.execute(), strict=True):
            if leaf.kind == "unique":
                leaf.ids = {reply.decode()} if reply is not None else set()
                leaf.kind = "ids"
            else:
                leaf.size = reply
        for leaf in _leaves(found):
            if leaf.kind == "ids":
                leaf.size = len(leaf.ids)
        if _estimate(found) > CANDIDATE_LIMIT:
            return None
        fetch = [leaf for leaf in _chosen(found) if leaf.kind != "ids"]
        pipe = client.pipeline(transaction=False)
        for leaf in fetch:
            key = self.reader.key(leaf.key)
            if leaf.kind == "set":
                pipe.smembers(key)
            elif leaf.kind == "range":
                pipe.zrangebylex(key, leaf.low, leaf.high)
            else:
                pipe.hkeys(key)
        for leaf, reply in zip(fetch, pipe.execute(), strict=True):
            if leaf.kind == "range":
                leaf.ids = {parse_entry(entry)[1] for entry in reply}
            else:
                leaf.ids = {item.decode() for item in reply}
        return _ids(found)

    def _load(self, ids: list[str]) -> Iterator[Resource]:
        for start in range(0, len(ids), BATCH):
            yield from self._loaded(ids[start:start + BATCH])

    def _loaded(self, ids: list[str]) -> list[Resource]:
        resources = [r for r in self.reader.records(self.rt, ids) if r is not None]
        self.reader.attach(self.rt, resources, with_members=self.eval_members, with_groups=self.eval_groups)
        return resources

    def _matches(self, resource: Resource) -> tuple[bool, dict]:
        document = resource.document(self.ctx.base_url)
        ok = self.query.filter is None or matches(self.query.filter, document, self.rt, self.catalog)
        return ok, document

    def _evaluate(self, resources: Iterator[Resource]) -> list[tuple[tuple, str]]:
        """(reference sort key, id) of every matching resource."""
        rows = []
        for resource in resources:
            ok, document = self._matches(resource)
            if ok:
                rows.append((sort_key(document, self.query.sort, self.rt, self.catalog), resource.id))
        return rows

    def _page_from_rows(self, rows: list[tuple[tuple, str]]) -> Page:
        """Sort rows in the reference order (`sort_documents`), then cut the page."""
        rows.sort(key=lambda row: row[1])
        rows.sort(key=lambda row: row[0], reverse=self.descending)
        count = max(self.query.count, 0)
        if count == 0:
            return Page([], len(rows))
        start = self._start_after(rows) if self.query.after is not None else max(self.query.start_index, 1) - 1
        selected = rows[start:start + count]
        by_id = {r.id: r for r in self.reader.records(self.rt, [id for _, id in selected]) if r is not None}
        resources = [by_id[id] for _, id in selected if id in by_id]
        return self._finish(resources, len(rows), start + len(selected) < len(rows))

    def _start_after(self, rows: list[tuple[tuple, str]]) -> int:
        keyset = self.query.after
        value = keyset.value
        if self._datetimes and value is not None:
            value = parse_datetime(value)
            if value is None:
                raise InvalidCursor("The cursor does not fit this query's sort order.")
        position = (1,) if value is None else (0, value)
        try:
            for index, (key, id) in enumerate(rows):
                if key == position:
                    if id > keyset.id:
                        return index
                elif (key < position) == self.descending:
                    return index
        except TypeError:
            raise InvalidCursor("The cursor does not fit this query's sort order.") from None
        return len(rows)

    # strategy 3 ------------------------------------------------------------------------
    def _walk(self, ordered: IndexedPath, descending: bool) -> Iterator[tuple[bytes, Resource]]:
        """(entry, resource) in the order of an ordered index, loaded BATCH at a time."""
        client = self.reader.client
        key = self.reader.key(self.indexes.ordered_key(ordered, descending))
        low = b"-"
        while True:
            entries = client.zrangebylex(key, low, b"+", 0, BATCH)
            if not entries:
                return
            ids = [parse_entry(entry, descending)[1] for entry in entries]
            by_id = {r.id: r for r in self._loaded(ids)}
            for entry, id in zip(entries, ids, strict=True):
                if id in by_id:
                    yield entry, by_id[id]
            if len(entries) < BATCH:
                return
            low = b"(" + entries[-1]

    def _ordered_scan(self) -> Page:
        """Walk the sort's own ordered index: matches arrive in order; count all of them."""
        count = max(self.query.count, 0)
        start = max(self.query.start_index, 1) - 1
        boundary = self._boundary(self.query.after) if self.query.after is not None else None
        total, selected, more = 0, [], False
        for entry, resource in self._walk(self.ordered, self.descending):
            if not self._matches(resource)[0]:
                continue
            total += 1
            if boundary is not None:
                if entry <= boundary:
                    continue
            elif total <= start:
                continue
            if len(selected) < count:
                selected.append(resource.id)
            else:
                more = True
        by_id = {r.id: r for r in self.reader.records(self.rt, selected) if r is not None}
        return self._finish([by_id[id] for id in selected if id in by_id], total, more)

    # shared ----------------------------------------------------------------------------
    def _ordered_key(self) -> str:
        return self.reader.key(self.indexes.ordered_key(self.ordered, self.descending))

    def _boundary(self, keyset: Keyset) -> bytes:
        """The ordered-index entry of a keyset position (entries after it follow it)."""
        value = keyset.value
        if value is not None and not isinstance(value, str):
            raise InvalidCursor("The cursor does not fit this query's sort order.")
        if value is not None and self.ordered.path.attribute == "meta":
            instant = parse_datetime(value)
            if instant is None:
                raise InvalidCursor("The cursor does not fit this query's sort order.")
            value = format_datetime(instant)
        return sort_entry(value, keyset.id, self.descending)

    def _finish(self, resources: list[Resource], total: int, more: bool) -> Page:
        self.reader.attach(self.rt, resources, with_members=self.query.with_members,
                           with_groups=self.query.with_groups)
        next_keyset = None
        if resources and more:
            last = resources[-1]
            key = sort_key(last.document(self.ctx.base_url), self.query.sort, self.rt, self.catalog)
            value = key[1] if len(key) > 1 else None
            next_keyset = Keyset(value.isoformat() if isinstance(value, datetime) else value, last.id)
        return Page(resources, total, next_keyset)
