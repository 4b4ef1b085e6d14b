"""Indexes: which attributes the memory backend can look up without a scan.

Equality indexes (a dict, `key -> ids`): every top-level attribute whose definition says
`uniqueness: server` (or `global`) gets a unique one, the store's own uniqueness constraint;
`externalId` gets a plain one, because identity providers look users up by it. The `value` of
every element of `emails` is indexed too (Entra ID looks users up by
`emails[type eq "work"].value eq "..."`): one resource holds several keys there.

Sorted indexes (`(key, id)` kept in order): the string attributes clients list by prefix
(`name.familyName sw "Fam1"`) answer `sw` and `eq` by bisecting, so a prefix listing costs
O(matches), not O(directory).

Trigram indexes (a dict, `trigram -> ids`): the attributes of `SUBSTRING_INDEXED` give `co`,
`sw` and `ew` of three characters or more their candidates, which the evaluator then checks.

Keys are taken from the values exactly as the reference evaluator reads them (lists flattened,
non-null values only), so an index answer for a string attribute is the evaluator's answer.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from operator import itemgetter

from scimflask.schema.catalog import (
    BINARY,
    COMPLEX,
    GLOBAL,
    REFERENCE,
    SERVER,
    STRING,
    Attribute,
    Catalog,
    ResourceType,
)
from scimflask.storage.substring import SUBSTRING_INDEXED, pattern_trigrams, value_trigrams

UNIQUE = (SERVER, GLOBAL)
# Looked up by identity providers on every sync, but not unique.
LOOKUP_ATTRIBUTES = ("externalId",)
# Sub-attributes of multi-valued core attributes looked up the same way.
ELEMENT_LOOKUPS = (("emails", "value"),)
# Core string attributes (name, sub-attribute) that get a sorted index for `sw` / `eq`.
SORTED_ATTRIBUTES = (("userName", None), ("displayName", None), ("externalId", None),
                     ("name", "familyName"), ("name", "givenName"), ("emails", "value"))
# Types the evaluator compares as strings (`compare_value`): only these are answered by index.
TEXT_TYPES = (STRING, REFERENCE, BINARY)
NO_IDS: frozenset[str] = frozenset()


def fold(value: str) -> str:
    """The case-insensitive form of a string, as compared for uniqueness and `eq`."""
    return value.lower()


@dataclass(frozen=True)
class IndexedAttribute:
    """One indexed attribute (top-level, or `sub` of each element of a complex one):
    where it lives in `Resource.data` and how it compares."""

    schema: str
    name: str
    case_exact: bool
    unique: bool
    core: bool
    sub: str | None = None
    text: bool = True  # compared as a string by the evaluator: index answers are exact

    def value(self, data: dict) -> object:
        holder = data if self.core else data.get(self.schema)
        return holder.get(self.name) if isinstance(holder, dict) else None

    def values(self, data: dict) -> list:
        """The non-null values at this path, flattened like the evaluator's `values_at`."""
        raw = self.value(data)
        items = raw if isinstance(raw, list) else [raw]
        if self.sub is not None:
            items = [item.get(self.sub) for item in items if isinstance(item, dict)]
        flat: list = []
        for item in items:
            if isinstance(item, list):
                flat.extend(item)
            elif item is not None:
                flat.append(item)
        return flat

    def keys(self, data: dict) -> set[object]:
        """The equality-index keys `data` holds (several for the elements of a multi-valued one)."""
        return {key for key in map(self.key, self.values(data)) if key is not None}

    def text_keys(self, data: dict) -> set[str]:
        """The sorted-index keys: string values only (nothing else matches `sw` or a string `eq`)."""
        return {value if self.case_exact else fold(value) for value in self.values(data) if isinstance(value, str)}

    def key(self, value: object) -> object:
        """The index key for `value`, or None when the value is not indexable."""
        if isinstance(value, str):
            return value if self.case_exact else fold(value)
        if isinstance(value, (bool, int, float)):
            return (type(value).__name__, value)
        return None


