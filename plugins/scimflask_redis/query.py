"""Filters and sorts executed by Redis: which indexes answer what, and at what cost.

Results are always exactly the reference's (`scimflask.filter.evaluate.matches`,
`scimflask.filter.sort`): indexes choose *which* resources to look at, and every one looked at
is checked with the reference evaluator, unless the index answer is exact by construction.
Three strategies, cheapest first; strategies 1 and 2 are ONE round trip (lua/read.lua resolves
the index lookups, loads the records and the memberships asked for):

1. No filter, sort on an ordered index (none, meta.created, meta.lastModified, userName,
   displayName, either direction): `ZCARD` for the total and one `ZRANGE` (by rank, or `BYLEX`
   after a keyset) for the page. O(log n + page).
2. Indexed filter: `id eq`, `eq` on a unique attribute (userName, Group displayName), on
   `externalId`, `emails.value`, Group `members.value` (the member -> groups set) and User
   `groups.value` (the group -> members hash), also inside `emails[...]`; `eq` and `sw` on
   userName / displayName (their ordered index) and on the prefix-indexed attributes
   (`indexes.PREFIX_PATHS`: a lexicographic range); `co`, `ew` (and `sw` where no range
   answers it) with 3 characters or more on the trigram-indexed attributes (`SUBSTRING_INDEXED`,
   also inside `emails[...]`): the `SINTER` of at most `MAX_PATTERN_TRIGRAMS` trigram sets,
   sized first by one `SCARD` each (the candidates are at most the smallest set), costing
   O(smallest set x trigrams); combined with `and` (the smallest side) and `or` (the union of
   both). A leaf whose prefix or trigram index is not ready (data written before it) counts
   as unbounded: an `and` takes its other side, anything else scans.
   - Exact plans (`is_exact`: a plain `eq` / `sw` on a string attribute with the index's case
     rule, or an `or` of them) in created / lastModified order, up to `EXACT_LIMIT` matches:
     ordered and cut inside Redis; only the page is loaded and `total` is the match count.
   - Otherwise, up to `CANDIDATE_LIMIT` candidates: every candidate is loaded once, evaluated
     (unless exact) and sorted in Python; memberships come along when the filter reads them or
     when every candidate fits on the first page (else one more round trip for the page's).
3. Anything else (`co` / `ew` under 3 characters or on other attributes, `gt`, `pr`, `not`,
   `ne`, an `or` with an unindexed side, more candidates than the limits, an index not yet
   built for old data): the ordered index of the requested sort (meta.created for other
   sorts) is walked in `BATCH`-sized `ZRANGEBYLEX` steps, each batch loaded with one
   pipelined round trip and evaluated. O(n) work in
   O(n / BATCH) round trips, never the whole key space in one reply. Sorting on an attribute
   without an ordered index keeps the sort key and id of every match in memory (O(matches))
   and loads only the page.

`totalResults` of strategy 3 counts every match, so it costs the evaluation above even
when `count` is 0.

With `Query.max_scan` set, a filter is refused (`ScanTooLarge`) before any candidate is read
when its plan's candidate bound exceeds `max_scan` (read.lua answers the bound and the type's
`ZCARD` in the same round trip), or when it has no usable plan; in both cases only if the
type has more than `max_scan` resources in the tenant (one `ZCARD` when no plan ran). A plan
bounded by `max_scan` but past `CANDIDATE_LIMIT` is still answered by the scan; listings
without a filter and exact plans answered inside Redis are never refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from scimflask.filter.ast import CO, EQ, EW, SW, And, AttrPath, Compare, Filter, Or, ValuePath
from scimflask.filter.evaluate import matches, parse_datetime
from scimflask.filter.path import definition_of
from scimflask.filter.sort import sort_key
from scimflask.model import Keyset, Page, Query, RequestContext, Resource, format_datetime
from scimflask.schema.catalog import BINARY, DATETIME, REFERENCE, STRING, Catalog, ResourceType
from scimflask.storage import ScanTooLarge, StaleKeyset

from . import keys
from .indexes import (
    PREFIX_SIGNATURE,
    TRIGRAM_SIGNATURE,
    IndexedPath,
    TypeIndexes,
    fold,
    parse_entry,
    prefix_range,
    search_trigrams,
    sort_entry,
    value_range,
)
from .reader import GROUPS, MEMBERS, Many, Reader, to_micros
from .scripts import pack

BATCH = 200
CANDIDATE_LIMIT = 1000  # candidates loaded and evaluated in Python at most
EXACT_LIMIT = 20000  # exact matches ordered and cut inside Redis at most (one id list in Lua)


# -- planning -----------------------------------------------------------------------------
@dataclass
class Leaf:
    """One index lookup giving a superset of a filter node's matches (read.lua resolves it)."""

    kind: str  # "ids" (a known id), "unique" (HGET), "set" (SMEMBERS), "hash" (HKEYS),
    #            "range" (ZRANGEBYLEX of an ordered or prefix index between `low` and `high`),
    #            "grams" (SINTER of the trigram sets `key` + each of `grams`)
    key: str = ""
    member: str = ""  # the unique hash field, or the id of "ids"
    low: bytes = b""
    high: bytes = b""
    exact: bool = False  # the lookup gives exactly the node's matches (no evaluation needed)
    prefix: bool = False  # reads a prefix index (trusted only when the type's marker is ready)
    grams: tuple[str, ...] = ()


