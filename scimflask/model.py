"""The values that cross the storage contract.

Storage plugins see these dataclasses and the filter AST, never HTTP requests, query strings or
request JSON. Attribute data is kept as the SCIM JSON representation with canonical attribute
names (extensions nested under their schema URN), because that is what every backend can store
and what the reference evaluator reads.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .filter.ast import AttrPath, Filter, attribute_paths


def copy_json(value):
    """A deep copy of JSON-shaped data (dicts, lists, scalars): ~10x faster than `copy.deepcopy`,
    which matters because every read of the in-memory store hands out a copy."""
    if type(value) is dict:
        return {key: copy_json(item) if type(item) in _CONTAINERS else item for key, item in value.items()}
    if type(value) is list:
        return [copy_json(item) if type(item) in _CONTAINERS else item for item in value]
    return copy.deepcopy(value)


_CONTAINERS = (dict, list)

# `locate(resource_type_name, id)` -> the resource's URL; the catalog builds one per base URL
# (`Catalog.locator`), since only it knows each type's endpoint.
Locator = Callable[[str, str], str]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def format_datetime(value: datetime) -> str:
    """RFC 3339 / xsd:dateTime in UTC with millisecond precision, as SCIM clients expect."""
    if value.tzinfo is not timezone.utc:
        value = value.astimezone(timezone.utc)
    # isoformat is C code and always writes four year digits; strftime("%Y") does not (year 1 -> "1").
    return value.isoformat(timespec="milliseconds")[:-6] + "Z"


@dataclass(frozen=True)
class RequestContext:
    """Who is asking: handed to every storage call and notification hook.

    `tenant` scopes every read and write; `base_url` is the SCIM base URL the client used (for
    `meta.location` and `$ref`); `token_id` names the credential (for audit), never the secret.
    """

    tenant: str = "default"
    base_url: str = ""
    token_id: str | None = None


@dataclass
class Member:
    """One member of a Group: a User or Group id. `display` is kept as sent."""

    value: str
    type: str | None = None
    display: str | None = None

    def to_dict(self, locate: Locator | None = None) -> dict:
        out: dict = {"value": self.value}
        if self.type:
            out["type"] = self.type
            if locate is not None:
                out["$ref"] = locate(self.type, self.value)
        if self.display is not None:
            out["display"] = self.display
        return out


@dataclass
class GroupRef:
    """One entry of a User's read-only `groups` attribute, derived from membership."""

    value: str
    display: str | None = None
    type: str = "direct"

    def to_dict(self, locate: Locator | None = None) -> dict:
        out: dict = {"value": self.value, "type": self.type}
        if locate is not None:
            out["$ref"] = locate("Group", self.value)
        if self.display is not None:
            out["display"] = self.display
        return out


@dataclass
class Resource:
    """A stored resource.

    `data` holds every attribute except `id`, `meta`, `schemas`, `members` and `groups`,
    with canonical names; `externalId` lives in `data`. `version` is an integer the backend
    increments on every write (the ETag is derived from it). `members` (Groups) and `groups`
    (Users) are None when not loaded.
    """

    resource_type: str
    id: str
    data: dict
    created: datetime
    last_modified: datetime
    version: int = 1
    members: list[Member] | None = None
    groups: list[GroupRef] | None = None

    def copy(self) -> Resource:
        return Resource(
            self.resource_type, self.id, copy_json(self.data), self.created,
            self.last_modified, self.version,
            None if self.members is None else [Member(m.value, m.type, m.display) for m in self.members],
            None if self.groups is None else [GroupRef(g.value, g.display, g.type) for g in self.groups],
        )

    @property
    def external_id(self) -> str | None:
        return self.data.get("externalId")

    def document(self, locate: Locator | None = None) -> dict:
        """The full SCIM document (what filters and projection read), without `schemas`.

        With `locate`, `meta.location` and every member's and group's `$ref` are filled in.
        """
        doc = dict(self.data)
        doc["id"] = self.id
        doc["meta"] = {
            "resourceType": self.resource_type,
            "created": format_datetime(self.created),
            "lastModified": format_datetime(self.last_modified),
            "version": f'W/"{self.version}"',
        }
        if locate is not None:
            doc["meta"]["location"] = locate(self.resource_type, self.id)
        if self.members is not None:
            doc["members"] = [m.to_dict(locate) for m in self.members]
        if self.groups is not None:
            doc["groups"] = [g.to_dict(locate) for g in self.groups]
        return doc


