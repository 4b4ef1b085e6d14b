"""The names operators know resources by (a User's userName, a Group's displayName).

Log entries name their target as it was written (`userName`, `displayName`, `externalId`);
for entries that do not (written before entries did, or with SCIM_LOG_IDENTITIES=none) the
console looks the current name up, so an operator sees "ada@example.com" instead of an opaque
id. A resource deleted since is shown by id alone. Names come from identity providers:
templates escape them like any other text.
"""

from __future__ import annotations

from collections.abc import Iterable

from ...model import RequestContext
from ...storage.base import Storage
from ...storage.errors import StorageError

NAME_ATTRIBUTES = ("userName", "displayName")
MAX_LOOKUPS = 100


def resource_names(storage: Storage, tenant: str, entries: Iterable[dict],
                   max_lookups: int = MAX_LOOKUPS) -> dict[tuple[str, str], str]:
    """(resource type, id) -> name for the resources `entries` name that still exist."""
    ctx = RequestContext(tenant=tenant)
    names: dict[tuple[str, str], str] = {}
    looked_up: set[tuple[str, str]] = set()
    for entry in entries:
        key = (entry.get("resourceType"), entry.get("resourceId"))
        if not key[0] or not key[1] or key in looked_up or len(looked_up) >= max_lookups:
            continue
        if entry.get("userName") or entry.get("displayName") or entry.get("externalId"):
            continue  # the entry names its target itself
        looked_up.add(key)  # type: ignore[arg-type]
        try:
            resource = storage.get(ctx, key[0], key[1], with_members=False, with_groups=False)
        except (StorageError, KeyError):
            continue
        for attribute in NAME_ATTRIBUTES:
            value = resource.data.get(attribute)
            if isinstance(value, str) and value:
                names[key] = value  # type: ignore[index]
                break
    return names
