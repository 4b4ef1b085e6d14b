"""What the `scimflask_resource_changed` hook receives after a committed write."""

from __future__ import annotations

from dataclasses import dataclass, field

from .model import RequestContext

CREATED, REPLACED, PATCHED, DELETED = "created", "replaced", "patched", "deleted"


@dataclass(frozen=True)
class ResourceEvent:
    """`action` is one of created/replaced/patched/deleted; `data` is the new attribute
    document (None after delete); `changed` names the attributes the request touched."""

    action: str
    resource_type: str
    id: str
    context: RequestContext
    data: dict | None = None
    changed: tuple[str, ...] = field(default_factory=tuple)

    @property
    def tenant(self) -> str:
        return self.context.tenant
