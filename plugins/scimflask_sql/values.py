"""Turn a resource's `data` into the rows of the `values` and `uniques` tables.

The comparison form of a value is computed here, in Python, and never by SQL functions: SQL
`lower()` differs between databases (SQLite lowers only ASCII), while the reference evaluator
uses Python's `str.lower()`. Filters compile their literals with the same functions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

from scimflask.filter.evaluate import is_present, parse_datetime
from scimflask.schema.catalog import (
    BOOLEAN,
    COMPLEX,
    DATETIME,
    DECIMAL,
    INTEGER,
    Attribute,
    Catalog,
    ResourceType,
)

# Attributes that live outside `data`: Group members and User groups have their own table.
DERIVED = ("members", "groups")

def attr_name(urn: str, attribute: str) -> str:
    """The `values.attr` text of a top-level attribute (same text as `str(AttrPath)`)."""
    return f"{urn}:{attribute}"


def stamp(value: datetime) -> str:
    """Sortable UTC text with microseconds: equal-length strings order as instants."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_stamp(text: str) -> datetime:
    """The instant of a `stamp` text. `fromisoformat` reads the fixed format (with its `Z`)
    about ten times faster than `strptime`; anything else falls back to the strict format."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or value.utcoffset() is None or value.utcoffset():
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return value if value.tzinfo is timezone.utc else value.replace(tzinfo=timezone.utc)


def datetime_key(text: object) -> str | None:
    """The instant an xsd:dateTime names, as `stamp` text (the evaluator's parsing); None if
    it is no dateTime."""
    instant = parse_datetime(text)
    return None if instant is None else stamp(instant)


def string_key(value: str, case_exact: bool) -> str:
    return value if case_exact else value.lower()


def typed_key(attribute: Attribute, value: object) -> tuple[str | None, float | None] | None:
    """(`key`, `num`) for one simple value of `attribute`, or None if the value has the wrong
    type for it (bad data: it matches no comparison and sorts as missing)."""
    kind = attribute.type
    if kind == BOOLEAN:
        return (None, 1.0 if value else 0.0) if isinstance(value, bool) else None
    if kind in (INTEGER, DECIMAL):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        return None, float(value)
    if not isinstance(value, str):
        return None
    if kind == DATETIME:
        key = datetime_key(value)
        return None if key is None else (key, None)
    return string_key(value, attribute.case_exact), None


def unique_digest(attribute: Attribute, value: object) -> str:
    """The `uniques.digest` of a value: a hash of its comparison form (any length fits)."""
    text = string_key(value, attribute.case_exact) if isinstance(value, str) else repr(value)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _elements(value: object) -> list:
    return value if isinstance(value, list) else [value]


def _representative(elements: list) -> int:
    """Index of the element a sort reads: the one marked primary, else the first."""
    for index, element in enumerate(elements):
        if isinstance(element, dict) and element.get("primary") is True:
            return index
    return 0


def _top_level(catalog: Catalog, rt: ResourceType, data: dict) -> Iterator[tuple[str, Attribute, object]]:
    """(schema URN, attribute definition, value) for every attribute present in `data`."""
    for urn in rt.schema_ids:
        if catalog.is_extension(rt, urn):
            section = data.get(urn)
            if not isinstance(section, dict):
                continue
        else:
            section = data
        for attribute in catalog.attributes(rt, urn):
            if attribute.name in DERIVED or attribute.name in ("id", "meta"):
                continue
            value = section.get(attribute.name)
            if value is not None:
                yield urn, attribute, value


def changed_parts(catalog: Catalog, rt: ResourceType, old: dict, new: dict) -> tuple[dict, dict]:
    """The parts of `old` and `new` that hold only the top-level attributes whose values
    differ (extension sections compared attribute by attribute). Rows are built per attribute,
    so the rows of these parts are all the rows a write can change, and a one-attribute PATCH
    builds the rows of one attribute instead of every attribute twice."""
    old_part: dict = {}
    new_part: dict = {}
    extensions = catalog.derived(("extensions", rt.name),
                                 lambda: frozenset(urn for urn in rt.schema_ids if catalog.is_extension(rt, urn)))
    for name in old.keys() | new.keys():
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        if name in extensions and isinstance(before, dict) and isinstance(after, dict):
            old_part[name], new_part[name] = {}, {}
            for inner in before.keys() | after.keys():
                if before.get(inner) != after.get(inner):
                    if inner in before:
                        old_part[name][inner] = before[inner]
                    if inner in after:
                        new_part[name][inner] = after[inner]
            continue
        if name in old:
            old_part[name] = before
        if name in new:
            new_part[name] = after
    return old_part, new_part


@dataclass
class RowDiff:
    """What a data change does to the `uniques` and `values` rows of one resource: the
    attributes whose old rows go (`*_gone`) and the rows that come (`*_new`)."""

    unique_gone: list[str]
    unique_new: list[tuple[str, dict]]
    value_gone: list[str]
    value_new: list[dict]

    @property
    def touches_uniques(self) -> bool:
        return bool(self.unique_gone or self.unique_new)


def row_diff(catalog: Catalog, rt: ResourceType, tenant: str, resource_id: str, old: dict, new: dict) -> RowDiff:
    """The rows to replace between `old` and `new` data: only those of attributes whose rows
    differ, so a one-attribute PATCH touches one attribute's rows, not the ~15 of a user."""
    old, new = changed_parts(catalog, rt, old, new)
    old_uniques = {row["attr"]: (name, row) for name, row in unique_rows(catalog, rt, tenant, resource_id, old)}
    new_uniques = {row["attr"]: (name, row) for name, row in unique_rows(catalog, rt, tenant, resource_id, new)}
    changed = sorted(attr for attr in old_uniques.keys() | new_uniques.keys()
                     if old_uniques.get(attr) != new_uniques.get(attr))
    unique_gone = [attr for attr in changed if attr in old_uniques]  # an added attribute has no old rows
    unique_new = [new_uniques[attr] for attr in changed if attr in new_uniques]
    old_values = _rows_by_attr(value_rows(catalog, rt, tenant, resource_id, old))
    new_values = _rows_by_attr(value_rows(catalog, rt, tenant, resource_id, new))
    changed = sorted(attr for attr in old_values.keys() | new_values.keys()
                     if old_values.get(attr) != new_values.get(attr))
    return RowDiff(unique_gone, unique_new, [attr for attr in changed if attr in old_values],
                   [row for attr in changed for row in new_values.get(attr, [])])


def _rows_by_attr(rows: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for row in rows:
        out.setdefault(row["attr"], []).append(row)
    return out


def value_rows(catalog: Catalog, rt: ResourceType, tenant: str, resource_id: str, data: dict) -> list[dict]:
    """The `values` rows of one resource."""
    rows: list[dict] = []

    def add(attr: str, definition: Attribute, sub: str, elem: int, value: object, rep: bool) -> None:
        if value is None:
            return
        key = typed_key(definition, value)
        if key is None:  # kept only so that `pr` sees it, as the evaluator does
            if not is_present(value) or isinstance(value, (dict, list)):
                return
            key = (None, None)
        rows.append({"tenant": tenant, "resource_id": resource_id, "attr": attr, "sub": sub,
                     "elem": elem, "key": key[0], "num": key[1], "sort_rep": rep})

    for urn, attribute, value in _top_level(catalog, rt, data):
        attr = attr_name(urn, attribute.name)
        elements = _elements(value) if attribute.multi_valued else [value]
        rep = _representative(elements)
        for elem, element in enumerate(elements):
            if attribute.type != COMPLEX:
                add(attr, attribute, "", elem, element, elem == rep)
                continue
            if not isinstance(element, dict):
                continue
            for sub in attribute.sub_attributes:
                add(attr, sub, sub.name, elem, element.get(sub.name), elem == rep)
    return rows


def unique_rows(catalog: Catalog, rt: ResourceType, tenant: str, resource_id: str,
                data: dict) -> list[tuple[str, dict]]:
    """(attribute name, `uniques` row) for every `uniqueness: server` value in `data`."""
    out = []
    for urn, attribute, value in _top_level(catalog, rt, data):
        if attribute.uniqueness != "server" or attribute.multi_valued or attribute.type == COMPLEX:
            continue
        out.append((attribute.name, {
            "tenant": tenant, "resource_type": rt.name, "attr": attr_name(urn, attribute.name),
            "digest": unique_digest(attribute, value), "resource_id": resource_id,
        }))
    return out
