"""Attribute paths: binding names to the catalog, and the PATCH path value.

The parser, `parse_path` and `parse_attr_path` all name attributes the same way (RFC 7644
§3.10 "attribute notation"): `[URN ":"] attr ["." sub]`, case-insensitive, and inside a value
filter `attr[...]` bare names are sub-attributes of `attr`. This module is the one place that
turns such a name into canonical spelling.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..schema.catalog import Attribute, AttributeRef, Catalog, ResourceType
from .ast import AttrPath, Filter


@dataclass(frozen=True)
class PatchPath:
    """A bound PATCH `path` (RFC 7644 §3.5.2, Figure 7: `attrPath / valuePath [subAttr]`).

    `path` is the full target (`emails.value` for `emails[type eq "work"].value`). `filter`,
    when set, selects the elements of multi-valued `path.attribute` the operation applies to;
    its paths name sub-attributes of `path.attribute`, exactly as inside `ValuePath`.
    """

    path: AttrPath
    filter: Filter | None = None


def resolve(catalog: Catalog, resource_type: ResourceType, name: str) -> AttributeRef | None:
    """`[urn:]attr[.sub]` → AttributeRef with canonical names, or None if unknown."""
    return catalog.resolve(resource_type, name)


def resolve_sub(parent: AttributeRef, name: str) -> AttributeRef | None:
    """A bare sub-attribute name inside `parent[...]` or after `parent[...]`."""
    if not name or "." in name or ":" in name:
        return None
    sub = parent.attribute.sub_attribute(name)
    return None if sub is None else AttributeRef(parent.schema, parent.attribute, sub)


def to_attr_path(ref: AttributeRef) -> AttrPath:
    sub = ref.sub_attribute.name if ref.sub_attribute is not None else None
    return AttrPath(ref.schema, ref.attribute.name, sub)


def is_multi_valued_complex(attribute: Attribute) -> bool:
    return attribute.multi_valued and bool(attribute.sub_attributes)


def definition_of(catalog: Catalog, resource_type: ResourceType, path: AttrPath) -> Attribute:
    """The attribute definition a bound path names (KeyError if the path is not bound)."""
    attribute = catalog.top_level(resource_type, path.schema, path.attribute)
    if attribute is None:
        raise KeyError(str(path))
    if path.sub_attribute is None:
        return attribute
    sub = attribute.sub_attribute(path.sub_attribute)
    if sub is None:
        raise KeyError(str(path))
    return sub


def parent_of(catalog: Catalog, resource_type: ResourceType, path: AttrPath) -> Attribute:
    """The top-level attribute definition of a bound path."""
    attribute = catalog.top_level(resource_type, path.schema, path.attribute)
    if attribute is None:
        raise KeyError(str(path))
    return attribute
