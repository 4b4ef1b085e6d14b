"""The key scheme: every key of a tenant starts with `<prefix>{<tenant>}:`.

The `{tenant}` hash tag puts a tenant's keys in one Redis Cluster slot, so the Lua scripts and
pipelines that touch a resource, its indexes and its memberships are single-slot. The tenant is
percent-encoded so that no tenant name can produce another tenant's keys or split the tag.

Layout below the tenant base (`T` is a resource type name, `<id>` a resource id):

- `r:T:<id>`         hash: `v` version, `c` / `m` created / lastModified (µs since the epoch),
                     `d` data (JSON), `x` / `xm` / `xc` the index entries the resource occupies,
                     `ms` (groups) the member counter that keeps insertion order
- `u:T:<attr>`       hash: folded unique value -> id (uniqueness and `attr eq` lookups)
- `i:T:<path>:<v>`   set: ids whose attribute `path` holds the folded value `v`
- `o:T:<sort>`       sorted set (all scores 0, ordered by member): `<sort value>\\0\\0<id>`;
                     `O:T:<sort>` the same order descending (see `indexes.sort_entry`)
- `gm:<group id>`    hash: member id -> packed `[sequence, type, display]` (group -> members)
- `mg:<member id>`   set: ids of the groups the member belongs to (member -> groups)

Tokens are not tenant data; they live under `<prefix>{tokens}:`.
"""

from __future__ import annotations

from urllib.parse import quote

DEFAULT_PREFIX = "scim:"


def tenant_base(prefix: str, tenant: str) -> str:
    """The key prefix every key of `tenant` starts with (hash tag included)."""
    return f"{prefix}{{{quote(tenant, safe='')}}}:"


def token_base(prefix: str) -> str:
    return f"{prefix}{{tokens}}:"


def resource(resource_type: str, id: str) -> str:
    return f"r:{resource_type}:{id}"


def resource_prefix(resource_type: str) -> str:
    return f"r:{resource_type}:"


def unique(resource_type: str, attribute: str) -> str:
    return f"u:{resource_type}:{attribute}"


def equality(resource_type: str, path: str, folded: str) -> str:
    return f"i:{resource_type}:{path}:{folded}"


def ordered(resource_type: str, sort_name: str, descending: bool = False) -> str:
    return f"{'O' if descending else 'o'}:{resource_type}:{sort_name}"


def group_members(group_id: str) -> str:
    return f"gm:{group_id}"


def member_groups(member_id: str) -> str:
    return f"mg:{member_id}"