@dataclass(frozen=True)
class Sort:
    """`sortBy` / `sortOrder` (RFC 7644 §3.4.2.3)."""

    path: AttrPath
    descending: bool = False


@dataclass(frozen=True)
class Keyset:
    """Position after which a cursor page starts: the last row's sort value and id.

    The backend that produced the page chooses `value` (any JSON-serialisable value, e.g. the
    lower-cased sort string, or None for a missing value); core only carries it inside the
    opaque, signed cursor and hands it back unchanged in `Query.after`.
    """

    value: object
    id: str


@dataclass(frozen=True)
class Query:
    """One list/search request, already parsed and validated.

    - `filter`: bound AST or None for "all".
    - `sort`: None means the default order (`meta.created` ascending, then `id`).
    - `start_index` (1-based) places an index page; `after` (cursor paging) places a keyset
      page and then `start_index` is 1. `count` is the page size (0 means "only the total").
    - `with_members` / `with_groups`: whether the caller will show Group `members` / User
      `groups`; when False the backend must not load them (a 100k-member group stays cheap).
    - `max_scan`: the most resources the backend may examine for the filter beyond what its
      indexes narrow down (SCIM_MAX_FILTER_SCAN); None: no bound. See `Storage.query`.
    """

    filter: Filter | None = None
    sort: Sort | None = None
    start_index: int = 1
    count: int = 100
    after: Keyset | None = None
    with_members: bool = True
    with_groups: bool = True
    max_scan: int | None = None

    def attributes_read(self) -> set[str]:
        """Top-level attribute names the filter and the sort read, so a backend can tell whether
        it must load large derived attributes (Group `members`, User `groups`) to answer."""
        names = set() if self.filter is None else {path.attribute for path in attribute_paths(self.filter)}
        if self.sort is not None:
            names.add(self.sort.path.attribute)
        return names


@dataclass
class Page:
    """One page of results and the number of all matches (`totalResults`)."""

    resources: list[Resource]
    total: int
    next_keyset: Keyset | None = None


@dataclass
class Change:
    """What a write does to an existing resource.

    `data`: the new attribute document (replaces the old `data` wholly) or None to keep it.
    `add_members` / `remove_members`: membership deltas (member ids), applied as set operations
    so their cost follows the change, not the group. `replace_members`: the complete new member
    list (PUT, or a PATCH that rewrites members); when set, the deltas are empty.
    `base`: the resource the change was computed from, as read. When the write's
    `expected_version` equals `base.version`, the stored row is exactly `base` (every write bumps
    the version), so a store may diff against `base.data` and keep `base.created` instead of
    reading the row again; the version check in its write still guards against a concurrent one.
    """

    data: dict | None = None
    add_members: list[Member] = field(default_factory=list)
    remove_members: list[str] = field(default_factory=list)
    replace_members: list[Member] | None = None
    base: Resource | None = None

    def base_at(self, expected_version: int | None) -> Resource | None:
        """`base` when a write checked against `expected_version` may trust it, else None."""
        if self.base is None or expected_version is None or self.base.version != expected_version:
            return None
        return self.base

    @property
    def touches_members(self) -> bool:
        return bool(self.add_members or self.remove_members or self.replace_members is not None)


@dataclass
class Token:
    """A bearer token record. Only `secret_hash` (SHA-256 hex) is ever stored."""

    id: str
    tenant: str
    secret_hash: str
    created: datetime
    description: str = ""
    last_used: datetime | None = None
    expires: datetime | None = None
