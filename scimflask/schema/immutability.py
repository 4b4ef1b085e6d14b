"""RFC 7643 §2.2 `immutable`: an attribute may be given a value while it has none, and never
changed after. PUT checks whole documents, PATCH one attribute at a time, by the same rule."""

from __future__ import annotations

from ..errors import Mutability
from .catalog import IMMUTABLE, Attribute, Catalog, ResourceType


def check_unchanged(attr: Attribute, old: object, new: object, label: str) -> None:
    """Refuse a change of `attr` (shown as `label`) from `old` to `new` when it is immutable."""
    if attr.mutability == IMMUTABLE and old is not None and new != old:
        raise Mutability(f"Attribute '{label}' is immutable and already has a value.")


def check_document(catalog: Catalog, rt: ResourceType, old: dict, new: dict) -> None:
    """Refuse a replacement document `new` that changes an immutable attribute of `old`."""
    for urn in rt.schema_ids:
        container_old = old if urn == rt.schema else old.get(urn) or {}
        container_new = new if urn == rt.schema else new.get(urn) or {}
        for attr in catalog.attributes(rt, urn):
            if attr.name in container_old:
                check_unchanged(attr, container_old[attr.name], container_new.get(attr.name), attr.name)
