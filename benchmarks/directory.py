"""The synthetic directory every benchmark works on, and how to seed it without HTTP.

User number `i` is fully determined by `i` (id, userName, externalId, work email, family name),
so the load process can address seeded users without asking the server which ids exist.
Seeding goes through the same validator and `Storage.create` a POST would use, minus HTTP,
because creating 100,000 users through the API would take longer than the benchmarks.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

from scimflask.model import Change, Member, RequestContext, Resource, utcnow

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
_NAMESPACE = uuid.UUID("5d0c8a3e-1f7b-4c3a-9a51-6b2f0e7d4c11")


def user_id(i: int, prefix: str = "user") -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{prefix}-{i}"))


def group_id(name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"group-{name}"))


def user_name(i: int, prefix: str = "user") -> str:
    return f"{prefix}{i}@example.com"


def external_id(i: int, prefix: str = "user") -> str:
    return f"{prefix}-ext-{i}"


def work_email(i: int, prefix: str = "user") -> str:
    return f"{prefix}{i}@work.example.com"


def family_name(i: int) -> str:
    return f"Fam{i}"


def user_document(i: int, prefix: str = "user") -> dict:
    """A User as Microsoft Entra ID sends it on create (core + enterprise extension)."""
    return {
        "schemas": [CORE_USER, ENTERPRISE],
        "externalId": external_id(i, prefix),
        "userName": user_name(i, prefix),
        "active": True,
        "displayName": f"Given{i} {family_name(i)}",
        "name": {"givenName": f"Given{i}", "familyName": family_name(i), "formatted": f"Given{i} {family_name(i)}"},
        "emails": [{"type": "work", "value": work_email(i, prefix), "primary": True}],
        "title": "Engineer",
        ENTERPRISE: {"department": f"Dept{i % 50}", "employeeNumber": str(100000 + i)},
    }


def _resource(state, resource_type: str, id: str, document: dict, members: list[Member] | None = None) -> Resource:
    data, _ = state.validator(resource_type).load(document, mode="create")
    now = utcnow()
    return Resource(resource_type, id, data, now, now, 1, members)


def seed_users(state, tenant: str, start: int, stop: int, threads: int = 8) -> None:
    """Create users `start .. stop-1` in the store of `state` (a `ScimState`)."""
    ctx = RequestContext(tenant=tenant)

    def create(i: int) -> None:
        state.storage.create(ctx, _resource(state, "User", user_id(i), user_document(i)))

    if threads <= 1:
        for i in range(start, stop):
            create(i)
        return
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(create, range(start, stop), chunksize=64):
            pass


GROUP_SEED_CHUNK = 20_000  # members per storage call: one call for 1,000,000 outlived Redis' socket timeout


def seed_group(state, tenant: str, name: str, member_count: int) -> str:
    """Create group `name` whose members are users `0 .. member_count-1`; return its id.

    The first chunk goes into the create and the rest are added in chunks, as a client would
    grow a huge group, because a single write of a million members blocks the store too long.
    """
    ctx = RequestContext(tenant=tenant)
    first = min(member_count, GROUP_SEED_CHUNK)
    resource = _resource(state, "Group", group_id(name), {"schemas": [CORE_GROUP], "displayName": name})
    resource.members = [Member(user_id(i), "User") for i in range(first)]
    state.storage.create(ctx, resource, check_members=False)
    for start in range(first, member_count, GROUP_SEED_CHUNK):
        members = [Member(user_id(i), "User") for i in range(start, min(start + GROUP_SEED_CHUNK, member_count))]
        state.storage.update(ctx, "Group", resource.id, Change(add_members=members), check_members=False, now=utcnow())
    return resource.id
