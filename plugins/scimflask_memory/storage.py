"""The in-memory storage backend: the reference implementation of the storage contract.

Filters mean what `scimflask.filter.evaluate.matches` says and order is the reference
`sort_key`, so every other backend is tested against this one's behaviour. Data lives in one
process and is lost on restart: for tests and demos, not for several workers.

It also offers the operating capabilities (`scimflask.storage.capabilities`): tenant records,
the provisioning log and rate-limit counters, all behind the same lock.
"""

from __future__ import annotations

import bisect
import copy
import logging
import threading
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from urllib.parse import urlsplit

from scimflask.errors import ConfigurationError, Mutability
from scimflask.filter.ast import attribute_paths
from scimflask.filter.evaluate import matches
from scimflask.model import Change, GroupRef, Member, Page, Query, RequestContext, Resource, Token
from scimflask.schema.catalog import Catalog, ResourceType
from scimflask.storage import Conflict, NotFound, PreconditionFailed, Storage, UnknownMembers
from scimflask.storage.base import capped
from scimflask.storage.capabilities import (
    CounterSupport,
    LogEntry,
    ProvisioningLogSupport,
    TenantSupport,
)
from scimflask.storage.capabilities import Tenant as TenantRecord

from .counters import Counters
from .ordering import Ordering
from .tenant import Tenant

logger = logging.getLogger(__name__)

MEMBERS = "members"
GROUPS = "groups"


