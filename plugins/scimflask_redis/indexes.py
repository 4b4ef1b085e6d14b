"""Which attributes the Redis backend indexes, and the index entries a resource occupies.

Three kinds of index, all read from the catalog so custom schemas get them too:

- unique (`u:` hashes): every top-level attribute with `uniqueness: server|global`
  (userName, Group displayName); folded value -> id. The store's uniqueness constraint, and the
  O(1) answer to `attr eq "v"`.
- equality (`i:` sets): `externalId` and `emails.value` where the resource type has them;
  folded value -> ids. Answers `attr eq "v"` in O(1) (+ the matches).
- ordered (`o:` sorted sets, lexicographic): meta.created, meta.lastModified, userName,
  displayName; one entry per resource, so paging and sorting on them cost O(log n + page),
  and `sw` on userName / displayName is one `ZRANGEBYLEX` over the prefix's range.
- prefix (`l:` sorted sets, lexicographic, like the ordered ones): externalId,
  name.familyName, name.givenName, emails.value; one entry per (folded) value, so `sw` and
  `eq` on them are one `ZRANGEBYLEX`. Added later than the others, so a tenant's prefix
  indexes are trusted only while its ready marker (`keys.prefix_ready`) holds `PREFIX_SIGNATURE`:
  set by the first create into an empty type, or by `RedisStorage.rebuild_indexes` for data
  written before them.
- trigram (`s:` sets): the paths of `SUBSTRING_INDEXED`; one set per (path, folded
  trigram) of resource numbers (short, unlike ids: `keys.trigram_numbers` maps them back), so
  `co` / `sw` / `ew` with 3 characters or more intersect a few sets (`SINTER`, O(smallest set
  x trigrams)) and check the candidates. Trusted, like the prefix
  indexes, only while `keys.trigram_ready` holds `TRIGRAM_SIGNATURE`. A resource's trigrams are
  stored with it (`xt`, packed compactly: they are many) rather than as one entry each.

A resource's entries are computed here, in Python, and stored with the resource; the Lua
scripts remove exactly the stored entries and add the new ones in one step, so an index can never
point at a missing or stale resource.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from scimflask.filter.ast import AttrPath
from scimflask.model import Resource, format_datetime
from scimflask.schema.catalog import COMPLEX, GLOBAL, SERVER, Catalog, ResourceType
from scimflask.storage.substring import SUBSTRING_INDEXED, pattern_trigrams, value_trigrams

from . import keys

UNIQUE = (SERVER, GLOBAL)
# Looked up by identity providers on every sync; not unique.
EQUALITY_PATHS = ("externalId", "emails.value")
# Sort orders kept ready; `meta.*` are always there, the rest where the type has them.
ORDERED_PATHS = ("meta.created", "meta.lastModified", "userName", "displayName")
# `sw` (and `eq`) answered by a lexicographic range; userName / displayName use their ordered index.
PREFIX_PATHS = ("externalId", "name.familyName", "name.givenName", "emails.value")
PREFIX_SIGNATURE = "1:" + ",".join(PREFIX_PATHS)  # what a complete prefix index is marked with
# What complete trigram indexes are marked with: a change of the indexed paths (of any type), of
# how trigrams fold or of what the sets hold (the leading number; 3: resource numbers, not ids)
# makes every marker stale, so queries scan until `rebuild_indexes` has run.
TRIGRAM_SIGNATURE = "3:" + ";".join(f"{name}={','.join(paths)}" for name, paths in sorted(SUBSTRING_INDEXED.items()))
MAX_PATTERN_TRIGRAMS = 32  # trigram sets one pattern intersects at most (any subset is a superset)

SEPARATOR = b"\x00\x00"  # ends an ascending entry's value
DESC_SEPARATOR = b"\xff\xff"  # ends a descending entry's (inverted) value
_PRESENT = b"\x01"
_MISSING = b"\x02"


def fold(value: str) -> str:
    """The case-insensitive form of a string, as the reference compares it (`str.lower()`)."""
    return value.lower()


def _encode_value(value: str | None) -> bytes:
    """Order-preserving bytes of a sort value; missing values sort after every value.

    NUL is escaped (`\\0` -> `\\0\\1`) so that `SEPARATOR` always ends the value and a shorter
    string sorts before its extensions, exactly as Python compares strings (UTF-8 keeps code
    point order).
    """
    if value is None:
        return _MISSING
    return _PRESENT + value.encode("utf-8").replace(b"\x00", b"\x00\x01")


def prefix_range(prefix: str) -> tuple[bytes, bytes]:
    """`ZRANGEBYLEX` bounds of the ascending entries whose value starts with `prefix` (UTF-8
    never holds the byte 0xFF, so every such entry sorts below `prefix` + 0xFF)."""
    encoded = _encode_value(prefix)
    return b"[" + encoded, b"(" + encoded + b"\xff"


def value_range(value: str) -> tuple[bytes, bytes]:
    """`ZRANGEBYLEX` bounds of the ascending entries whose value is exactly `value` (the
    separator never occurs inside an encoded value)."""
    encoded = _encode_value(value) + SEPARATOR
    return b"[" + encoded, b"(" + encoded + b"\xff"


def _invert(raw: bytes) -> bytes:
    return bytes(255 - b for b in raw)


def sort_entry(value: str | None, id: str, descending: bool = False) -> bytes:
    """The ordered-index member for `value` and `id`.

    Ascending entries order by value, then id; descending ones invert the value bytes (so a
    larger value sorts first and missing values come first) but keep the id as is, so ties stay
    in ascending id order, as the reference sort wants.
    """
    encoded = _encode_value(value)
    if descending:
        return _invert(encoded) + DESC_SEPARATOR + id.encode("utf-8")
    return encoded + SEPARATOR + id.encode("utf-8")


def parse_entry(entry: bytes, descending: bool = False) -> tuple[str | None, str]:
    """(value, id) of an ordered-index member."""
    encoded, _, id = entry.partition(DESC_SEPARATOR if descending else SEPARATOR)
    if descending:
        encoded = _invert(encoded)
    value = None if encoded == _MISSING else encoded[1:].replace(b"\x00\x01", b"\x00").decode("utf-8")
    return value, id.decode("utf-8")


@dataclass(frozen=True)
class IndexedPath:
    """An attribute (or sub-attribute) path inside `Resource.data` and how it compares."""

    path: AttrPath
    name: str  # the key-space name: "userName", "emails.value", "meta.created", ...
    core: bool
    case_exact: bool

    def values(self, data: dict) -> Iterator[object]:
        """Every value at this path (each element of a multi-valued attribute)."""
        holder = data if self.core else data.get(self.path.schema)
        if not isinstance(holder, dict):
            return
        found = holder.get(self.path.attribute)
        for item in found if isinstance(found, list) else [found]:
            if self.path.sub_attribute is not None:
                item = item.get(self.path.sub_attribute) if isinstance(item, dict) else None
            if item is not None:
                yield item

    def key(self, value: object) -> str | None:
        """The folded index key of one value, or None when the value is not indexable."""
        if not isinstance(value, str):
            return None
        return value if self.case_exact else fold(value)


class TypeIndexes:
    """The indexes of one resource type and the entries a resource occupies in them."""

    def __init__(self, catalog: Catalog, resource_type: ResourceType) -> None:
        self.resource_type = resource_type.name
        self.core_schema = resource_type.schema
        self.unique: tuple[IndexedPath, ...] = tuple(_unique_paths(catalog, resource_type))
        self.equality: dict[AttrPath, IndexedPath] = {
            p.path: p for p in (_resolve(catalog, resource_type, name) for name in EQUALITY_PATHS) if p
        }
        self.ordered: dict[AttrPath, IndexedPath] = {
            p.path: p for p in (_resolve(catalog, resource_type, name) for name in ORDERED_PATHS) if p
        }
        self.unique_by_path: dict[AttrPath, IndexedPath] = {p.path: p for p in self.unique}
        self.prefix: dict[AttrPath, IndexedPath] = {
            p.path: p for p in (_resolve(catalog, resource_type, name) for name in PREFIX_PATHS) if p
        }
        self.substring: dict[AttrPath, IndexedPath] = {
            p.path: p for p in (_resolve(catalog, resource_type, name)
                                for name in SUBSTRING_INDEXED.get(resource_type.name, ())) if p
        }

    # -- key names ----------------------------------------------------------------------
    def unique_key(self, indexed: IndexedPath) -> str:
        return keys.unique(self.resource_type, indexed.name)

    def equality_key(self, indexed: IndexedPath, folded: str) -> str:
        return keys.equality(self.resource_type, indexed.name, folded)

    def ordered_key(self, indexed: IndexedPath, descending: bool = False) -> str:
        return keys.ordered(self.resource_type, indexed.name, descending)

    def prefix_key(self, indexed: IndexedPath) -> str:
        return keys.prefix(self.resource_type, indexed.name)

    def trigram_prefix(self, indexed: IndexedPath) -> str:
        """What the trigram set keys of `indexed` start with (the trigram follows)."""
        return keys.trigram(self.resource_type, indexed.name)

    @property
    def ready_key(self) -> str:
        """The marker saying this type's prefix indexes cover every resource of the tenant."""
        return keys.prefix_ready(self.resource_type)

    @property
    def trigram_ready_key(self) -> str:
        """The marker saying this type's trigram indexes cover every resource of the tenant."""
        return keys.trigram_ready(self.resource_type)

    @property
    def default_order(self) -> IndexedPath:
        return self.ordered[AttrPath(self.core_schema, "meta", "created")]

    # -- entries ------------------------------------------------------------------------
    def data_entries(self, resource: Resource) -> dict:
        """Entries derived from `data`: replaced whenever the data is."""
        unique = []
        for indexed in self.unique:
            for value in indexed.values(resource.data):
                folded = indexed.key(value)
                if folded is not None:
                    unique.append([self.unique_key(indexed), folded, indexed.name])
        sets = sorted({
            self.equality_key(indexed, folded)
            for indexed in self.equality.values()
            for folded in map(indexed.key, indexed.values(resource.data)) if folded is not None
        })
        ordered = [entry for indexed in self.ordered.values() if indexed.path.attribute != "meta"
                   for entry in self._ordered_entries(indexed, resource)]
        for indexed in self.prefix.values():
            key = self.prefix_key(indexed)
            folded = {indexed.key(value) for value in indexed.values(resource.data)} - {None}
            ordered += [[key, sort_entry(value, resource.id)] for value in sorted(folded)]
        return {"u": unique, "s": sets, "z": ordered}

    def data_trigrams(self, resource: Resource) -> list[tuple[str, list[str]]]:
        """(trigram key prefix, sorted trigrams) per indexed path that has any: the `s:` sets
        the resource belongs to. Derived from `data` only, like `data_entries`."""
        found = []
        for indexed in self.substring.values():
            grams = value_trigrams(v for v in indexed.values(resource.data) if isinstance(v, str))
            if grams:
                found.append((self.trigram_prefix(indexed), sorted(grams)))
        return found

    def meta_entries(self, resource: Resource, sub_attribute: str) -> dict:
        """The entry of `meta.created` or `meta.lastModified` (kept apart: they change apart)."""
        indexed = self.ordered[AttrPath(self.core_schema, "meta", sub_attribute)]
        return {"u": [], "s": [], "z": self._ordered_entries(indexed, resource)}

    def _ordered_entries(self, indexed: IndexedPath, resource: Resource) -> list:
        value = self.sort_value(indexed, resource)
        return [[self.ordered_key(indexed, descending), sort_entry(value, resource.id, descending)]
                for descending in (False, True)]

    def sort_value(self, indexed: IndexedPath, resource: Resource) -> str | None:
        """The value the reference sort compares, folded when the attribute is not caseExact."""
        if indexed.path.attribute == "meta":  # as `Resource.document` formats it
            sub = indexed.path.sub_attribute
            return format_datetime(resource.created if sub == "created" else resource.last_modified)
        values = [indexed.key(v) for v in indexed.values(resource.data)]
        present = [v for v in values if v is not None]
        return present[0] if present else None


