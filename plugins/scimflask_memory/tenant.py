"""Everything one tenant owns in the memory backend: resources, indexes and memberships."""

from __future__ import annotations

from collections.abc import Callable

from scimflask.filter.ast import EQ, And, Compare, Filter, Or, ValuePath
from scimflask.model import Resource
from scimflask.schema.catalog import Catalog

from .indexes import EqualityIndex, indexed_attributes
from .membership import Membership

MAX_ORDERS = 16  # cached sort orders per tenant (one per sortBy / sortOrder / base URL seen)


class Tenant:
    """Resources per resource type, their equality indexes, and group memberships.

    Resources are stored with `members` and `groups` unset: membership lives in
    `self.membership` and is attached when a resource is read.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.tables: dict[str, dict[str, Resource]] = {}
        self.indexes: dict[str, dict[tuple[str, str, str | None], EqualityIndex]] = {}
        self.membership = Membership()
        # (resource type, sort, base URL) -> every resource's (sort key, resource), in order;
        # dropped by every write (a write of members always comes with a `put` of the group).
        self._orders: dict[tuple, list[tuple[tuple, Resource]]] = {}
        for rt in catalog.resource_types:
            self.tables[rt.name] = {}
            self.indexes[rt.name] = {
                (attr.schema.lower(), attr.name, attr.sub): EqualityIndex(attr)
                for attr in indexed_attributes(catalog, rt)
            }

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
        """Insert or replace `resource`, keeping the indexes in step."""
        table = self.tables[resource.resource_type]
        old = table.get(resource.id)
        for index in self.indexes[resource.resource_type].values():
            if old is not None:
                index.remove(old.id, old.data)
            index.add(resource.id, resource.data)
        table[resource.id] = resource
        self._orders.clear()

    def remove(self, resource: Resource) -> None:
        self._orders.clear()
        for index in self.indexes[resource.resource_type].values():
            index.remove(resource.id, resource.data)
        del self.tables[resource.resource_type][resource.id]
        self.membership.forget(resource.id)

    def ordered(self, key: tuple, build: Callable[[], list[tuple[tuple, Resource]]]
                ) -> list[tuple[tuple, Resource]]:
        """The rows `build()` gives for `key`, computed once until the next write: paging
        through an unchanged directory sorts it once, not once per page."""
        rows = self._orders.get(key)
        if rows is None:
            if len(self._orders) >= MAX_ORDERS:
                self._orders.clear()
            rows = self._orders[key] = build()
        return rows

    def candidates(self, resource_type: str, filter: Filter | None) -> set[str] | None:
        """Ids that may match `filter`, found through the indexes; None means "scan them all".

        Only narrows: the caller still evaluates the filter on every candidate.
        """
        if isinstance(filter, Compare):
            return self._equality_candidates(resource_type, filter)
        if isinstance(filter, ValuePath):  # its paths are full (`emails.value`): same lookups
            return self.candidates(resource_type, filter.filter)
        if isinstance(filter, And):
            left = self.candidates(resource_type, filter.left)
            right = self.candidates(resource_type, filter.right)
            if left is None or right is None:
                return right if left is None else left
            return left & right
        if isinstance(filter, Or):
            left = self.candidates(resource_type, filter.left)
            right = self.candidates(resource_type, filter.right)
            return None if left is None or right is None else left | right
        return None

    def _equality_candidates(self, resource_type: str, compare: Compare) -> set[str] | None:
        path = compare.path
        if compare.op != EQ or not isinstance(compare.value, str):
            return None
        rt = self.catalog.resource_type(resource_type)
        if path.attribute == "id" and path.sub_attribute is None and path.schema.lower() == rt.schema.lower():
            return {compare.value} if compare.value in self.tables[resource_type] else set()
        index = self.indexes[resource_type].get((path.schema.lower(), path.attribute, path.sub_attribute))
        return None if index is None else index.lookup(compare.value)
