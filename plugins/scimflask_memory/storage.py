"""The in-memory storage backend: the reference implementation of the storage contract.

Filters mean what `scimflask.filter.evaluate.matches` says and order is the reference
`sort_key`, so every other backend is tested against this one's behaviour. Data lives in one
process and is lost on restart: for tests and demos, not for several workers.

It also offers the operating capabilities (`scimflask.storage.capabilities`): tenant records,
the provisioning log and rate-limit counters, all behind the same lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterable
from dataclasses import replace
from datetime import datetime
from urllib.parse import urlsplit

from scimflask.filter.ast import EQ, And, Compare, Filter, Or, ValuePath
from scimflask.filter.evaluate import matches
from scimflask.model import Change, GroupRef, Member, Page, Query, RequestContext, Resource, Token, copy_json
from scimflask.schema.catalog import Catalog, ResourceType
from scimflask.storage import (
    ConfigurationError,
    ResourceNotFound,
    Storage,
    UniqueConflict,
    UnknownMembers,
    VersionMismatch,
)
from scimflask.storage.base import capped
from scimflask.storage.capabilities import (
    CounterSupport,
    LogEntry,
    LogHour,
    LogQuery,
    ProvisioningLogSupport,
    TenantSupport,
)
from scimflask.storage.capabilities import Tenant as TenantRecord

from .counters import Counters
from .log import MemoryLog
from .ordering import Ordering
from .tenant import Found, Row, Tenant

logger = logging.getLogger(__name__)

MEMBERS = "members"
GROUPS = "groups"
# Top-level names a document holds beyond `Resource.data`: a filter or sort reading one of
# them needs the built document, any other reads `data` directly.
DERIVED = frozenset({"id", "meta", "schemas", MEMBERS, GROUPS})
# Index answers up to this size are sorted on each query instead of cached.
SMALL = 64


class MemoryStorage(Storage, TenantSupport, ProvisioningLogSupport, CounterSupport):
    """Per-tenant dicts behind one re-entrant lock. `eq` on unique attributes, `externalId`,
    `emails.value`, `id` and memberships, and `sw` / `eq` on the listed string attributes
    (`indexes.SORTED_ATTRIBUTES`) are answered from indexes; `co` / `sw` / `ew` on the
    `SUBSTRING_INDEXED` ones get trigram candidates; anything else is answered by evaluating
    the reference predicate, at most `Query.max_scan` times. Only the returned page is copied."""

    schemes = ("memory",)
    supports_keyset = True
    indexed_filters = True  # eq, sw and co / ew of 3+ characters come from indexes (see `Tenant.plan`)

    def __init__(self, catalog: Catalog) -> None:
        super().__init__(catalog)
        self._lock = threading.RLock()
        self._tenants: dict[str, Tenant] = {}
        self._tokens: dict[str, Token] = {}  # secret hash -> token
        self._token_hashes: dict[str, str] = {}  # token id -> secret hash
        self._records: dict[str, TenantRecord] = {}
        self._log = MemoryLog()
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

    def _stored(self, tenant: Tenant, rt: ResourceType, id: str) -> Resource:
        resource = tenant.tables[rt.name].get(id)
        if resource is None:
            raise ResourceNotFound(rt.name, id)
        return resource

    def _loaded(self, tenant: Tenant, rt: ResourceType, stored: Resource, *,
                with_members: bool, with_groups: bool) -> Resource:
        """A copy of `stored` the caller may mutate, with members / groups as asked."""
        return self._attach(tenant, rt, stored.copy(), with_members, with_groups)

    def _document(self, tenant: Tenant, rt: ResourceType, stored: Resource, needs: set[str],
                  base_url: str) -> dict:
        """The SCIM document a filter or sort reads, only for reading: `stored.data` itself
        when they read nothing but attributes (it holds every one), the cached full document
        when they read `id` / `meta`, and a fresh one with members / groups only if they read
        those (large groups stay cheap)."""
        if needs.isdisjoint(DERIVED):
            return stored.data
        if MEMBERS in needs or GROUPS in needs:
            view = self._attach(tenant, rt, replace(stored), MEMBERS in needs, GROUPS in needs)
            return view.document(self.catalog.locator(base_url))
        return tenant.document(stored, base_url)

    def _rows(self, tenant: Tenant, rt: ResourceType, ids: Iterable[str], ordering: Ordering,
              needs: set[str], base_url: str) -> list[Row]:
        """`(sort key, id)` rows of `ids` in the query's order."""
        if ordering.sort is None:  # default order: the created keys are kept per resource
            keys = tenant.created_keys[rt.name]
            rows = [(keys[id], id) for id in ids]
            rows.sort()
            return rows
        table = tenant.tables[rt.name]
        rows = [(ordering.key(self._document(tenant, rt, table[id], needs, base_url)), id) for id in ids]
        ordering.sort_rows(rows)
        return rows

    def _matching(self, tenant: Tenant, rt: ResourceType, query: Query, found: Found | None,
                  ordering: Ordering, needs: set[str], base_url: str) -> list[Row]:
        """Every match of `query` as a row, in order: from the index answer `found`, else by
        walking the whole order (the creation order, or the cached sorted one)."""
        if found is not None:
            ids = self._found(tenant, rt, query.filter, found, needs, base_url)
            return self._rows(tenant, rt, ids, ordering, needs, base_url)
        table = tenant.tables[rt.name]
        if query.sort is None:
            everything = tenant.created[rt.name]
        else:
            everything = tenant.ordered((rt.name, query.sort, base_url, None), lambda: self._rows(
                tenant, rt, list(table), ordering, needs, base_url))
        if query.filter is None:
            return everything
        return [row for row in everything
                if self._matches(tenant, rt, query.filter, table[row[1]], needs, base_url)]

    def _found(self, tenant: Tenant, rt: ResourceType, filter: Filter | None, found: Found, needs: set[str],
               base_url: str) -> Collection[str]:
        """The matching ids of an index answer: evaluated only when it is not exact."""
        ids, exact = found
        if exact or filter is None:
            return ids
        table = tenant.tables[rt.name]
        return [id for id in ids if self._matches(tenant, rt, filter, table[id], needs, base_url)]

    def _matches(self, tenant: Tenant, rt: ResourceType, filter: Filter, stored: Resource,
                 needs: set[str], base_url: str) -> bool:
        return matches(filter, self._document(tenant, rt, stored, needs, base_url), rt, self.catalog)

    def _attach(self, tenant: Tenant, rt: ResourceType, resource: Resource,
                members: bool, groups: bool) -> Resource:
        """Set `members` / `groups` on `resource` when asked and its type has them."""
        if members and self.catalog.has_members(rt):
            resource.members = tenant.membership.members(resource.id)
        if groups and self.catalog.has_groups(rt):
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
        unique = {m.value: Member(m.value, m.type, m.display) for m in members}
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
            raise VersionMismatch(stored.version)

    # -- resources ------------------------------------------------------------------------
    def create(self, ctx: RequestContext, resource: Resource, *, check_members: bool = True) -> Resource:
        rt = self._type(resource.resource_type)
        with self._lock:
            tenant = self._tenant(ctx)
            taken = tenant.conflict(rt.name, resource.id, resource.data)
            if taken is not None:
                raise UniqueConflict(taken)
            if resource.id in tenant.tables[rt.name]:
                raise UniqueConflict("id")
            members = self._checked(tenant, resource.members or (), check_members)
            stored = Resource(rt.name, resource.id, copy_json(resource.data), resource.created,
                              resource.last_modified, 1)
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
            if change.data is not None:
                taken = tenant.conflict(rt.name, id, change.data)
                if taken is not None:
                    raise UniqueConflict(taken)
            added = self._checked(tenant, change.add_members, check_members)
            replacing = (None if change.replace_members is None
                         else self._checked(tenant, change.replace_members, check_members))
            # Everything is validated: from here on nothing can fail half-way.
            # Stored data is never mutated, so a membership-only change shares it.
            data = stored.data if change.data is None else copy_json(change.data)
            updated = replace(stored, data=data, version=stored.version + 1, last_modified=now)
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
        needs = query.attributes_read()
        with self._lock:
            tenant = self._tenant(ctx)
            flt = query.filter
            rows: list[Row] | None = None
            if flt is None and query.sort is None:
                rows = tenant.created[rt.name]
            elif not _point_lookup(flt):
                # A listing: its pages come from the cached order, which examines nothing more
                # (so `max_scan` does not apply to it).
                key = (rt.name, query.sort, ctx.base_url, None if flt is None else repr(flt))
                rows = tenant.cached(key)
            if rows is None:
                found = None if flt is None else tenant.lookup(rt.name, flt, query.max_scan)
                if found is not None and len(found[0]) <= SMALL:
                    # An index lookup: no cache, and no sort work for one match unless a keyset
                    # position must be found in it (a lone row never has a next keyset).
                    ids = self._found(tenant, rt, flt, found, needs, ctx.base_url)
                    if len(ids) <= 1 and query.after is None:
                        rows = [((), id) for id in ids]
                    else:
                        rows = self._rows(tenant, rt, ids, ordering, needs, ctx.base_url)
                else:
                    key = (rt.name, query.sort, ctx.base_url, None if flt is None else repr(flt))
                    rows = tenant.ordered(key, lambda: self._matching(
                        tenant, rt, query, found, ordering, needs, ctx.base_url))
            if query.after is not None:
                start = ordering.start_after(query.after, rows)
            else:
                start = max(query.start_index, 1) - 1
            selected = rows[start:start + max(query.count, 0)]
            next_keyset = None
            if selected and start + len(selected) < len(rows):
                next_keyset = ordering.keyset(selected[-1][0], selected[-1][1])
            table = tenant.tables[rt.name]
            resources = [
                self._loaded(tenant, rt, table[id], with_members=query.with_members,
                             with_groups=query.with_groups)
                for _, id in selected
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
            self._log.forget(tenant_id)
            self._counters.forget_tenant(tenant_id)
            for token in [t for t in self._tokens.values() if t.tenant == tenant_id]:
                self.delete_token(token.id)
            return self._records.pop(tenant_id, None) is not None

    # -- provisioning log -----------------------------------------------------------------
    def append_log(self, entry: LogEntry) -> None:
        with self._lock:
            self._log.append(entry)

    def query_log(self, tenant: str, query: LogQuery | None = None) -> list[LogEntry]:
        with self._lock:
            return self._log.query(tenant, query or LogQuery())

    def prune_log(self, tenant: str, *, keep: int | None = None,
                  older_than: datetime | None = None) -> int:
        with self._lock:
            return self._log.prune(tenant, keep, older_than)

    def log_hours(self, tenant: str, since: datetime) -> list[LogHour]:
        with self._lock:
            return self._log.hours(tenant, since)

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
            self._log.clear()
            self._counters = Counters()


def _point_lookup(node: Filter | None) -> bool:
    """Whether `node` is made of `eq` comparisons only (alone, in a value path, and/or-ed):
    index answers so small that keying the order cache by the filter would cost more than
    answering again."""
    if isinstance(node, Compare):
        return node.op == EQ
    if isinstance(node, ValuePath):
        return _point_lookup(node.filter)
    if isinstance(node, (And, Or)):
        return _point_lookup(node.left) and _point_lookup(node.right)
    return False


