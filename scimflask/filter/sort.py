"""The reference sort order (RFC 7644 §3.4.2.3) every backend must reproduce.

- Order by the value of the `sortBy` attribute, then by `id` ascending as the tie-break
  (descending reverses the value order only; the `id` tie-break stays ascending).
- Resources without a value sort last when ascending and first when descending (§3.4.2.3:
  "ordered last if ascending and first if descending").
- Strings, references and binaries with caseExact false compare by `str.lower()` (SQL
  `lower()` can do the same); caseExact strings by code point.
- dateTime values compare as instants; integers and decimals numerically; false < true.
- Multi-valued attributes sort by the value of the primary element, else of the first element
  (§3.4.2.3); when that element has no value the resource counts as having none.
- A stored value of the wrong type (bad data) counts as missing.
- Without `sortBy` (`sort` None): by `meta.created` ascending, then `id`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..schema.catalog import (
    BINARY,
    BOOLEAN,
    DATETIME,
    DECIMAL,
    INTEGER,
    REFERENCE,
    STRING,
    Attribute,
    Catalog,
    ResourceType,
)
from .ast import AttrPath
from .evaluate import container_of, parse_datetime
from .path import definition_of, parent_of

if TYPE_CHECKING:
    from ..model import Sort


def sort_value(document: dict, path: AttrPath, resource_type: ResourceType, catalog: Catalog) -> object:
    """The comparable value `document` sorts by at `path`, or None when it has none.

    Strings come back lower-cased when caseExact is false, dateTimes as aware UTC datetimes.
    """
    parent = parent_of(catalog, resource_type, path)
    raw = container_of(document, path, resource_type, catalog).get(path.attribute)
    if parent.multi_valued:
        raw = _primary_or_first(raw)
    if path.sub_attribute is not None:
        raw = raw.get(path.sub_attribute) if isinstance(raw, dict) else None
    return _comparable(raw, definition_of(catalog, resource_type, path))


def sort_key(document: dict, sort: Sort | None, resource_type: ResourceType, catalog: Catalog) -> tuple:
    """The attribute part of the order: `(0, value)`, or `(1,)` when the value is missing.

    Sorting by this key ascending (or reversed for a descending `sort`), stably over documents
    already in `id` order, gives the reference order; `sort_documents` does exactly that. With
    `sort` None the key is `meta.created`.
    """
    value: object
    if sort is None:
        value = parse_datetime(document.get("meta", {}).get("created"))
    else:
        value = sort_value(document, sort.path, resource_type, catalog)
    return (1,) if value is None else (0, value)


def sort_documents(documents: Iterable[dict], sort: Sort | None, resource_type: ResourceType,
                   catalog: Catalog) -> list[dict]:
    """`documents` in the reference order (see the module docstring)."""
    by_id = sorted(documents, key=lambda document: str(document.get("id", "")))
    descending = sort is not None and sort.descending
    return sorted(by_id, key=lambda document: sort_key(document, sort, resource_type, catalog),
                  reverse=descending)


def _primary_or_first(raw: object) -> object:
    if not isinstance(raw, list):
        return raw
    for item in raw:
        if isinstance(item, dict) and item.get("primary") is True:
            return item
    return raw[0] if raw else None


def _comparable(value: object, definition: Attribute) -> object:
    kind = definition.type
    if kind in (STRING, REFERENCE, BINARY):
        if not isinstance(value, str):
            return None
        return value if definition.case_exact else value.lower()
    if kind == BOOLEAN:
        return value if isinstance(value, bool) else None
    if kind in (INTEGER, DECIMAL):
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if kind == DATETIME:
        return parse_datetime(value)
    return None
