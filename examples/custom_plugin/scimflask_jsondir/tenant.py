"""One tenant's JSON document: every resource of the tenant, and the group memberships.

Shape on disk (one file per tenant, so one `os.replace` commits a whole operation)::

    {"User":  {"<id>": {"data": {...}, "created": "<iso>", "lastModified": "<iso>", "version": 1}},
     "Group": {"<id>": {"data": {...}, ..., "members": [{"value": "<id>", "type": "User"}]}}}

Membership is stored once, on the group; a User's `groups` are derived by scanning groups.
"""

from __future__ import annotations

import copy
from datetime import datetime

from scimflask.model import GroupRef, Member, Resource
from scimflask.schema.catalog import COMPLEX, GLOBAL, SERVER, Catalog, ResourceType
from scimflask.storage import UnknownMembers

MEMBERS = "members"
GROUPS = "groups"


def has_attribute(catalog: Catalog, rt: ResourceType, name: str) -> bool:
    return catalog.top_level(rt, rt.schema, name) is not None


def member_to_json(member: Member) -> dict:
    return {"value": member.value, "type": member.type, "display": member.display}


def member_from_json(raw: dict) -> Member:
    return Member(raw["value"], raw.get("type"), raw.get("display"))


class TenantDocument:
    """Typed access to the dict read from a tenant's file; changes are made in place."""

    def __init__(self, document: dict, catalog: Catalog) -> None:
        self.document = document
        self.catalog = catalog
        self._groups_of: dict[str, list[GroupRef]] | None = None
        self._has: dict[tuple[str, str], bool] = {}

    def has(self, rt: ResourceType, name: str) -> bool:
        """Whether `rt` has attribute `name` (asked for every row of a query, so cached)."""
        key = (rt.name, name)
        if key not in self._has:
            self._has[key] = has_attribute(self.catalog, rt, name)
        return self._has[key]

    def table(self, rt: ResourceType) -> dict[str, dict]:
        return self.document.setdefault(rt.name, {})

    def find_type(self, id: str) -> str | None:
        """The resource type name holding `id` (member ids may name Users or Groups)."""
        for name, table in self.document.items():
            if id in table:
                return name
        return None

    # -- uniqueness -----------------------------------------------------------------------
    def taken(self, rt: ResourceType, id: str, data: dict) -> str | None:
        """The first unique attribute whose value in `data` another resource already holds.

        A scan of the tenant: fine for a directory of JSON files, and exactly why the SQL
        backend uses a unique index instead.
        """
        for urn, attr in self._unique_attributes(rt):
            value = _value(data, urn, attr.name, rt)
            if not isinstance(value, str):
                continue
            wanted = value if attr.case_exact else value.lower()
            for other_id, record in self.table(rt).items():
                other = _value(record["data"], urn, attr.name, rt)
                if other_id != id and isinstance(other, str) and (
                        other if attr.case_exact else other.lower()) == wanted:
                    return attr.name
        return None

    def _unique_attributes(self, rt: ResourceType):
        for urn in rt.schema_ids:
            for attr in self.catalog.attributes(rt, urn):
                if attr.uniqueness in (SERVER, GLOBAL) and attr.name != "id" and attr.type != COMPLEX:
                    yield urn, attr

    # -- membership -----------------------------------------------------------------------
    def checked_members(self, members, check: bool) -> list[Member]:
        """One copy per member id; when `check`, each id must exist and gets its type."""
        unique = {m.value: Member(m.value, m.type, m.display) for m in members}
        if check:
            unknown = []
            for member in unique.values():
                member.type = self.find_type(member.value)
                if member.type is None:
                    unknown.append(member.value)
            if unknown:
                raise UnknownMembers(unknown)
        return list(unique.values())

    def forget(self, id: str) -> None:
        """Remove every membership naming `id` (it was deleted)."""
        for table in self.document.values():
            for record in table.values():
                if MEMBERS in record:
                    record[MEMBERS] = [m for m in record[MEMBERS] if m["value"] != id]

    def group_refs(self, member_id: str) -> list[GroupRef]:
        if self._groups_of is None:  # built once per document: a query needs it for every row
            self._groups_of = {}
            for group_id in sorted(self.document.get("Group", {})):
                record = self.document["Group"][group_id]
                for member in record.get(MEMBERS, ()):
                    self._groups_of.setdefault(member["value"], []).append(
                        GroupRef(group_id, record["data"].get("displayName")))
        return [GroupRef(g.value, g.display, g.type) for g in self._groups_of.get(member_id, ())]

    # -- records <-> resources ------------------------------------------------------------
    def resource(self, rt: ResourceType, id: str, *, with_members: bool, with_groups: bool) -> Resource:
        record = self.table(rt)[id]
        resource = Resource(
            rt.name, id, record["data"], datetime.fromisoformat(record["created"]),
            datetime.fromisoformat(record["lastModified"]), record["version"],
        )  # no copy needed: records are parsed afresh for each call, or copied in (new_record)
        if with_members and self.has(rt, MEMBERS):
            resource.members = [member_from_json(m) for m in record.get(MEMBERS, ())]
        if with_groups and self.has(rt, GROUPS):
            resource.groups = self.group_refs(id)
        return resource


def new_record(resource: Resource, members: list[Member] | None) -> dict:
    """The stored form of a new resource; the data is copied so the caller's dict stays theirs."""
    record = {
        "data": copy.deepcopy(resource.data),
        "created": resource.created.isoformat(),
        "lastModified": resource.last_modified.isoformat(),
        "version": 1,
    }
    if members is not None:
        record[MEMBERS] = [member_to_json(m) for m in members]
    return record


def _value(data: dict, urn: str, name: str, rt: ResourceType) -> object:
    holder = data if urn.lower() == rt.schema.lower() else data.get(urn)
    return holder.get(name) if isinstance(holder, dict) else None
