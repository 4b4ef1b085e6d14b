"""Equality indexes: which attributes the memory backend can look up without a scan.

Every top-level attribute whose definition says `uniqueness: server` (or `global`) gets a
unique index, the store's own uniqueness constraint; `externalId` gets a plain one, because
identity providers look users up by it. Both answer `attr eq "value"` filters. The `value` of
every element of `emails` is indexed too (Entra ID looks users up by
`emails[type eq "work"].value eq "..."`): one resource holds several keys there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scimflask.schema.catalog import COMPLEX, GLOBAL, SERVER, Catalog, ResourceType

UNIQUE = (SERVER, GLOBAL)
# Looked up by identity providers on every sync, but not unique.
LOOKUP_ATTRIBUTES = ("externalId",)
# Sub-attributes of multi-valued core attributes looked up the same way.
ELEMENT_LOOKUPS = (("emails", "value"),)


def fold(value: str) -> str:
    """The case-insensitive form of a string, as compared for uniqueness and `eq`."""
    return value.lower()


@dataclass(frozen=True)
class IndexedAttribute:
    """One indexed attribute (top-level, or `sub` of every element of a multi-valued one):
    where it lives in `Resource.data` and how it compares."""

    schema: str
    name: str
    case_exact: bool
    unique: bool
    core: bool
    sub: str | None = None

    def value(self, data: dict) -> object:
        holder = data if self.core else data.get(self.schema)
        return holder.get(self.name) if isinstance(holder, dict) else None

    def keys(self, data: dict) -> set[object]:
        """The index keys `data` holds (several for the elements of a multi-valued attribute)."""
        value = self.value(data)
        if self.sub is None:
            values = [value]
        else:
            elements = value if isinstance(value, list) else []
            values = [element.get(self.sub) for element in elements if isinstance(element, dict)]
        return {key for key in map(self.key, values) if key is not None}

    def key(self, value: object) -> object:
        """The index key for `value`, or None when the value is not indexable."""
        if isinstance(value, str):
            return value if self.case_exact else fold(value)
        if isinstance(value, (bool, int, float)):
            return (type(value).__name__, value)
        return None


def indexed_attributes(catalog: Catalog, resource_type: ResourceType) -> tuple[IndexedAttribute, ...]:
    """The unique and lookup attributes of `resource_type`, read from the catalog."""
    found = []
    for urn in resource_type.schema_ids:
        core = not catalog.is_extension(resource_type, urn)
        for attr in catalog.attributes(resource_type, urn):
            if attr.name == "id" or attr.type == COMPLEX or attr.multi_valued:
                continue  # `id` is the storage key itself
            unique = attr.uniqueness in UNIQUE
            if unique or (core and attr.name in LOOKUP_ATTRIBUTES):
                found.append(IndexedAttribute(urn, attr.name, attr.case_exact, unique, core))
        for name, sub_name in ELEMENT_LOOKUPS if core else ():
            attr = catalog.top_level(resource_type, urn, name)
            sub = attr.sub_attribute(sub_name) if attr is not None and attr.multi_valued else None
            if sub is not None:
                found.append(IndexedAttribute(urn, attr.name, sub.case_exact, False, core, sub.name))
    return tuple(found)


@dataclass
class EqualityIndex:
    """Index key -> ids holding that value (a unique index holds at most one id per key)."""

    attribute: IndexedAttribute
    ids_by_key: dict[object, set[str]] = field(default_factory=dict)

    def add(self, id: str, data: dict) -> None:
        for key in self.attribute.keys(data):
            self.ids_by_key.setdefault(key, set()).add(id)

    def remove(self, id: str, data: dict) -> None:
        for key in self.attribute.keys(data):
            ids = self.ids_by_key.get(key)
            if ids is not None:
                ids.discard(id)
                if not ids:
                    del self.ids_by_key[key]

    def lookup(self, value: object) -> set[str] | None:
        """Ids that may equal the string `value`, or None if only a scan can tell."""
        if not isinstance(value, str):
            return None
        return set(self.ids_by_key.get(self.attribute.key(value), ()))

    def taken_by_other(self, id: str, data: dict) -> bool:
        """Whether another resource already holds `data`'s value (the uniqueness check)."""
        key = self.attribute.key(self.attribute.value(data))
        return key is not None and bool(self.ids_by_key.get(key, set()) - {id})
