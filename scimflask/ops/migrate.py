"""Moving a deployment between backends: copy, export, import and verify, through the contract.

Everything travels as one stream of records (tenant, token, resource), so `migrate` is
`export` piped into `import`, and a JSON Lines file is that stream on disk. Users come before
Groups and groups are written with `check_members=False`, so a member may name a resource that
arrives later. Ids, timestamps, token hashes and data are kept; versions restart (a new ETag is
harmless: clients re-read before If-Match).

Resuming: the writer skips every tenant, token and resource whose id the target already has, so
an interrupted run is simply started again. Tenants are found from tenant records, from tokens,
and the default tenant; a tenant with resources but neither record nor token must be named.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from .. import plugins
from ..model import Member, Query, RequestContext, Resource, Token, format_datetime
from ..storage.base import Storage
from ..storage.capabilities import Tenant, TenantSupport

PAGE_SIZE = 500
Progress = Callable[[int, int], None]


def open_installed_storage(uri: str, options: dict | None = None) -> Storage:
    """A backend for `uri` with every installed plugin loaded, as `scimflask serve` would open it."""
    return plugins.open_storage(plugins.make_plugin_manager(), uri, options)


def tenants_of(storage: Storage, default_tenant: str = "default", extra: Iterable[str] = ()) -> list[str]:
    found: dict[str, None] = {}
    if isinstance(storage, TenantSupport):
        found.update((record.id, None) for record in storage.list_tenants())
    found.update((token.tenant, None) for token in storage.list_tokens())
    found[default_tenant] = None
    found.update((name, None) for name in extra)
    return list(found)


def _resource_types(storage: Storage) -> list[str]:
    """Resource types without members first, so Groups follow the Users they contain."""
    catalog = storage.catalog
    types = list(catalog.resource_types)
    return [rt.name for rt in sorted(types, key=catalog.has_members)]


def _pages(storage: Storage, tenant: str, resource_type: str, with_members: bool) -> Iterator[Resource]:
    ctx = RequestContext(tenant=tenant)
    start = 1
    while True:
        page = storage.query(ctx, resource_type, Query(start_index=start, count=PAGE_SIZE,
                                                        with_members=with_members, with_groups=False))
        yield from page.resources
        start += len(page.resources)
        if not page.resources or start > page.total:
            return


def count_resources(storage: Storage, tenants: Iterable[str]) -> dict[tuple[str, str], int]:
    return {(tenant, rt): storage.query(RequestContext(tenant=tenant), rt, Query(count=0)).total
            for tenant in tenants for rt in _resource_types(storage)}


# -- records ------------------------------------------------------------------------------

def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def export_records(storage: Storage, tenants: Iterable[str]) -> Iterator[dict]:
    """Every tenant record, token and resource of `tenants`, as JSON-ready dicts."""
    for tenant in tenants:
        record = storage.get_tenant(tenant) if isinstance(storage, TenantSupport) else None
        if record is not None:
            yield {"kind": "tenant", "id": record.id, "created": _time(record.created),
                   "disabled": record.disabled, "description": record.description}
        for token in storage.list_tokens(tenant):
            yield {"kind": "token", "id": token.id, "tenant": token.tenant, "secretHash": token.secret_hash,
                   "created": _time(token.created), "description": token.description,
                   "lastUsed": _time(token.last_used), "expires": _time(token.expires)}
        for resource_type in _resource_types(storage):
            members = storage.catalog.has_members(resource_type)
            for resource in _pages(storage, tenant, resource_type, members):
                yield {"kind": "resource", "tenant": tenant, "resourceType": resource.resource_type,
                       "id": resource.id, "data": resource.data, "created": _time(resource.created),
                       "lastModified": _time(resource.last_modified),
                       "members": None if resource.members is None else
                       [{"value": m.value, "type": m.type, "display": m.display} for m in resource.members]}


@dataclass
class Importer:
    """Writes records into a target, skipping what it already holds (that makes runs resumable)."""

    target: Storage
    written: int = 0
    skipped: int = 0
    _existing: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    _tokens: dict[str, set[str]] = field(default_factory=dict)

    def write(self, record: dict) -> None:
        kind = record.get("kind")
        if kind == "tenant":
            self._tenant(record)
        elif kind == "token":
            self._token(record)
        elif kind == "resource":
            self._resource(record)
        else:
            raise ValueError(f"unknown record kind {kind!r}")

    def _tenant(self, record: dict) -> None:
        if not isinstance(self.target, TenantSupport):
            raise ValueError(f"{type(self.target).__name__} cannot store tenant records")
        self.target.put_tenant(Tenant(id=record["id"], created=_parse_time(record["created"]),
                                      disabled=record["disabled"], description=record.get("description", "")))
        self.written += 1

    def _token(self, record: dict) -> None:
        tenant = record["tenant"]
        if tenant not in self._tokens:
            self._tokens[tenant] = {token.id for token in self.target.list_tokens(tenant)}
        if record["id"] in self._tokens[tenant]:
            self.skipped += 1
            return
        self.target.add_token(Token(
            id=record["id"], tenant=tenant, secret_hash=record["secretHash"],
            created=_parse_time(record["created"]), description=record.get("description", ""),
            last_used=_parse_time(record.get("lastUsed")), expires=_parse_time(record.get("expires"))))
        self._tokens[tenant].add(record["id"])
        self.written += 1

    def _resource(self, record: dict) -> None:
        tenant, resource_type = record["tenant"], record["resourceType"]
        key = (tenant, resource_type)
        if key not in self._existing:
            self._existing[key] = {r.id for r in _pages(self.target, tenant, resource_type, False)}
        if record["id"] in self._existing[key]:
            self.skipped += 1
            return
        members = record.get("members")
        resource = Resource(
            resource_type=resource_type, id=record["id"], data=record["data"],
            created=_parse_time(record["created"]), last_modified=_parse_time(record["lastModified"]),
            members=None if members is None else [Member(m["value"], m.get("type"), m.get("display")) for m in members])
        self.target.create(RequestContext(tenant=tenant), resource, check_members=False)
        self._existing[key].add(record["id"])
        self.written += 1


def copy_records(records: Iterable[dict], target: Storage, progress: Progress | None = None,
                 total: int = 0) -> Importer:
    importer = Importer(target)
    for done, record in enumerate(records, 1):
        importer.write(record)
        if progress is not None:
            progress(done, total)
    return importer


def migrate(source: Storage, target: Storage, tenants: Iterable[str], progress: Progress | None = None) -> Importer:
    tenants = list(tenants)
    total = sum(count_resources(source, tenants).values())
    return copy_records(export_records(source, tenants), target, progress, total)


def export_file(source: Storage, tenants: Iterable[str], path: str, progress: Progress | None = None) -> int:
    tenants = list(tenants)
    total = sum(count_resources(source, tenants).values())
    written = 0
    with open(path, "w", encoding="utf-8") as out:
        for written, record in enumerate(export_records(source, tenants), 1):
            out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
            if progress is not None:
                progress(written, total)
    return written


def read_file(path: str) -> Iterator[dict]:
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{number}: not a JSON record ({exc.msg})") from None


# -- verification -------------------------------------------------------------------------

def _verified_parts(resource: Resource) -> tuple:
    """What `verify` compares of a resource: data, timestamps and members in any order."""
    members = None if resource.members is None else sorted((m.value, m.type or "") for m in resource.members)
    return (resource.data, format_datetime(resource.created), format_datetime(resource.last_modified), members)


def verify(source: Storage, target: Storage, tenants: Iterable[str], *, every_resource: bool) -> list[str]:
    """Differences between source and target: counts per tenant and type, and with
    `every_resource` each resource's data, timestamps and members. Empty means identical."""
    tenants = list(tenants)
    problems = []
    source_counts, target_counts = count_resources(source, tenants), count_resources(target, tenants)
    for key, count in source_counts.items():
        if target_counts.get(key) != count:
            problems.append(f"{key[0]}/{key[1]}: {count} in source, {target_counts.get(key)} in target")
    for tenant in tenants:
        source_tokens = {(t.id, t.secret_hash) for t in source.list_tokens(tenant)}
        target_tokens = {(t.id, t.secret_hash) for t in target.list_tokens(tenant)}
        if not source_tokens <= target_tokens:
            problems.append(f"{tenant}: {len(source_tokens - target_tokens)} token(s) missing in target")
    if not every_resource:
        return problems
    from ..storage.errors import ResourceNotFound

    for tenant in tenants:
        ctx = RequestContext(tenant=tenant)
        for resource_type in _resource_types(source):
            members = source.catalog.has_members(resource_type)
            for resource in _pages(source, tenant, resource_type, members):
                try:
                    copied = target.get(ctx, resource_type, resource.id, with_members=members, with_groups=False)
                except ResourceNotFound:
                    problems.append(f"{tenant}/{resource_type}/{resource.id}: missing in target")
                    continue
                if _verified_parts(copied) != _verified_parts(resource):
                    problems.append(f"{tenant}/{resource_type}/{resource.id}: differs")
    return problems