@dataclass
class Combine:
    op: str  # "and": any side is a superset; "or": the union of both sides is
    parts: list


def plan(node: Filter, indexes: TypeIndexes, catalog: Catalog, rt: ResourceType) -> Leaf | Combine | None:
    """Index lookups whose result contains every match of `node`, or None (scan needed)."""
    if isinstance(node, And):
        sides = [p for p in (plan(node.left, indexes, catalog, rt), plan(node.right, indexes, catalog, rt)) if p]
        if len(sides) == 1:
            return _inexact(sides[0])
        return Combine("and", sides) if sides else None
    if isinstance(node, Or):
        sides = [plan(node.left, indexes, catalog, rt), plan(node.right, indexes, catalog, rt)]
        return Combine("or", sides) if all(sides) else None
    if isinstance(node, ValuePath):
        return plan(node.filter, indexes, catalog, rt)
    if not (isinstance(node, Compare) and node.op in (EQ, SW, CO, EW) and isinstance(node.value, str)):
        return None  # Not, Present and other operators need the evaluator
    path, value = node.path, node.value
    exact = _string(catalog, rt, path)
    if node.op == SW:
        return _starts_with(indexes, catalog, rt, path, value, exact) or _trigram_leaf(indexes, path, value)
    if node.op != EQ:
        return _trigram_leaf(indexes, path, value)
    if path == AttrPath(rt.schema, "id"):
        return Leaf("ids", member=value, exact=exact and _case_exact(catalog, rt, path))
    unique = indexes.unique_by_path.get(path)
    if unique is not None:
        return Leaf("unique", indexes.unique_key(unique), member=_folded(unique, value), exact=exact)
    equality = indexes.equality.get(path)
    if equality is not None:
        return Leaf("set", indexes.equality_key(equality, _folded(equality, value)), exact=exact)
    indexed = indexes.prefix.get(path)
    if indexed is not None:
        low, high = value_range(_folded(indexed, value))
        return Leaf("range", indexes.prefix_key(indexed), low=low, high=high, exact=exact, prefix=True)
    ordered = indexes.ordered.get(path)
    if ordered is not None and ordered.path.attribute != "meta":
        low, high = value_range(_folded(ordered, value))
        return Leaf("range", indexes.ordered_key(ordered), low=low, high=high,
                    exact=exact and not _multi_valued(catalog, rt, path))
    # the membership rows hold ids exactly as stored: exact when the attribute is caseExact
    if path == AttrPath(rt.schema, MEMBERS, "value") and catalog.has_members(rt):
        return Leaf("set", keys.member_groups(value), exact=exact and _case_exact(catalog, rt, path))
    if path == AttrPath(rt.schema, GROUPS, "value") and catalog.has_groups(rt):
        return Leaf("hash", keys.group_members(value), exact=exact and _case_exact(catalog, rt, path))
    return None


def _starts_with(indexes: TypeIndexes, catalog: Catalog, rt: ResourceType, path: AttrPath, value: str,
                 exact: bool) -> Leaf | None:
    """`sw` as one lexicographic range of the ordered or the prefix index, if `path` has one."""
    ordered = indexes.ordered.get(path)
    if ordered is not None and ordered.path.attribute != "meta":
        low, high = prefix_range(_folded(ordered, value))
        return Leaf("range", indexes.ordered_key(ordered), low=low, high=high,
                    exact=exact and not _multi_valued(catalog, rt, path))
    indexed = indexes.prefix.get(path)
    if indexed is None:
        return None
    low, high = prefix_range(_folded(indexed, value))
    return Leaf("range", indexes.prefix_key(indexed), low=low, high=high, exact=exact, prefix=True)