class MemoryStorage(Storage, TenantSupport, ProvisioningLogSupport, CounterSupport):
    """Per-tenant dicts behind one re-entrant lock; `eq` on unique attributes, `externalId`
    and `id` is answered from indexes, anything else by evaluating the reference predicate."""

    schemes = ("memory",)
    supports_keyset = True

    def __init__(self, catalog: Catalog) -> None:
        super().__init__(catalog)
        self._lock = threading.RLock()
        self._tenants: dict[str, Tenant] = {}
        self._tokens: dict[str, Token] = {}  # secret hash -> token
        self._token_hashes: dict[str, str] = {}  # token id -> secret hash
        self._defined: dict[tuple[str, str], bool] = {}
        self._records: dict[str, TenantRecord] = {}
        self._logs: dict[str, list[LogEntry]] = {}  # tenant -> entries in id order
        self._counters = Counters()

    @classmethod
    def from_uri(cls, uri: str, options: dict, catalog: Catalog) -> MemoryStorage:
        """Accept `memory://` (anything after the scheme is ignored); no options exist."""
        if urlsplit(uri).scheme.lower() not in cls.schemes:
            raise ConfigurationError(f"MemoryStorage cannot serve {uri!r}; use memory://")
        if options:
            raise ConfigurationError(
                f"memory:// takes no SCIM_STORAGE_OPTIONS, got: {', '.join(sorted(options))}"
            )
        logger.warning(
            "scimflask is using memory:// storage: data lives in this one process, is not shared "
            "with other workers and is lost on restart"
        )
        return cls(catalog)

    # -- helpers --------------------------------------------------------------------------
    def _tenant(self, ctx: RequestContext) -> Tenant:
        tenant = self._tenants.get(ctx.tenant)
        if tenant is None:
            tenant = self._tenants[ctx.tenant] = Tenant(self.catalog)
        return tenant

    def _type(self, resource_type: str) -> ResourceType:
        return self.catalog.resource_type(resource_type)

    def _has(self, rt: ResourceType, attribute: str) -> bool:
        """Whether `rt`'s core schema defines `attribute` (members for Groups, groups for Users)."""
        key = (rt.name, attribute)
        if key not in self._defined:
            self._defined[key] = self.catalog.top_level(rt, rt.schema, attribute) is not None
        return self._defined[key]

    def _stored(self, tenant: Tenant, rt: ResourceType, id: str) -> Resource:
        resource = tenant.tables[rt.name].get(id)
        if resource is None:
            raise NotFound(rt.name, id)
        return resource

    def _loaded(self, tenant: Tenant, rt: ResourceType, stored: Resource, *,
                with_members: bool, with_groups: bool) -> Resource:
        """A copy of `stored` the caller may mutate, with members / groups as asked."""
        return self._attach(tenant, rt, stored.copy(), with_members, with_groups)

    def _document(self, tenant: Tenant, rt: ResourceType, stored: Resource, needs: set[str],
                  base_url: str) -> dict:
        """The SCIM document a filter or sort reads, without copying `data` (only read) and
        with members / groups only if the query reads them (large groups stay cheap)."""
        view = self._attach(tenant, rt, replace(stored), MEMBERS in needs, GROUPS in needs)
        return view.document(base_url)

    def _sorted(self, tenant: Tenant, rt: ResourceType, resources: Iterable[Resource], ordering: Ordering,
                needs: set[str], base_url: str) -> list[tuple[tuple, Resource]]:
        """`(sort key, resource)` rows of `resources` in the query's order."""
        rows = [(ordering.key(self._document(tenant, rt, stored, needs, base_url)), stored)
                for stored in resources]
        ordering.sort_rows(rows)
        return rows

    def _attach(self, tenant: Tenant, rt: ResourceType, resource: Resource,
                members: bool, groups: bool) -> Resource:
        """Set `members` / `groups` on `resource` when asked and its type has them."""
        if members and self._has(rt, MEMBERS):
            resource.members = tenant.membership.members(resource.id)
        if groups and self._has(rt, GROUPS):
            resource.groups = self._group_refs(tenant, resource.id)
        return resource

    def _group_refs(self, tenant: Tenant, member_id: str) -> list[GroupRef]:
        refs = []
        for group_id in sorted(tenant.membership.group_ids(member_id)):
            group = tenant.find(group_id)
            display = group.data.get("displayName") if group is not None else None
            refs.append(GroupRef(group_id, display))
        return refs

    def _checked(self, tenant: Tenant, members: Iterable[Member], check: bool) -> list[Member]:
        """Copies of `members`, one per id; when `check`, each id must name a resource of the
        tenant and gets that resource's type."""
        unique = {m.value: replace(m) for m in members}
        if not check:
            return list(unique.values())
        unknown = []
        for member in unique.values():
            found = tenant.find(member.value)
            if found is None:
                unknown.append(member.value)
            else:
                member.type = found.resource_type
        if unknown:
            raise UnknownMembers(unknown)
        return list(unique.values())

    @staticmethod
    def _check_version(stored: Resource, expected_version: int | None) -> None:
        if expected_version is not None and expected_version != stored.version:
            raise PreconditionFailed(stored.version)

    # -- resources ------------------------------------------------------------------------
    def create(self, ctx: RequestContext, resource: Resource, *, check_members: bool = True) -> Resource:
        rt = self._type(resource.resource_type)
        with self._lock:
            tenant = self._tenant(ctx)
            taken = tenant.conflict(rt.name, resource.id, resource.data)
            if taken is not None:
                raise Conflict(taken)
            if resource.id in tenant.tables[rt.name]:
                raise Conflict("id")
            members = self._checked(tenant, resource.members or (), check_members)
            if members and not self._has(rt, MEMBERS):
                raise Mutability(f"{rt.name} resources have no members")
            stored = replace(resource.copy(), resource_type=rt.name, version=1, members=None, groups=None)
            tenant.put(stored)
            for member in members:
                tenant.membership.add(stored.id, member)
            return self._loaded(tenant, rt, stored, with_members=True, with_groups=True)

    def get(self, ctx: RequestContext, resource_type: str, id: str, *,
            with_members: bool = True, with_groups: bool = True) -> Resource:
        rt = self._type(resource_type)
        with self._lock:
            tenant = self._tenant(ctx)
            stored = self._stored(tenant, rt, id)
            return self._loaded(tenant, rt, stored, with_members=with_members, with_groups=with_groups)

    def update(self, ctx: RequestContext, resource_type: str, id: str, change: Change, *,
               expected_version: int | None = None, check_members: bool = True,
               now: datetime) -> Resource:
        rt = self._type(resource_type)
        with self._lock:
            tenant = self._tenant(ctx)
            stored = self._stored(tenant, rt, id)
            self._check_version(stored, expected_version)
            if change.touches_members and not self._has(rt, MEMBERS):
                raise Mutability(f"{rt.name} resources have no members")
            if change.data is not None:
                taken = tenant.conflict(rt.name, id, change.data)
                if taken is not None:
                    raise Conflict(taken)
            added = self._checked(tenant, change.add_members, check_members)
            replacing = (None if change.replace_members is None
                         else self._checked(tenant, change.replace_members, check_members))
            # Everything is validated: from here on nothing can fail half-way.
            data = stored.data if change.data is None else change.data
            updated = replace(stored, data=copy.deepcopy(data), version=stored.version + 1, last_modified=now)
            tenant.put(updated)
            if replacing is not None:
                tenant.membership.replace(id, replacing)
            for member_id in change.remove_members:
                tenant.membership.remove(id, member_id)
            for member in added:
                tenant.membership.add(id, member)
            return updated.copy()

    def delete(self, ctx: RequestContext, resource_type: str, id: str, *,
               expected_version: int | None = None) -> None:
        rt = self._type(resource_type)
        with self._lock:
            tenant = self._tenant(ctx)
            stored = self._stored(tenant, rt, id)
            self._check_version(stored, expected_version)
            tenant.remove(stored)

    def query(self, ctx: RequestContext, resource_type: str, query: Query) -> Page:
        rt = self._type(resource_type)
        ordering = Ordering(query.sort, rt, self.catalog)
        with self._lock:
            tenant = self._tenant(ctx)
            table = tenant.tables[rt.name]
            candidates = tenant.candidates(rt.name, query.filter)
            needs = _attributes_read(query)
            if candidates is None:  # every resource: walk the cached order, filter in it
                rows = tenant.ordered((rt.name, query.sort, ctx.base_url), lambda: self._sorted(
                    tenant, rt, table.values(), ordering, needs, ctx.base_url))
                if query.filter is not None:
                    rows = [row for row in rows if matches(
                        query.filter, self._document(tenant, rt, row[1], needs, ctx.base_url), rt, self.catalog)]
            else:
                found = [table[id] for id in candidates if id in table]
                rows = [row for row in self._sorted(tenant, rt, found, ordering, needs, ctx.base_url)
                        if query.filter is None or matches(
                            query.filter, self._document(tenant, rt, row[1], needs, ctx.base_url), rt, self.catalog)]
            if query.after is not None:
                start = ordering.start_after(query.after, rows)
            else:
                start = max(query.start_index, 1) - 1
            selected = rows[start:start + max(query.count, 0)]
            next_keyset = None
            if selected and start + len(selected) < len(rows):
                next_keyset = ordering.keyset(selected[-1][0], selected[-1][1].id)
            resources = [
                self._loaded(tenant, rt, stored, with_members=query.with_members,
                             with_groups=query.with_groups)
                for _, stored in selected
            ]
            return Page(resources=resources, total=len(rows), next_keyset=next_keyset)

    def count_members(self, ctx: RequestContext, group_id: str, *, up_to: int | None = None) -> int:
        rt = self._type("Group")
        with self._lock:
            tenant = self._tenant(ctx)
            self._stored(tenant, rt, group_id)
            return capped(tenant.membership.count(group_id), up_to)

    # -- tokens ---------------------------------------------------------------------------
    def add_token(self, token: Token) -> None:
        with self._lock:
            old_hash = self._token_hashes.pop(token.id, None)
            if old_hash is not None:
                del self._tokens[old_hash]
            self._tokens[token.secret_hash] = replace(token)
            self._token_hashes[token.id] = token.secret_hash

    def find_token(self, secret_hash: str) -> Token | None:
        with self._lock:
            token = self._tokens.get(secret_hash)
            return None if token is None else replace(token)

    def list_tokens(self, tenant: str | None = None) -> list[Token]:
        with self._lock:
            tokens = [replace(t) for t in self._tokens.values() if tenant is None or t.tenant == tenant]
        return sorted(tokens, key=lambda t: (t.created, t.id))

    def delete_token(self, token_id: str) -> bool:
        with self._lock:
            secret_hash = self._token_hashes.pop(token_id, None)
            if secret_hash is None:
                return False
            del self._tokens[secret_hash]
            return True

    def touch_token(self, token_id: str, when: datetime) -> None:
        with self._lock:
            secret_hash = self._token_hashes.get(token_id)
            if secret_hash is not None:
                self._tokens[secret_hash].last_used = when

    def update_token(self, token: Token) -> bool:
        with self._lock:
            secret_hash = self._token_hashes.get(token.id)
            if secret_hash is None:
                return False
            stored = self._tokens[secret_hash]
            stored.last_used, stored.expires, stored.description = (
                token.last_used, token.expires, token.description)
            return True

    # -- tenants --------------------------------------------------------------------------
    def put_tenant(self, tenant: TenantRecord) -> None:
        with self._lock:
            self._records[tenant.id] = replace(tenant)

    def get_tenant(self, tenant_id: str) -> TenantRecord | None:
        with self._lock:
            record = self._records.get(tenant_id)
            return None if record is None else replace(record)

    def list_tenants(self) -> list[TenantRecord]:
        with self._lock:
            records = [replace(record) for record in self._records.values()]
        return sorted(records, key=lambda record: (record.created, record.id))

    def delete_tenant(self, tenant_id: str) -> bool:
        with self._lock:
            self._tenants.pop(tenant_id, None)
            self._logs.pop(tenant_id, None)
            self._counters.forget_tenant(tenant_id)
            for token in [t for t in self._tokens.values() if t.tenant == tenant_id]:
                self.delete_token(token.id)
            return self._records.pop(tenant_id, None) is not None

    # -- provisioning log -----------------------------------------------------------------
    def append_log(self, entry: LogEntry) -> None:
        stored = replace(entry, changed=tuple(entry.changed))
        with self._lock:
            bisect.insort(self._logs.setdefault(entry.tenant, []), stored, key=lambda e: e.id)

    def query_log(self, tenant: str, *, limit: int = 100, before: str | None = None,
                  since: datetime | None = None) -> list[LogEntry]:
        with self._lock:
            entries = self._logs.get(tenant, [])
            end = len(entries) if before is None else bisect.bisect_left(entries, before, key=lambda e: e.id)
            found: list[LogEntry] = []
            for entry in reversed(entries[:end]):
                if len(found) >= limit:
                    break
                if since is None or entry.time >= since:
                    found.append(replace(entry))
            return found

    def prune_log(self, tenant: str, *, keep: int | None = None,
                  older_than: datetime | None = None) -> int:
        with self._lock:
            entries = self._logs.get(tenant, [])
            kept = entries if keep is None else entries[max(len(entries) - keep, 0):]
            if older_than is not None:
                kept = [entry for entry in kept if entry.time >= older_than]
            deleted = len(entries) - len(kept)
            if entries:
                self._logs[tenant] = kept
            return deleted

    # -- counters -------------------------------------------------------------------------
    def hit_counter(self, key: str, window_seconds: int, now: datetime) -> int:
        with self._lock:
            return self._counters.hit(key, window_seconds, now)

    # -- lifecycle ------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._tenants.clear()
            self._tokens.clear()
            self._token_hashes.clear()
            self._records.clear()
            self._logs.clear()
            self._counters = Counters()


def _attributes_read(query: Query) -> set[str]:
    """Top-level attribute names the filter and sort read (to skip loading big member lists)."""
    names = set() if query.filter is None else {path.attribute for path in attribute_paths(query.filter)}
    if query.sort is not None:
        names.add(query.sort.path.attribute)
    return names