def indexed_attributes(catalog: Catalog, resource_type: ResourceType) -> tuple[IndexedAttribute, ...]:
    """The unique and lookup attributes of `resource_type` (equality indexes), from the catalog."""
    found = []
    for urn in resource_type.schema_ids:
        core = not catalog.is_extension(resource_type, urn)
        for attr in catalog.attributes(resource_type, urn):
            if attr.name == "id" or attr.type == COMPLEX or attr.multi_valued:
                continue  # `id` is the storage key itself
            unique = attr.uniqueness in UNIQUE
            if unique or (core and attr.name in LOOKUP_ATTRIBUTES):
                found.append(IndexedAttribute(urn, attr.name, attr.case_exact, unique, core,
                                              text=attr.type in TEXT_TYPES))
        for name, sub_name in ELEMENT_LOOKUPS if core else ():
            parent = catalog.top_level(resource_type, urn, name)
            sub = parent.sub_attribute(sub_name) if parent is not None and parent.multi_valued else None
            if parent is not None and sub is not None:
                found.append(IndexedAttribute(urn, parent.name, sub.case_exact, False, core, sub.name,
                                              text=sub.type in TEXT_TYPES))
    return tuple(found)


def sorted_attributes(catalog: Catalog, resource_type: ResourceType) -> tuple[IndexedAttribute, ...]:
    """The string attributes of `SORTED_ATTRIBUTES` that `resource_type`'s core schema defines."""
    found = (_core_text(catalog, resource_type, name, sub) for name, sub in SORTED_ATTRIBUTES)
    return tuple(attr for attr in found if attr is not None)


def substring_attributes(catalog: Catalog, resource_type: ResourceType) -> tuple[IndexedAttribute, ...]:
    """The string attributes of `SUBSTRING_INDEXED` that `resource_type`'s core schema defines."""
    paths = (path.partition(".") for path in SUBSTRING_INDEXED.get(resource_type.name, ()))
    found = (_core_text(catalog, resource_type, name, sub or None) for name, _, sub in paths)
    return tuple(attr for attr in found if attr is not None)


def _core_text(catalog: Catalog, resource_type: ResourceType, name: str,
               sub_name: str | None) -> IndexedAttribute | None:
    """Core attribute `name` (or its `sub_name`) when the evaluator compares it as a string."""
    urn = resource_type.schema
    attr = catalog.top_level(resource_type, urn, name)
    if attr is None:
        return None
    definition: Attribute | None = attr if sub_name is None else attr.sub_attribute(sub_name)
    if definition is None or definition.type not in TEXT_TYPES:
        return None
    return IndexedAttribute(urn, attr.name, definition.case_exact, False, True,
                            None if sub_name is None else definition.name)


def _post(ids_by_key: dict, id: str, keys: Iterable) -> None:
    for key in keys:
        ids_by_key.setdefault(key, set()).add(id)


def _unpost(ids_by_key: dict, id: str, keys: Iterable) -> None:
    """Drop `id` from the postings of `keys`, and a posting left empty with it."""
    for key in keys:
        ids = ids_by_key.get(key)
        if ids is not None:
            ids.discard(id)
            if not ids:
                del ids_by_key[key]


@dataclass
class EqualityIndex:
    """Index key -> ids holding that value (a unique index holds at most one id per key)."""

    attribute: IndexedAttribute
    ids_by_key: dict[object, set[str]] = field(default_factory=dict)

    def keys(self, data: dict) -> set:
        return self.attribute.keys(data)

    def add(self, id: str, keys: set) -> None:
        _post(self.ids_by_key, id, keys)

    def remove(self, id: str, keys: set) -> None:
        _unpost(self.ids_by_key, id, keys)

    def unchanged(self, old: dict, new: dict) -> bool:
        """Cheap proof that `old` and `new` hold the same keys: the same string (or none).
        (`1 == True`, so equal numbers may still be different keys.)"""
        before, after = self.attribute.value(old), self.attribute.value(new)
        return before == after and type(before) is type(after) and (before is None or type(before) is str)

    def equal(self, value: str) -> set[str]:
        """Ids holding a value equal to the string `value` (a new set)."""
        return set(self.ids_by_key.get(self.attribute.key(value), ()))

    def taken_by_other(self, id: str, data: dict) -> bool:
        """Whether another resource already holds `data`'s value (the uniqueness check)."""
        key = self.attribute.key(self.attribute.value(data))
        holders = self.ids_by_key.get(key, ()) if key is not None else ()
        return len(holders) > 1 or (len(holders) == 1 and id not in holders)