def _trigram_leaf(indexes: TypeIndexes, path: AttrPath, value: str) -> Leaf | None:
    """`co` / `sw` / `ew` as the intersection of the pattern's trigram sets: a superset of the
    matches (never exact: the position, the case rule and multi-valued attributes need the
    evaluator), or None for a path without trigrams or a pattern under three characters."""
    indexed = indexes.substring.get(path)
    grams = None if indexed is None else search_trigrams(indexed, value)
    if grams is None:
        return None
    return Leaf("grams", indexes.trigram_prefix(indexed), grams=tuple(grams))


def _string(catalog: Catalog, rt: ResourceType, path: AttrPath) -> bool:
    try:
        return definition_of(catalog, rt, path).type in (STRING, REFERENCE, BINARY)
    except KeyError:
        return False


def _case_exact(catalog: Catalog, rt: ResourceType, path: AttrPath) -> bool:
    return definition_of(catalog, rt, path).case_exact


def _multi_valued(catalog: Catalog, rt: ResourceType, path: AttrPath) -> bool:
    top = catalog.top_level(rt, path.schema, path.attribute)
    return top is None or top.multi_valued


def _inexact(node: Leaf | Combine) -> Leaf | Combine:
    """`node` standing for a larger filter (the other side of an `and` is not indexed)."""
    for leaf in _leaves(node):
        leaf.exact = False
    return node


def _folded(indexed: IndexedPath, value: str) -> str:
    return value if indexed.case_exact else fold(value)


def _leaves(node: Leaf | Combine) -> Iterator[Leaf]:
    if isinstance(node, Leaf):
        yield node
    else:
        for part in node.parts:
            yield from _leaves(part)


def is_exact(node: Leaf | Combine) -> bool:
    """Whether the plan's ids are exactly the matches: an `and` keeps only its smaller side,
    so only exact leaves joined by `or` are."""
    if isinstance(node, Leaf):
        return node.exact
    return node.op == "or" and all(is_exact(part) for part in node.parts)