def search_trigrams(indexed: IndexedPath, pattern: str) -> list[str] | None:
    """The trigrams whose sets hold every resource with a value that contains `pattern` by
    the attribute's case rule, at most `MAX_PATTERN_TRIGRAMS` spread over the sorted set; None
    when none is usable (a pattern under three characters)."""
    grams = pattern_trigrams(pattern)
    if grams is None:
        return None
    ordered = sorted(grams)
    step = -(-len(ordered) // MAX_PATTERN_TRIGRAMS)
    return ordered[::step]


def _resolve(catalog: Catalog, resource_type: ResourceType, name: str) -> IndexedPath | None:
    ref = catalog.resolve(resource_type, name)
    if ref is None or ref.definition.type == COMPLEX:
        return None
    sub = ref.sub_attribute.name if ref.sub_attribute else None
    return IndexedPath(
        AttrPath(ref.schema, ref.attribute.name, sub),
        ref.attribute.name if sub is None else f"{ref.attribute.name}.{sub}",
        core=not catalog.is_extension(resource_type, ref.schema),
        case_exact=ref.definition.case_exact,
    )


def _unique_paths(catalog: Catalog, resource_type: ResourceType) -> Iterator[IndexedPath]:
    for urn in resource_type.schema_ids:
        core = not catalog.is_extension(resource_type, urn)
        for attr in catalog.attributes(resource_type, urn):
            if attr.name == "id" or attr.type == COMPLEX or attr.uniqueness not in UNIQUE:
                continue  # `id` is the resource key itself
            name = attr.name if core else f"{urn}:{attr.name}"
            yield IndexedPath(AttrPath(urn, attr.name), name, core, attr.case_exact)
