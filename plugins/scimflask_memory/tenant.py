"""Everything one tenant owns in the memory backend: resources, indexes, memberships, and the
caches derived from them (the creation order, documents, sorted query results)."""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Callable
from dataclasses import replace

from scimflask.filter.ast import EQ, SUBSTRING_OPERATORS, SW, And, Compare, Filter, Or, ValuePath
from scimflask.filter.sort import sort_key
from scimflask.model import Resource, format_datetime
from scimflask.schema.catalog import Catalog, ResourceType
from scimflask.storage import ScanTooLarge

from .indexes import (
    TEXT_TYPES,
    EqualityIndex,
    SortedIndex,
    TrigramIndex,
    indexed_attributes,
    sorted_attributes,
    substring_attributes,
)
from .membership import Membership
from .ordering import created_key
from .plan import Answer, Both, Either, Plan, Trigrams

MAX_ORDERS = 16  # cached query orders per tenant (one per sort / filter / base URL seen)

Row = tuple[tuple, str]  # (sort key, resource id)
Found = tuple[set[str], bool]  # ids, and whether they are exactly the matches (else candidates)
Lookup = Callable[[str], set[str]]  # string literal -> ids
Path = tuple[str, str, str | None]  # (lower-cased schema, attribute, sub-attribute)


class Tenant:
    """Resources per resource type, their indexes, group memberships and derived caches.

    Resources are stored with `members` and `groups` unset: membership lives in
    `self.membership` and is attached when a resource is read. Stored resources are never
    mutated: a write stores a new object, which is what makes the caches keyed by id safe
    to drop in `put` / `remove` only.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.tables: dict[str, dict[str, Resource]] = {}
        self.indexes: dict[str, dict[Path, EqualityIndex]] = {}
        self.sorted: dict[str, dict[Path, SortedIndex]] = {}
        self.trigrams: dict[str, dict[Path, TrigramIndex]] = {}
        self.membership = Membership()
        # Per type: (`created_key`, id) in the default order, and each id's created key,
        # maintained on every write, so the unfiltered default listing costs O(page).
        self.created: dict[str, list[Row]] = {}
        self.created_keys: dict[str, dict[str, tuple]] = {}
        # id -> {base URL: document without members / groups}: built once per write.
        self._documents: dict[str, dict[str, dict]] = {}
        # (type, sort, base URL, filter) -> every match's row, in order; dropped by every
        # write (a write of members always comes with a `put` of the group).
        self._orders: dict[tuple, list[Row]] = {}
        # type -> (schema, attribute, sub) -> (answer to `eq`, answer to `sw` or None)
        self._answers: dict[str, dict[Path, tuple[Lookup | None, Lookup | None]]] = {}
        for rt in catalog.resource_types:
            self.tables[rt.name] = {}
            self.created[rt.name] = []
            self.created_keys[rt.name] = {}
            self.indexes[rt.name] = {
                (attr.schema.lower(), attr.name, attr.sub): EqualityIndex(attr)
                for attr in indexed_attributes(catalog, rt)
            }
            self.sorted[rt.name] = {
                (attr.schema.lower(), attr.name, attr.sub): SortedIndex(attr)
                for attr in sorted_attributes(catalog, rt)
            }
            self.trigrams[rt.name] = {
                (attr.schema.lower(), attr.name, attr.sub): TrigramIndex(attr)
                for attr in substring_attributes(catalog, rt)
            }
            self._answers[rt.name] = self._answerable(rt)

    def _answerable(self, rt: ResourceType) -> dict[Path, tuple[Lookup | None, Lookup | None]]:
        """Which paths of `rt` an index answers exactly, and how."""
        answers: dict = {}
        for key, index in self.sorted[rt.name].items():
            answers[key] = (index.equal, index.starting_with)
        for key, eq_index in self.indexes[rt.name].items():
            if eq_index.attribute.text:
                answers[key] = (eq_index.equal, answers.get(key, (None, None))[1])
        core = rt.schema.lower()
        table = self.tables[rt.name]
        id_attr = self.catalog.top_level(rt, rt.schema, "id")
        if id_attr is not None and id_attr.case_exact and id_attr.type in TEXT_TYPES:
            answers[(core, id_attr.name, None)] = (lambda value: {value} if value in table else set(), None)
        for name, related in (("members", self.membership.group_ids), ("groups", self.membership.member_ids)):
            attr = self.catalog.top_level(rt, rt.schema, name)
            sub = attr.sub_attribute("value") if attr is not None else None
            if attr is not None and sub is not None and sub.case_exact and sub.type in TEXT_TYPES:
                answers[(core, attr.name, sub.name)] = (
                    lambda value, related=related: {id for id in related(value) if id in table}, None)
        return answers

    def find(self, id: str) -> Resource | None:
        """The resource with `id` in any resource type (member ids name Users or Groups)."""
        for table in self.tables.values():
            if id in table:
                return table[id]
        return None

    def conflict(self, resource_type: str, id: str, data: dict) -> str | None:
        """The name of the first unique attribute whose value in `data` another resource holds."""
        for index in self.indexes[resource_type].values():
            if index.attribute.unique and index.taken_by_other(id, data):
                return index.attribute.name
        return None

    def put(self, resource: Resource) -> None:
        """Insert or replace `resource`, keeping the indexes and the creation order in step;
        index keys that did not change are not touched (a title PATCH moves no index)."""
        name = resource.resource_type
        table = self.tables[name]
        old = table.get(resource.id)
        same_data = old is not None and old.data is resource.data
        for index in () if same_data else self._indexes_of(name):
            if old is None:
                index.add(resource.id, index.keys(resource.data))
                continue
            if index.unchanged(old.data, resource.data):
                continue
            old_keys, new_keys = index.keys(old.data), index.keys(resource.data)
            if old_keys != new_keys:
                index.remove(resource.id, old_keys - new_keys)
                index.add(resource.id, new_keys - old_keys)
        if old is None or old.created != resource.created:
            if old is not None:
                self._forget_created(old)
            key = self._created_key(resource)
            self.created_keys[name][resource.id] = key
            insort(self.created[name], (key, resource.id))
        table[resource.id] = resource
        self._documents.pop(resource.id, None)
        self._orders.clear()

    def remove(self, resource: Resource) -> None:
        self._orders.clear()
        self._documents.pop(resource.id, None)
        name = resource.resource_type
        for index in self._indexes_of(name):
            index.remove(resource.id, index.keys(resource.data))
        self._forget_created(resource)
        del self.tables[name][resource.id]
        self.membership.forget(resource.id)

    def _indexes_of(self, resource_type: str) -> list[EqualityIndex | SortedIndex | TrigramIndex]:
        return [*self.indexes[resource_type].values(), *self.sorted[resource_type].values(),
                *self.trigrams[resource_type].values()]

    def _created_key(self, resource: Resource) -> tuple:
        """The reference default-order key: `meta.created` as the document shows it (to the
        millisecond), parsed back; computed once per write instead of once per query."""
        rt = self.catalog.resource_type(resource.resource_type)
        return created_key(sort_key({"meta": {"created": format_datetime(resource.created)}}, None, rt, self.catalog))

    def _forget_created(self, resource: Resource) -> None:
        rows = self.created[resource.resource_type]
        key = self.created_keys[resource.resource_type].pop(resource.id)
        position = bisect_left(rows, (key, resource.id))
        if position < len(rows) and rows[position][1] == resource.id:
            del rows[position]

    def document(self, stored: Resource, base_url: str) -> dict:
        """`stored.document` located under `base_url` (no members / groups), built once until the next write
        of that resource. Shared: only for reading (filters, sort keys)."""
        by_url = self._documents.setdefault(stored.id, {})
        document = by_url.get(base_url)
        if document is None:
            document = by_url[base_url] = stored.document(self.catalog.locator(base_url))
        return document

    def cached(self, key: tuple) -> list[Row] | None:
        """The rows `ordered` computed for `key` since the last write, if any."""
        return self._orders.get(key)

    def ordered(self, key: tuple, build: Callable[[], list[Row]]) -> list[Row]:
        """The rows `build()` gives for `key`, computed once until the next write: paging
        through an unchanged directory sorts and filters it once, not once per page."""
        rows = self._orders.get(key)
        if rows is None:
            rows = build()
            if len(self._orders) >= MAX_ORDERS:
                self._orders.clear()
            self._orders[key] = rows
        return rows

    def lookup(self, resource_type: str, filter: Filter, max_scan: int | None = None) -> Found | None:
        """Ids that may match `filter`, found through the indexes, and whether they are exactly
        the matches; None means "only a scan can tell".

        With `max_scan`, a filter that would have the evaluator examine more than `max_scan`
        resources raises `ScanTooLarge` before any is: the candidates of an inexact plan
        (bounded before they are combined), or every resource of the type when no index
        narrows. An exact answer is examined by nobody, so it is never refused.
        """
        plan = self.plan(resource_type, filter)
        if max_scan is not None:
            examined = len(self.tables[resource_type]) if plan is None else 0 if plan.exact else plan.bound()
            if examined > max_scan:
                raise ScanTooLarge(resource_type, max_scan)
        return None if plan is None else (plan.ids(), plan.exact)

    def plan(self, resource_type: str, filter: Filter, inside: bool = False) -> Plan | None:
        """How the indexes narrow `filter`, or None when they cannot ("only a scan can tell").

        Exact means the evaluator would say the same for every resource: a string `eq` / `sw`
        on an indexed path, and `and` / `or` of exact answers, except `and` inside a value path
        (`emails[type eq "work" and value eq "x"]` needs both in one element). Trigram
        candidates are never exact. An `and` with one side planned is that side, inexact.
        """
        if isinstance(filter, Compare):
            return self._compare(resource_type, filter)
        if isinstance(filter, ValuePath):  # its paths are full (`emails.value`): same lookups
            return None if inside else self.plan(resource_type, filter.filter, True)
        if isinstance(filter, And):
            left = self.plan(resource_type, filter.left, inside)
            right = self.plan(resource_type, filter.right, inside)
            if left is None or right is None:
                narrowed = right if left is None else left
                return None if narrowed is None else replace(narrowed, exact=False)
            return Both(left, right, left.exact and right.exact and not inside)
        if isinstance(filter, Or):
            left = self.plan(resource_type, filter.left, inside)
            right = self.plan(resource_type, filter.right, inside)
            if left is None or right is None:
                return None
            return Either(left, right, left.exact and right.exact)
        return None

    def _compare(self, resource_type: str, compare: Compare) -> Plan | None:
        """An exact `eq` / `sw` answer where an index has one, else trigram candidates of a
        `co` / `sw` / `ew` whose pattern has a trigram."""
        path = compare.path
        key = (path.schema.lower(), path.attribute, path.sub_attribute)
        answer = self._answers[resource_type].get(key, (None, None))
        how = answer[0] if compare.op == EQ else answer[1] if compare.op == SW else None
        index = self.trigrams[resource_type].get(key) if compare.op in SUBSTRING_OPERATORS else None
        if how is None and index is None:
            return None
        if not isinstance(compare.value, str):
            return Answer(set())  # a string attribute matches no other literal
        if how is not None:
            return Answer(how(compare.value))
        postings = index.postings(compare.value) if index is not None else None
        return None if postings is None else Trigrams(tuple(postings))

    # Kept for callers that only want to narrow: the ids, or None for "scan them all".
    def candidates(self, resource_type: str, filter: Filter | None) -> set[str] | None:
        found = None if filter is None else self.lookup(resource_type, filter)
        return None if found is None else found[0]