def postfix(node: Leaf | Combine) -> list:
    """The plan as read.lua takes it: fours (kind, key, a, b) in postfix order."""
    if isinstance(node, Leaf):
        kind = node.kind
        if kind == "range":
            return ["lrange" if node.prefix else kind, node.key, node.low, node.high]
        if kind == "grams":
            return [kind, node.key, pack(node.grams), ""]
        return [kind, node.key, node.member, ""]
    out = postfix(node.parts[0])
    for part in node.parts[1:]:
        out += postfix(part) + ["&" if node.op == "and" else "|", "", "", ""]
    return out


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
        needs = query.attributes_read()
        self.eval_members = MEMBERS in needs
        self.eval_groups = GROUPS in needs
        self._datetimes = query.sort is None or definition_of(catalog, rt, query.sort.path).type == DATETIME

    def run(self) -> Page:
        query = self.query
        if query.filter is None and self.ordered is not None:
            return self._index_page()
        found = plan(query.filter, self.indexes, self.catalog, self.rt) if query.filter is not None else None
        refused = None
        if found is not None:
            page = self._indexed(found)
            if isinstance(page, Page):
                return page
            refused = page
        self._check_scan(refused)
        if self.ordered is not None:
            return self._ordered_scan()
        walked = self._walk(self.indexes.default_order, False)
        return self._page_from_rows(self._evaluate(resource for _, resource in walked))

    # strategy 1 ------------------------------------------------------------------------
    def _index_page(self) -> Page:
        """Total, page entries, records and memberships in one read.lua call."""
        query = self.query
        count = max(query.count, 0)
        boundary = b"(" + self._boundary(query.after) if query.after is not None else b""
        loaded = self.reader.read(
            self.rt, mode="rank", order=self.indexes.ordered_key(self.ordered, self.descending),
            descending=self.descending, start=max(query.start_index, 1) - 1, count=count, boundary=boundary,
            with_members=query.with_members, with_groups=query.with_groups, attach_up_to=count)
        return self._finish(loaded.resources, loaded.total, loaded.more, loaded.attached)

    # strategy 2 ------------------------------------------------------------------------
    def _indexed(self, found: Leaf | Combine) -> Page | Many:
        """One read.lua call resolves the plan and loads what is needed; `Many`: too many
        candidates (or an index of the plan not ready yet), scan instead.

        Exact plans in created / lastModified order are sorted and cut inside Redis, so only
        the page is loaded and `total` is the number of matches (no candidate is evaluated, so
        `max_scan` does not apply below `EXACT_LIMIT`). Otherwise at most `CANDIDATE_LIMIT`
        (and `max_scan`) candidates are loaded once, evaluated here (unless exact) and sorted
        by the reference key; members and groups come along when the filter reads them or when
        all candidates fit on the page."""
        query = self.query
        packed = pack(postfix(found))
        order = self._redis_order()
        after = self._millis_after() if query.after is not None else None
        if is_exact(found) and order is not None and (query.after is None or after is not None):
            loaded = self.reader.read(
                self.rt, plan=packed, limit=EXACT_LIMIT, mode="page", order=order, descending=self.descending,
                start=max(query.start_index, 1) - 1, count=max(query.count, 0), with_members=query.with_members,
                with_groups=query.with_groups, attach_up_to=max(query.count, 0), gates=self._gates(),
                after=after, count_key=self._count_key())
            if not isinstance(loaded, Many):
                return self._finish(loaded.resources, loaded.total, loaded.more, loaded.attached)
            if loaded.bound is None or loaded.bound > self._candidate_limit():
                return loaded  # the candidate path below would refuse the plan too
        return self._candidates(packed, is_exact(found))

    def _candidates(self, packed: bytes, exact: bool) -> Page | Many:
        """Load every candidate of the plan (one read.lua call), evaluate and page them."""
        query = self.query
        evaluating = self.eval_members or self.eval_groups
        first_page = max(query.start_index, 1) == 1 and query.after is None
        loaded = self.reader.read(
            self.rt, plan=packed, limit=self._candidate_limit(), mode="load",
            with_members=self.eval_members or (query.with_members and not evaluating),
            with_groups=self.eval_groups or (query.with_groups and not evaluating),
            attach_up_to=CANDIDATE_LIMIT if evaluating else (max(query.count, 0) if first_page else 0),
            gates=self._gates(), count_key=self._count_key())
        if isinstance(loaded, Many):
            return loaded
        attached = loaded.attached
        if evaluating and not attached:  # cannot happen: the limit covers every record
            self.reader.attach(self.rt, loaded.resources, with_members=self.eval_members,
                               with_groups=self.eval_groups)
            attached = True
        resources = loaded.resources
        if exact:
            rows = [(sort_key(r.document(self.catalog.locator(self.ctx.base_url)), query.sort, self.rt, self.catalog), r.id)
                    for r in resources]
        else:
            rows = self._evaluate(iter(resources))
        by_id = {r.id: r for r in resources}
        members = self.eval_members or (query.with_members and not evaluating)
        groups = self.eval_groups or (query.with_groups and not evaluating)
        return self._page_from_rows(rows, by_id, members and attached, groups and attached)

    def _gates(self) -> tuple[str, str, str, str]:
        """The ready markers and signatures read.lua checks before trusting the prefix or the
        trigram indexes (one GET each, only when the plan reads such an index)."""
        return (self.indexes.ready_key, PREFIX_SIGNATURE, self.indexes.trigram_ready_key, TRIGRAM_SIGNATURE)

    def _candidate_limit(self) -> int:
        bound = self.query.max_scan
        return CANDIDATE_LIMIT if bound is None else min(CANDIDATE_LIMIT, max(bound, 0))

    def _count_key(self) -> str:
        """The index whose size read.lua reports with a refused plan, for `_check_scan`."""
        if self.query.max_scan is None:
            return ""
        return self.indexes.ordered_key(self.indexes.default_order)

    def _check_scan(self, refused: Many | None) -> None:
        """Raise `ScanTooLarge` before a filtered scan of more than `max_scan` resources that
        no index narrowed to at most `max_scan` candidates (a tenant of at most `max_scan`
        resources of the type is scanned). Costs one ZCARD unless read.lua reported the size."""
        limit = self.query.max_scan
        if limit is None or self.query.filter is None:
            return
        if refused is not None and refused.bound is not None and refused.bound <= limit:
            return  # narrowed enough, only past CANDIDATE_LIMIT: the scan is how it is answered
        size = refused.resources if refused is not None else None
        if size is None:
            size = self.reader.client.zcard(self.reader.key(self.indexes.ordered_key(self.indexes.default_order)))
        if size > limit:
            raise ScanTooLarge(self.rt.name, limit)

    def _millis_after(self) -> tuple[int, str] | None:
        """A timestamp keyset as (milliseconds since the epoch, id) for read.lua; None for a
        keyset without a value (left to the Python path)."""
        keyset = self.query.after
        if keyset.value is None:
            return None
        instant = parse_datetime(keyset.value) if isinstance(keyset.value, str) else None
        if instant is None:
            raise StaleKeyset("the keyset does not fit this query's sort order")
        return to_micros(instant) // 1000, keyset.id

    def _redis_order(self) -> str | None:
        """The record field read.lua orders by for this query's sort, if it can."""
        sort = self.query.sort
        if sort is None:
            return "c"
        if sort.path == AttrPath(self.rt.schema, "meta", "created"):
            return "c"
        if sort.path == AttrPath(self.rt.schema, "meta", "lastModified"):
            return "m"
        return None

    def _loaded(self, ids: list[str]) -> list[Resource]:
        resources = [r for r in self.reader.records(self.rt, ids) if r is not None]
        self.reader.attach(self.rt, resources, with_members=self.eval_members, with_groups=self.eval_groups)
        return resources

    def _matches(self, resource: Resource) -> tuple[bool, dict]:
        document = resource.document(self.catalog.locator(self.ctx.base_url))
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

    def _page_from_rows(self, rows: list[tuple[tuple, str]], by_id: dict[str, Resource] | None = None,
                        members: bool = False, groups: bool = False) -> Page:
        """Sort rows in the reference order (`sort_documents`), then cut the page; its records
        come from `by_id` (already loaded, with members / groups as flagged) or are read now."""
        rows.sort(key=lambda row: row[1])
        rows.sort(key=lambda row: row[0], reverse=self.descending)
        count = max(self.query.count, 0)
        if count == 0:
            return Page([], len(rows))
        start = self._start_after(rows) if self.query.after is not None else max(self.query.start_index, 1) - 1
        selected = rows[start:start + count]
        if by_id is None:
            by_id = {r.id: r for r in self.reader.records(self.rt, [id for _, id in selected]) if r is not None}
        resources = [by_id[id] for _, id in selected if id in by_id]
        return self._finish(resources, len(rows), start + len(selected) < len(rows), members=members, groups=groups)

    def _start_after(self, rows: list[tuple[tuple, str]]) -> int:
        keyset = self.query.after
        value = keyset.value
        if self._datetimes and value is not None:
            value = parse_datetime(value)
            if value is None:
                raise StaleKeyset("the keyset does not fit this query's sort order")
        position = (1,) if value is None else (0, value)
        try:
            for index, (key, id) in enumerate(rows):
                if key == position:
                    if id > keyset.id:
                        return index
                elif (key < position) == self.descending:
                    return index
        except TypeError:
            raise StaleKeyset("the keyset does not fit this query's sort order") from None
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
                selected.append(resource)  # kept (a page at most), not read again
            else:
                more = True
        return self._finish(selected, total, more, members=self.eval_members, groups=self.eval_groups)

    # shared ----------------------------------------------------------------------------
    def _ordered_key(self) -> str:
        return self.reader.key(self.indexes.ordered_key(self.ordered, self.descending))

    def _boundary(self, keyset: Keyset) -> bytes:
        """The ordered-index entry of a keyset position (entries after it follow it)."""
        value = keyset.value
        if value is not None and not isinstance(value, str):
            raise StaleKeyset("the keyset does not fit this query's sort order")
        if value is not None and self.ordered.path.attribute == "meta":
            instant = parse_datetime(value)
            if instant is None:
                raise StaleKeyset("the keyset does not fit this query's sort order")
            value = format_datetime(instant)
        return sort_entry(value, keyset.id, self.descending)

    def _finish(self, resources: list[Resource], total: int, more: bool, attached: bool = False, *,
                members: bool | None = None, groups: bool | None = None) -> Page:
        """The page: members / groups as the query asks. `attached`: they were loaded as asked;
        otherwise `members` / `groups` say what was loaded (for evaluation) and the rest is
        dropped or read now (one round trip at most)."""
        query = self.query
        if not attached:
            loaded_members, loaded_groups = bool(members), bool(groups)
            for resource in resources:
                if loaded_members and not query.with_members:
                    resource.members = None
                if loaded_groups and not query.with_groups:
                    resource.groups = None
            self.reader.attach(self.rt, resources, with_members=query.with_members and not loaded_members,
                               with_groups=query.with_groups and not loaded_groups)
        next_keyset = None
        if resources and more:
            last = resources[-1]
            key = sort_key(last.document(self.catalog.locator(self.ctx.base_url)), self.query.sort, self.rt, self.catalog)
            value = key[1] if len(key) > 1 else None
            next_keyset = Keyset(value.isoformat() if isinstance(value, datetime) else value, last.id)
        return Page(resources, total, next_keyset)
