"""The reference evaluator: what a bound filter means, over plain SCIM documents.

The in-memory backend uses this directly, and every other backend is tested against it with
random users and random filters, so each rule below is the contract:

- Documents are full SCIM JSON (`Resource.document()`): canonical attribute names, extension
  attributes under their schema URN, `meta.created` etc. as ISO 8601 strings.
- Strings, references and binaries compare with `caseExact` from the schema; when it is false,
  both sides are lower-cased with `str.lower()` (so SQL `lower()` can do the same), for every
  operator including `co`/`sw`/`ew` and ordering. Ordering of strings is by code point.
- dateTime values compare as instants (offsets, `Z`, fractions; a value without offset is UTC).
- integer and decimal compare numerically; booleans only with eq/ne.
- A multi-valued attribute (or a sub-attribute of one, `emails.value`) matches when ANY of its
  values matches.
- `ne` is exactly `not eq`: it is true when no value equals the literal, in particular when
  the attribute is missing (RFC 7643 §2.5: unassigned is a state that no literal equals).
- `pr` is true for a non-null value that is not "" nor an empty list; a complex value is present
  when at least one of its sub-values is (RFC 7644 §3.4.2.2, "a non-empty node").
- `attr[filter]` matches when one single element satisfies the whole inner filter.
- A stored value of the wrong type (bad data) matches no comparison.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

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
from .ast import NE, And, AttrPath, Compare, Filter, Literal, Not, Or, Present, ValuePath
from .path import definition_of

_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))?"
)

_ORDER: dict[str, Callable[[object, object], bool]] = {
    "eq": lambda a, b: a == b,
    "gt": lambda a, b: a > b,  # type: ignore[operator]
    "ge": lambda a, b: a >= b,  # type: ignore[operator]
    "lt": lambda a, b: a < b,  # type: ignore[operator]
    "le": lambda a, b: a <= b,  # type: ignore[operator]
}
_SUBSTRING: dict[str, Callable[[str, str], bool]] = {
    "co": lambda a, b: b in a,
    "sw": lambda a, b: a.startswith(b),
    "ew": lambda a, b: a.endswith(b),
}


def parse_datetime(value: object) -> datetime | None:
    """An xsd:dateTime string (or datetime) as an aware UTC datetime, or None if invalid.

    Fractions beyond microseconds are truncated; a value without offset is taken as UTC.
    """
    if isinstance(value, datetime):
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    if not isinstance(value, str):
        return None
    match = _DATETIME.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    offset = timedelta(0)
    if sign:
        if int(off_h) > 23 or int(off_m) > 59:
            return None
        offset = timedelta(hours=int(off_h), minutes=int(off_m)) * (1 if sign == "+" else -1)
    try:
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro,
                        tzinfo=timezone(offset)).astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None


def is_present(value: object) -> bool:
    """`pr` for one value: not null, not "", not an empty list, not an all-empty complex."""
    if value is None:
        return False
    if isinstance(value, str):
        return value != ""
    if isinstance(value, list):
        return any(is_present(item) for item in value)
    if isinstance(value, dict):
        return any(is_present(item) for item in value.values())
    return True


def container_of(document: dict, path: AttrPath, resource_type: ResourceType, catalog: Catalog) -> dict:
    """The dict that holds `path.attribute`: the document, or its extension object."""
    if not catalog.is_extension(resource_type, path.schema):
        return document
    extension = document.get(path.schema)
    return extension if isinstance(extension, dict) else {}


def values_at(document: dict, path: AttrPath, resource_type: ResourceType, catalog: Catalog) -> list:
    """All non-null values at `path` in `document`, multi-valued attributes flattened.

    `emails.value` gives every email's value; `name` gives `[{...}]`; missing gives `[]`.
    """
    raw = container_of(document, path, resource_type, catalog).get(path.attribute)
    return _sub_values(raw, path.sub_attribute)


def _sub_values(raw: object, sub: str | None) -> list:
    items = raw if isinstance(raw, list) else [raw]
    if sub is not None:
        items = [item.get(sub) for item in items if isinstance(item, dict)]
    flat: list = []
    for item in items:
        flat.extend(item if isinstance(item, list) else [item])
    return [item for item in flat if item is not None]


def _element_values(element: dict) -> Callable[[AttrPath], list]:
    return lambda path: _sub_values(element, path.sub_attribute)


def elements_at(document: dict, path: AttrPath, resource_type: ResourceType, catalog: Catalog) -> list[dict]:
    """The elements (dicts) of complex attribute `path.attribute`."""
    raw = container_of(document, path, resource_type, catalog).get(path.attribute)
    items = raw if isinstance(raw, list) else [raw]
    return [item for item in items if isinstance(item, dict)]


def matches(filter: Filter, document: dict, resource_type: ResourceType, catalog: Catalog) -> bool:
    """Whether `document` (a full SCIM document) satisfies bound `filter`."""
    return _Evaluator(resource_type, catalog).test(
        filter, lambda path: values_at(document, path, resource_type, catalog), document)


def element_matches(filter: Filter, element: dict, resource_type: ResourceType, catalog: Catalog) -> bool:
    """Whether one element of a multi-valued complex attribute satisfies a value filter.

    `filter` is the inner filter of a `ValuePath` or `PatchPath`: its paths name sub-attributes.
    """
    return _Evaluator(resource_type, catalog).test(filter, _element_values(element), None)


class _Evaluator:
    def __init__(self, resource_type: ResourceType, catalog: Catalog) -> None:
        self.resource_type = resource_type
        self.catalog = catalog

    def test(self, node: Filter, values: Callable[[AttrPath], list], document: dict | None) -> bool:
        if isinstance(node, And):
            return self.test(node.left, values, document) and self.test(node.right, values, document)
        if isinstance(node, Or):
            return self.test(node.left, values, document) or self.test(node.right, values, document)
        if isinstance(node, Not):
            return not self.test(node.expr, values, document)
        if isinstance(node, Present):
            return any(is_present(value) for value in values(node.path))
        if isinstance(node, Compare):
            definition = definition_of(self.catalog, self.resource_type, node.path)
            if node.op == NE:
                return not any(compare_value("eq", value, node.value, definition)
                               for value in values(node.path))
            return any(compare_value(node.op, value, node.value, definition) for value in values(node.path))
        if isinstance(node, ValuePath):
            if document is None:
                raise ValueError("a value filter cannot be nested inside another one")
            elements = elements_at(document, node.path, self.resource_type, self.catalog)
            return any(self.test(node.filter, _element_values(element), None) for element in elements)
        raise TypeError(f"not a filter node: {node!r}")


def compare_value(op: str, actual: object, literal: Literal, definition: Attribute) -> bool:
    """`actual op literal` for one stored value of an attribute with `definition` (not `ne`)."""
    kind = definition.type
    if kind in (STRING, REFERENCE, BINARY):
        if not isinstance(actual, str) or not isinstance(literal, str):
            return False
        if not definition.case_exact:
            actual, literal = actual.lower(), literal.lower()
        if op in _SUBSTRING:
            return _SUBSTRING[op](actual, literal)
        return _ORDER[op](actual, literal)
    if kind == BOOLEAN:
        return op == "eq" and isinstance(actual, bool) and actual is literal
    if kind in (INTEGER, DECIMAL):
        if isinstance(actual, bool) or not isinstance(actual, (int, float)) or op not in _ORDER:
            return False
        return _ORDER[op](actual, literal)
    if kind == DATETIME:
        left, right = parse_datetime(actual), parse_datetime(literal)
        if left is None or right is None or op not in _ORDER:
            return False
        return _ORDER[op](left, right)
    return False