class SortedKeys:
    """A sorted set of tuples kept in blocks of at most `2 * LOAD`, so an insert or a removal
    shifts one short block instead of one list as long as the directory."""

    LOAD = 256

    def __init__(self) -> None:
        self._blocks: list[list[tuple]] = []
        self._maxes: list[tuple] = []  # the last item of each block

    def __len__(self) -> int:
        return sum(map(len, self._blocks))

    def add(self, item: tuple) -> None:
        if not self._blocks:
            self._blocks.append([item])
            self._maxes.append(item)
            return
        i = bisect_left(self._maxes, item)
        if i == len(self._maxes):  # beyond every item: append to the last block
            i -= 1
            self._blocks[i].append(item)
            self._maxes[i] = item
        else:
            block = self._blocks[i]
            j = bisect_left(block, item)
            if j < len(block) and block[j] == item:
                return
            block.insert(j, item)
        block = self._blocks[i]
        if len(block) > 2 * self.LOAD:
            self._blocks[i:i + 1] = [block[:self.LOAD], block[self.LOAD:]]
            self._maxes[i:i + 1] = [block[self.LOAD - 1], block[-1]]

    def discard(self, item: tuple) -> None:
        i = bisect_left(self._maxes, item)
        if i == len(self._maxes):
            return
        block = self._blocks[i]
        j = bisect_left(block, item)
        if j < len(block) and block[j] == item:
            del block[j]
            if block:
                self._maxes[i] = block[-1]
            else:
                del self._blocks[i], self._maxes[i]

    def ids_while(self, start: tuple, holds: Callable[[str], bool]) -> set[str]:
        """The second items (ids) of the items `>= start` whose first item (the key) `holds`,
        up to the first that does not: `holds` must be true on a prefix of that run (keys
        starting with a prefix, or equal to a value, are contiguous in key order).

        Whole blocks are taken at C speed; only the block where the run ends is bisected.
        """
        found: set[str] = set()
        i = bisect_left(self._maxes, start)
        first = True
        for block in self._blocks[i:]:
            lo = bisect_left(block, start) if first else 0
            first = False
            if holds(block[-1][0]):
                found.update(map(_second, block[lo:]))
                continue
            end = bisect_left(block, True, lo=lo, key=lambda item: not holds(item[0]))
            found.update(map(_second, block[lo:end]))
            break
        return found


_second = itemgetter(1)


@dataclass
class SortedIndex:
    """`(key, id)` for every string value of one attribute, in key order: answers `sw` and `eq`
    with the evaluator's meaning (lower-cased on both sides unless caseExact)."""

    attribute: IndexedAttribute
    entries: SortedKeys = field(default_factory=SortedKeys)

    def keys(self, data: dict) -> set:
        return self.attribute.text_keys(data)

    def add(self, id: str, keys: set) -> None:
        for key in keys:
            self.entries.add((key, id))

    def remove(self, id: str, keys: set) -> None:
        for key in keys:
            self.entries.discard((key, id))

    def unchanged(self, old: dict, new: dict) -> bool:
        """Cheap proof that `old` and `new` hold the same keys: equal values hold equal strings
        at the same places (a string equals only a string)."""
        return self.attribute.value(old) == self.attribute.value(new)

    def _literal(self, value: str) -> str:
        return value if self.attribute.case_exact else fold(value)

    def starting_with(self, value: str) -> set[str]:
        """Ids holding a string value that starts with `value` (`sw ""` matches every string)."""
        prefix = self._literal(value)
        return self.entries.ids_while((prefix,), lambda key: key.startswith(prefix))

    def equal(self, value: str) -> set[str]:
        literal = self._literal(value)
        return self.entries.ids_while((literal,), literal.__eq__)


@dataclass
class TrigramIndex:
    """Trigram -> ids holding it in a string value of one attribute (`substring.trigrams`, so
    lower-cased whatever the case rule): a value holding a pattern holds its trigrams, so the
    postings of a pattern's trigrams intersect to a superset of the `co` / `sw` / `ew` matches."""

    attribute: IndexedAttribute
    ids_by_gram: dict[str, set[str]] = field(default_factory=dict)

    def keys(self, data: dict) -> set[str]:
        return value_trigrams(value for value in self.attribute.values(data) if isinstance(value, str))

    def add(self, id: str, keys: set) -> None:
        _post(self.ids_by_gram, id, keys)

    def remove(self, id: str, keys: set) -> None:
        _unpost(self.ids_by_gram, id, keys)

    def unchanged(self, old: dict, new: dict) -> bool:
        """Cheap proof that `old` and `new` hold the same trigrams: equal values at the path."""
        return self.attribute.value(old) == self.attribute.value(new)

    def postings(self, pattern: str) -> list[AbstractSet[str]] | None:
        """The posting of each trigram that every value holding `pattern` holds, for the
        caller to intersect (shared: only for reading); None when no trigram narrows. Trigrams
        fold case, so one posting list serves both case rules."""
        grams = pattern_trigrams(pattern)
        if grams is None:
            return None
        return [self.ids_by_gram.get(gram, NO_IDS) for gram in grams]
