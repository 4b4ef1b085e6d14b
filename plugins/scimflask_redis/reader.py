"""Reading stored resources of one tenant in batches (one round trip per batch).

Records are decoded here; Group `members` and User `groups` are attached only when asked for,
from the membership hashes and sets, so a 100k-member group costs nothing unless shown.
`Reader.read` runs lua/read.lua: index lookup, records and memberships in one round trip.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from scimflask.model import GroupRef, Resource
from scimflask.schema.catalog import Catalog, ResourceType

from . import keys
from .scripts import member_from_row, pack

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MEMBERS = "members"
GROUPS = "groups"
_FIELDS = ("v", "c", "m", "d")


def to_micros(value: datetime) -> int:
    """A timezone-aware datetime as exact microseconds since the epoch."""
    return (value - EPOCH) // timedelta(microseconds=1)


def from_micros(value: bytes | str | int) -> datetime:
    return EPOCH + timedelta(microseconds=int(value))


@dataclass
class Loaded:
    """What `Reader.read` found: `total` candidates (or matches, or index entries), the
    resources loaded, whether members / groups were attached as asked, whether more follow."""

    total: int
    resources: list[Resource]
    attached: bool
    more: bool


@dataclass
class Many:
    """`Reader.read` refused a plan before reading its ids: `bound` (an upper bound of its
    candidates) exceeds the limit, or is None when an index of the plan is not ready yet;
    `resources` is the type's size in the tenant (None when not asked for)."""

    bound: int | None
    resources: int | None


class Reader:
    """Loads resources of one tenant; `base` is the tenant's key prefix."""

    def __init__(self, client, base: str, catalog: Catalog, script=None, layout: bytes = b"",
                 member_prefixes: bytes | None = None) -> None:
        self.client = client
        self.base = base
        self.catalog = catalog
        self._script = script  # the registered read.lua (see `read`)
        self._layout = layout  # the key layout every script starts with (`RedisStorage._head`)
        self._prefixes = member_prefixes if member_prefixes is not None else member_type_prefixes(catalog)

    def read(self, rt: ResourceType, *, plan: bytes = b"", limit: int = 0, mode: str = "load",
             order: str = "", descending: bool = False, start: int = 0, count: int = 0,
             with_members: bool = False, with_groups: bool = False, attach_up_to: int = 0,
             gates: tuple[str, str, str, str] = ("", "", "", ""), boundary: bytes = b"",
             after: tuple[int, str] | None = None, count_key: str = "") -> Loaded | Many:
        """One call of lua/read.lua (its header says what each argument means). `gates`: the
        prefix and the trigram indexes' ready markers and signatures; `count_key`: the index
        whose size a `Many` reports. `Many` when the plan's bound exceeds `limit`."""
        with_members = with_members and self.catalog.has_members(rt)
        with_groups = with_groups and self.catalog.has_groups(rt)
        reply = self._script(keys=[self.base + keys.resource_prefix(rt.name)], args=[
            self.base, self._layout, keys.resource_prefix(rt.name), self._prefixes, plan, limit, mode,
            order, "1" if descending else "0", start, count, "1" if with_members else "0",
            "1" if with_groups else "0", attach_up_to, gates[0], gates[1],
            boundary if after is None else str(after[0]), "" if after is None else after[1],
            gates[2], gates[3], count_key,
        ])
        if reply[0] != b"ok":
            bound, resources = int(reply[1]), int(reply[2])
            return Many(None if bound < 0 else bound, None if resources < 0 else resources)
        _, total, attached, rows, raw_names, more = reply
        attached = attached == b"1"
        names: dict[str, str | None] = {}
        for i in range(0, len(raw_names), 2):
            names[raw_names[i].decode()] = json.loads(raw_names[i + 1]).get("displayName")
        resources = []
        for row in rows:
            id = row[0].decode()
            resource = _decode(rt.name, id, row[1:5])
            if resource is None:
                continue
            if attached and with_members:
                flat = row[5] or []
                ordered = sorted(member_from_row(flat[i].decode(), flat[i + 1]) for i in range(0, len(flat), 2))
                resource.members = [member for _, member in ordered]
            if attached and with_groups:
                resource.groups = [GroupRef(gid, names.get(gid)) for gid in sorted(g.decode() for g in row[6] or [])]
            resources.append(resource)
        return Loaded(int(total), resources, attached, more == b"1")


    def key(self, suffix: str) -> str:
        return self.base + suffix

    def records(self, rt: ResourceType, ids: Sequence[str]) -> list[Resource | None]:
        """The bare stored resources (no members, no groups); None where an id is missing."""
        if not ids:
            return []
        pipe = self.client.pipeline(transaction=False)
        for id in ids:
            pipe.hmget(self.key(keys.resource(rt.name, id)), *_FIELDS)
        return [_decode(rt.name, id, row) for id, row in zip(ids, pipe.execute(), strict=True)]

    def attach(self, rt: ResourceType, resources: Iterable[Resource], *, with_members: bool,
               with_groups: bool) -> None:
        """Fill `members` / `groups` in place, as asked and as the type has them."""
        resources = list(resources)
        with_members = with_members and self.catalog.has_members(rt)
        with_groups = with_groups and self.catalog.has_groups(rt)
        if not resources or not (with_members or with_groups):
            return
        pipe = self.client.pipeline(transaction=False)
        for resource in resources:
            if with_members:
                pipe.hgetall(self.key(keys.group_members(resource.id)))
            if with_groups:
                pipe.smembers(self.key(keys.member_groups(resource.id)))
        replies = iter(pipe.execute())
        group_ids: dict[str, list[str]] = {}
        for resource in resources:
            if with_members:
                rows = sorted(member_from_row(mid.decode(), row) for mid, row in next(replies).items())
                resource.members = [member for _, member in rows]
            if with_groups:
                group_ids[resource.id] = sorted(gid.decode() for gid in next(replies))
        if with_groups:
            names = self._group_names({gid for gids in group_ids.values() for gid in gids})
            for resource in resources:
                resource.groups = [GroupRef(gid, names.get(gid)) for gid in group_ids[resource.id]]

    def _group_names(self, group_ids: set[str]) -> dict[str, str | None]:
        """displayName of each group id, looked up in every type that has members."""
        names: dict[str, str | None] = {}
        ordered = sorted(group_ids)
        for rt in self.catalog.resource_types:
            if not ordered or not self.catalog.has_members(rt):
                continue
            pipe = self.client.pipeline(transaction=False)
            for gid in ordered:
                pipe.hget(self.key(keys.resource(rt.name, gid)), "d")
            for gid, data in zip(ordered, pipe.execute(), strict=True):
                if data is not None:
                    names[gid] = json.loads(data).get("displayName")
        return names

    def exists(self, rt: ResourceType, id: str) -> bool:
        return bool(self.client.exists(self.key(keys.resource(rt.name, id))))


def member_type_prefixes(catalog: Catalog) -> bytes:
    """Packed resource key prefixes of the types with members (where group names are)."""
    return pack([keys.resource_prefix(rt.name) for rt in catalog.resource_types
                 if catalog.has_members(rt)])


def _decode(resource_type: str, id: str, row: list) -> Resource | None:
    version, created, modified, data = row
    if version is None or data is None:
        return None
    return Resource(resource_type, id, json.loads(data), from_micros(created), from_micros(modified),
                    int(version))
