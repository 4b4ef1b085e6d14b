"""The Redis storage backend (redis-py): atomic, indexed, Cluster-ready.

- Layout: `keys` (one hash-tagged key space per tenant); indexes: `indexes`; what each filter
  and sort costs: `query`; atomic writes: `scripts` (Lua).
- Every write is one Lua script, so uniqueness, version compare-and-set, index maintenance and
  membership changes are atomic across workers and machines. A read (get, an indexed query, a
  page) is one read-only script too (lua/read.lua): one round trip; scans are pipelined.
- Connection errors and timeouts become `StorageUnavailable` (503) through `base_exceptions`;
  the client's connection pool reconnects on the next call, so the app recovers by itself
  (through a Sentinel failover too: the client asks the Sentinels for the new primary).
- `wait_replicas=N` makes every write wait until N replicas have it (`replicas`).
- The operating capabilities: tenant records in one global hash, the provisioning log in the
  tenant's key space, rate-limit counters as self-expiring keys (see `keys`). Deleting a tenant
  SCANs its keys in batches (never KEYS), so it does not block the server, but it is not one
  atomic step: tokens go first, so no new request of the tenant can write meanwhile.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

from scimflask.model import Change, Member, Page, Query, RequestContext, Resource, Token
from scimflask.schema.catalog import Catalog, ResourceType
from scimflask.storage import ConfigurationError, ResourceNotFound, Storage, StorageUnavailable
from scimflask.storage.base import capped
from scimflask.storage.capabilities import (
    CounterSupport,
    IndexMaintenance,
    LogEntry,
    LogHour,
    LogQuery,
    ProvisioningLogSupport,
    Tenant,
    TenantSupport,
)

from . import keys, log
from .connect import OURS, STORAGE_TIMEOUT, durability, make_client, split_ours
from .indexes import PREFIX_SIGNATURE, TRIGRAM_SIGNATURE, TypeIndexes, parse_entry
from .query import QueryRunner
from .reader import (
    EPOCH,
    Many,
    Reader,
    from_micros,
    member_type_prefixes,
    to_micros,
)
from .replicas import AcknowledgedWriter, Writer
from .scripts import Scripts, pack, pack_entries, pack_trigrams

try:  # redis-py is an optional dependency: without it the backend refuses to start
    import redis.exceptions as _redis_errors

    _UNAVAILABLE: tuple[type[BaseException], ...] = (
        _redis_errors.ConnectionError,  # includes BusyLoadingError, MasterNotFoundError
        _redis_errors.TimeoutError,
        _redis_errors.ReadOnlyError,  # a replica promoted mid-failover
        _redis_errors.ClusterDownError,
        _redis_errors.TryAgainError,
        _redis_errors.OutOfMemoryError,  # maxmemory reached: writes refused until it is fixed
        # A Cluster whose slot map cannot be loaded or has a hole (a node lost, no failover yet);
        # the class also covers cross-slot misuse, which the key scheme rules out.
        _redis_errors.RedisClusterException,
    )
except ImportError:  # pragma: no cover - exercised only without the redis extra
    _UNAVAILABLE = ()

_JSON = {"ensure_ascii": False, "separators": (",", ":")}
SCAN_BATCH = 500  # keys per SCAN step and per UNLINK


class RedisStorage(Storage, TenantSupport, ProvisioningLogSupport, CounterSupport, IndexMaintenance):
    """Resources, indexes and memberships in Redis; see the module docstring."""

    schemes = ("redis", "rediss", "unix", "redis+unix", "redis+sentinel", "redis+cluster")
    base_exceptions = _UNAVAILABLE
    supports_keyset = True
    indexed_filters = True  # eq, sw and co / ew of 3+ characters come from indexes (see `query`)

    def __init__(self, catalog: Catalog, client, *, prefix: str = keys.DEFAULT_PREFIX,
                 owns_client: bool = True, wait_replicas: int = 0, wait_timeout_ms: int = 0) -> None:
        super().__init__(catalog)
        self.client = client
        self.prefix = prefix
        self._owns_client = owns_client
        self._direct = Writer(client)  # for writes no replica needs to acknowledge
        self._writes = (AcknowledgedWriter(client, wait_replicas, wait_timeout_ms) if wait_replicas
                        else self._direct)
        self._scripts = Scripts(client, self._writes)
        self._log = log.LogReader(client, prefix)
        self._indexes = {rt.name: TypeIndexes(catalog, rt) for rt in catalog.resource_types}
        self._member_types = [rt for rt in catalog.resource_types]
        layout = [keys.group_members(""), keys.member_groups(""), keys.trigram_numbers()]
        for rt in self._member_types:
            layout += [rt.name, keys.resource_prefix(rt.name)]
        self._layout = pack(layout)
        self._member_prefixes = member_type_prefixes(catalog)

    @classmethod
    def from_uri(cls, uri: str, options: dict, catalog: Catalog) -> RedisStorage:
        """Build from `SCIM_STORAGE_URI` and `SCIM_STORAGE_OPTIONS` (see `connect`)."""
        options = dict(options)
        uri, ours = split_ours(uri)
        given = {name: options.pop(name) for name in OURS if name in options}
        ours.update({name: value for name, value in given.items() if value is not None})
        prefix = ours.get("prefix") or keys.DEFAULT_PREFIX
        replicas, timeout_ms = durability(ours, uri, options)
        client = options.pop("client", None)
        if client is not None:
            options.pop(STORAGE_TIMEOUT, None)  # an injected client keeps its own timeouts
            if options:
                raise ConfigurationError(
                    f"SCIM_STORAGE_OPTIONS: with an injected `client` only {', '.join(OURS)} may be "
                    f"given, not {', '.join(sorted(options))}")
            return cls(catalog, client, prefix=prefix, owns_client=False, wait_replicas=replicas,
                       wait_timeout_ms=timeout_ms)
        return cls(catalog, make_client(uri, options), prefix=prefix, wait_replicas=replicas,
                   wait_timeout_ms=timeout_ms)

    # -- helpers ------------------------------------------------------------------------
    def _type(self, name: str) -> ResourceType:
        return self.catalog.resource_type(name)

    def _reader(self, ctx: RequestContext) -> Reader:
        return Reader(self.client, keys.tenant_base(self.prefix, ctx.tenant), self.catalog,
                      self._scripts.read, self._layout, self._member_prefixes)

    def _head(self, ctx: RequestContext) -> list:
        """The arguments every script starts with: tenant base and key layout."""
        return [keys.tenant_base(self.prefix, ctx.tenant), self._layout]

    def _key(self, ctx: RequestContext, rt: ResourceType, id: str) -> str:
        return keys.tenant_base(self.prefix, ctx.tenant) + keys.resource(rt.name, id)

    @staticmethod
    def _unique_members(members: Sequence[Member]) -> list[Member]:
        """One Member per id (the first), as copies."""
        seen: dict[str, Member] = {}
        for member in members:
            seen.setdefault(member.value, Member(member.value, member.type, member.display))
        return list(seen.values())

    # -- resources ----------------------------------------------------------------------
    def create(self, ctx: RequestContext, resource: Resource, *, check_members: bool = True) -> Resource:
        rt = self._type(resource.resource_type)
        members = self._unique_members(resource.members or ())
        stored = Resource(rt.name, resource.id, resource.data, resource.created, resource.last_modified, 1)
        stored = stored.copy()
        indexes = self._indexes[rt.name]
        members = self._scripts.create(
            self._key(ctx, rt, stored.id), self._head(ctx), resource_type=rt.name, id=stored.id,
            created=to_micros(stored.created), modified=to_micros(stored.last_modified),
            data=json.dumps(stored.data, **_JSON),
            entries=pack_entries(indexes.data_entries(stored)),
            modified_entries=pack_entries(indexes.meta_entries(stored, "lastModified")),
            created_entries=pack_entries(indexes.meta_entries(stored, "created")),
            trigrams=pack_trigrams(indexes.data_trigrams(stored)),
            members=members, check_members=check_members,
            ready=(indexes.ready_key, PREFIX_SIGNATURE, indexes.ordered_key(indexes.default_order),
                   indexes.trigram_ready_key, TRIGRAM_SIGNATURE),
        )
        if self.catalog.has_members(rt):
            stored.members = members
        if self.catalog.has_groups(rt):
            stored.groups = []
        return stored

    def get(self, ctx: RequestContext, resource_type: str, id: str, *,
            with_members: bool = True, with_groups: bool = True) -> Resource:
        """One round trip: read.lua loads the record and the memberships asked for."""
        rt = self._type(resource_type)
        loaded = self._reader(ctx).read(rt, plan=pack(["ids", "", id, ""]), limit=1, mode="load",
                                        with_members=with_members, with_groups=with_groups, attach_up_to=1)
        if isinstance(loaded, Many) or not loaded.resources:
            raise ResourceNotFound(rt.name, id)
        return loaded.resources[0]

    def update(self, ctx: RequestContext, resource_type: str, id: str, change: Change, *,
               expected_version: int | None = None, check_members: bool = True,
               now: datetime) -> Resource:
        rt = self._type(resource_type)
        indexes = self._indexes[rt.name]
        text = None if change.data is None else json.dumps(change.data, **_JSON)
        data = None if text is None else json.loads(text)  # a copy, as stored
        # Entries depend only on data and the timestamps; `created` plays no part in them.
        probe = Resource(rt.name, id, data or {}, now, now)
        replacing = change.replace_members is not None
        updated = self._scripts.update(
                self._key(ctx, rt, id), self._head(ctx), resource_type=rt.name, id=id,
                expected_version=expected_version,
                modified=to_micros(now),
                modified_entries=pack_entries(indexes.meta_entries(probe, "lastModified")),
                data=text,
                entries=None if data is None else pack_entries(indexes.data_entries(probe)),
                trigrams=None if data is None else pack_trigrams(indexes.data_trigrams(probe)),
                replace_members=replacing,
                members=self._unique_members(change.replace_members if replacing else change.add_members),
                remove=list(dict.fromkeys(change.remove_members)), check_members=check_members,
            )
        return Resource(rt.name, id, json.loads(updated.data) if data is None else data,
                        from_micros(updated.created), now, updated.version)

    def delete(self, ctx: RequestContext, resource_type: str, id: str, *,
               expected_version: int | None = None) -> None:
        rt = self._type(resource_type)
        self._scripts.delete(self._key(ctx, rt, id), self._head(ctx), resource_type=rt.name, id=id,
                             expected_version=expected_version)

    def query(self, ctx: RequestContext, resource_type: str, query: Query) -> Page:
        rt = self._type(resource_type)
        return QueryRunner(self._reader(ctx), self._indexes[rt.name], rt, self.catalog, ctx, query).run()

    def rebuild_indexes(self, tenant: str) -> int:
        """The upgrade step for data written before an index existed (the prefix and trigram
        indexes): re-derive every resource's data entries and trigrams, then mark the type's
        indexes ready so queries use them (until then they scan, so results are right either
        way). Safe while the tenant is in use: each resource is rewritten by a compare-and-set on
        its version, and read again when it changed meanwhile. O(n): one pipelined read per
        `SCAN_BATCH` resources and one script per resource. Returns the number rewritten.
        The tenant's log entries stored before identity keys are rewritten with theirs too
        (`log.without_identity_key`: O(n) reads, one script per batch; not counted), which
        takes those stored with words per entry out of `lg:w`."""
        log_keys = log.LogKeys.of(self.prefix, tenant)
        for batch in log.without_identity_key(self.client, log_keys):
            self._append_log(batch, log_keys, reindex=True)
        ctx = RequestContext(tenant=tenant)
        reader, done = self._reader(ctx), 0
        for rt in self.catalog.resource_types:
            indexes = self._indexes[rt.name]
            key, low = reader.key(indexes.ordered_key(indexes.default_order)), b"-"
            while True:
                entries = self.client.zrangebylex(key, low, b"+", 0, SCAN_BATCH)
                ids = [parse_entry(entry)[1] for entry in entries]
                done += sum(self._reindex(ctx, rt, resource) for resource in reader.records(rt, ids))
                if len(entries) < SCAN_BATCH:
                    break
                low = b"(" + entries[-1]
            markers = [(reader.key(indexes.ready_key), PREFIX_SIGNATURE),
                       (reader.key(indexes.trigram_ready_key), TRIGRAM_SIGNATURE)]

            def mark(pipe, markers=markers):
                for marker, signature in markers:
                    pipe.set(marker, signature)

            self._writes.commands(markers[0][0], mark)
        return done

    def _reindex(self, ctx: RequestContext, rt: ResourceType, resource: Resource | None) -> bool:
        """Rewrite one resource's data entries and trigrams, reading it again as long as it
        changes in between (even a change that kept its data bumps the version); False when
        it is gone."""
        indexes, reader = self._indexes[rt.name], self._reader(ctx)
        while resource is not None:
            if self._scripts.reindex(
                    self._key(ctx, rt, resource.id), self._head(ctx), id=resource.id, version=resource.version,
                    entries=pack_entries(indexes.data_entries(resource)),
                    trigrams=pack_trigrams(indexes.data_trigrams(resource))):
                return True
            resource = reader.records(rt, [resource.id])[0]
        return False

    def count_members(self, ctx: RequestContext, group_id: str, *, up_to: int | None = None) -> int:
        """HLEN of the group's member hash: O(1) whatever the group's size."""
        rt = self._type("Group")
        reader = self._reader(ctx)
        pipe = self.client.pipeline(transaction=False)
        pipe.exists(reader.key(keys.resource(rt.name, group_id)))
        pipe.hlen(reader.key(keys.group_members(group_id)))
        exists, count = pipe.execute()
        if not exists:
            raise ResourceNotFound(rt.name, group_id)
        return capped(count, up_to)

    # -- tokens -------------------------------------------------------------------------
    # `{tokens}:t:<id>` hash (the record), `{tokens}:h` hash secret hash -> id,
    # `{tokens}:z` sorted set of ids by creation (µs). Changed by scripts, one step each.
    def _token_key(self, suffix: str) -> str:
        return keys.token_base(self.prefix) + suffix

    def _token_keys(self, token_id: str) -> list[str]:
        return [self._token_key(f"t:{token_id}"), self._token_key("h"), self._token_key("z")]

    def add_token(self, token: Token) -> None:
        record = {
            "id": token.id, "tenant": token.tenant, "secret_hash": token.secret_hash,
            "created": to_micros(token.created), "description": token.description,
            "expires": None if token.expires is None else to_micros(token.expires),
        }
        self._scripts.add_token(self._token_keys(token.id), token.id, token.secret_hash,
                                json.dumps(record, **_JSON), record["created"],
                                None if token.last_used is None else to_micros(token.last_used))

    def _tokens(self, ids: Sequence[str]) -> list[Token]:
        pipe = self.client.pipeline(transaction=False)
        for id in ids:
            pipe.hmget(self._token_key(f"t:{id}"), "json", "last_used")
        return [_token(json.loads(raw), last_used) for raw, last_used in pipe.execute() if raw is not None]

    def find_token(self, secret_hash: str) -> Token | None:
        id = self.client.hget(self._token_key("h"), secret_hash)
        found = self._tokens([id.decode()]) if id is not None else []
        return found[0] if found and found[0].secret_hash == secret_hash else None

    def list_tokens(self, tenant: str | None = None) -> list[Token]:
        ids = [id.decode() for id in self.client.zrange(self._token_key("z"), 0, -1)]
        tokens = [t for t in self._tokens(ids) if tenant is None or t.tenant == tenant]
        return sorted(tokens, key=lambda t: (t.created, t.id))

    def delete_token(self, token_id: str) -> bool:
        return self._scripts.delete_token(self._token_keys(token_id), token_id)

    def touch_token(self, token_id: str, when: datetime) -> None:
        self._scripts.touch_token(self._token_key(f"t:{token_id}"), to_micros(when))

    def update_token(self, token: Token) -> bool:
        key = self._token_key(f"t:{token.id}")
        while True:  # compare-and-set: retried only if add_token replaced the record meanwhile
            raw = self.client.hget(key, "json")
            if raw is None:
                return False
            record = json.loads(raw)
            record["description"] = token.description
            record["expires"] = None if token.expires is None else to_micros(token.expires)
            last_used = None if token.last_used is None else to_micros(token.last_used)
            done = self._scripts.update_token(key, raw, json.dumps(record, **_JSON), last_used)
            if done >= 0:
                return done == 1

    # -- tenants ------------------------------------------------------------------------
    def put_tenant(self, tenant: Tenant) -> None:
        record = json.dumps({"id": tenant.id, "created": to_micros(tenant.created), "disabled": tenant.disabled,
                             "description": tenant.description}, **_JSON)
        registry = keys.tenant_registry(self.prefix)
        self._writes.commands(registry, lambda pipe: pipe.hset(registry, tenant.id, record))

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        raw = self.client.hget(keys.tenant_registry(self.prefix), tenant_id)
        return None if raw is None else _tenant(json.loads(raw))

    def list_tenants(self) -> list[Tenant]:
        records = self.client.hvals(keys.tenant_registry(self.prefix))
        return sorted((_tenant(json.loads(raw)) for raw in records), key=lambda t: (t.created, t.id))

    def delete_tenant(self, tenant_id: str) -> bool:
        for token in self.list_tokens(tenant_id):
            self.delete_token(token.id)
        base = keys.tenant_base(self.prefix, tenant_id)
        kinds = tuple(kind.encode() for kind in keys.TENANT_KINDS)
        self._unlink_scanned(keys.tenant_pattern(self.prefix, tenant_id),
                             lambda key: key[len(base.encode()):].startswith(kinds), route=base)
        self._unlink_scanned(keys.tenant_counters_pattern(self.prefix, tenant_id), lambda key: True)
        registry = keys.tenant_registry(self.prefix)
        return bool(self._writes.commands(registry, lambda pipe: pipe.hdel(registry, tenant_id))[0])

    def _unlink_scanned(self, pattern: str, wanted, route: str | None = None) -> None:
        """UNLINK every key matching `pattern` that `wanted(key)` accepts, a batch at a time.
        With `route` (a key of the one slot every matching key is in) batches go through the
        writer; without, one key per command straight to the client (counters live in
        different Cluster slots, and need no replica's acknowledgement)."""
        batch: list[bytes] = []
        for key in self.client.scan_iter(match=pattern, count=SCAN_BATCH):
            if wanted(key):
                batch.append(key)
            if len(batch) >= SCAN_BATCH:
                self._unlink(batch, route)
                batch = []
        self._unlink(batch, route)

    def _unlink(self, batch: list[bytes], route: str | None) -> None:
        def queue(pipe):
            for key in batch:
                pipe.unlink(key)

        if not batch:
            return
        if route is None:
            self._direct.commands("", queue)
        else:
            self._writes.commands(route, queue)

    # -- provisioning log (see `log`) ----------------------------------------------------
    def append_log(self, entry: LogEntry) -> None:
        self.append_logs([entry])

    def append_logs(self, entries: list[LogEntry]) -> None:
        """Scripts per tenant (a script stays in one slot), each of at most `log.APPEND_CHUNK`
        entries."""
        by_tenant: dict[str, list[LogEntry]] = {}
        for entry in entries:
            by_tenant.setdefault(entry.tenant, []).append(entry)
        try:
            for tenant, batch in by_tenant.items():
                self._append_log(batch, log.LogKeys.of(self.prefix, tenant))
        except self.base_exceptions as exc:
            raise StorageUnavailable(f"{type(self).__name__}: {type(exc).__name__}") from exc

    def _append_log(self, entries: list[LogEntry], log_keys: log.LogKeys, *, reindex: bool = False) -> None:
        """One tenant's entries, `log.APPEND_CHUNK` per script (see `log.append_chunks`)."""
        for chunk in log.append_chunks(entries, log_keys, reindex=reindex):
            self._scripts.append_log(*chunk)

    def query_log(self, tenant: str, query: LogQuery | None = None) -> list[LogEntry]:
        return self._log.query(tenant, query or LogQuery())

    def prune_log(self, tenant: str, *, keep: int | None = None,
                  older_than: datetime | None = None) -> int:
        """One script per `log.PRUNE_CHUNK` entries, until one deletes fewer."""
        log_keys = log.LogKeys.of(self.prefix, tenant)
        chunk = log.PRUNE_CHUNK
        arguments, deleted = log.prune_arguments(log_keys, keep, older_than, chunk), 0
        while True:
            done = self._scripts.prune_log(log_keys.scripted, arguments)
            deleted += done
            if done < chunk:
                return deleted

    def log_hours(self, tenant: str, since: datetime) -> list[LogHour]:
        try:
            return self._log.hours(tenant, since)
        except self.base_exceptions as exc:
            raise StorageUnavailable(f"{type(self).__name__}: {type(exc).__name__}") from exc

    # -- counters -------------------------------------------------------------------------
    def hit_counter(self, key: str, window_seconds: int, now: datetime) -> int:
        """INCR and EXPIRE (two windows, so a late worker still finds it) in one script."""
        seconds = (now - EPOCH) // timedelta(seconds=1)
        start = seconds // window_seconds * window_seconds
        return self._scripts.hit_counter(keys.counter(self.prefix, key, start), window_seconds * 2)

    # -- lifecycle ----------------------------------------------------------------------
    def ping(self) -> None:
        self.client.ping()

    def close(self) -> None:
        if self._owns_client:
            self.client.close()


def _token(record: dict, last_used: bytes | None) -> Token:
    def instant(value):
        return None if value is None else from_micros(value)

    return Token(record["id"], record["tenant"], record["secret_hash"], from_micros(record["created"]),
                 record["description"], instant(last_used), instant(record["expires"]))


def _tenant(record: dict) -> Tenant:
    return Tenant(record["id"], from_micros(record["created"]), record["disabled"], record["description"])

