"""Shared pieces of the Redis backend's tests: clients, a fresh storage, an index checker."""

from __future__ import annotations

import os
import uuid

import pytest
from scimflask_redis import RedisStorage, keys

from scimflask.schema import default_catalog

REDIS_URL = os.environ.get("SCIMFLASK_TEST_REDIS_URL")
needs_real_redis = pytest.mark.skipif(
    not REDIS_URL, reason="set SCIMFLASK_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/15) to run against a real Redis")


def fake_storage(**options) -> RedisStorage:
    """A storage on a private fakeredis server (scripts need the `lupa` package)."""
    import fakeredis

    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    return RedisStorage.from_uri("redis://", {"client": client, **options}, default_catalog())


def unique_prefix() -> str:
    """A key prefix no other test (or app) uses, so tests can share one real Redis db."""
    return f"scimtest:{uuid.uuid4().hex}:"


def real_storage(prefix: str | None = None) -> RedisStorage:
    return RedisStorage.from_uri(REDIS_URL, {"prefix": prefix or unique_prefix()}, default_catalog())


def drop_prefix(client, prefix: str) -> None:
    """Delete every key under `prefix` (SCAN-based: never blocks the server)."""
    batch = []
    for key in client.scan_iter(match=prefix.replace("{", "\\{").replace("}", "\\}") + "*", count=500):
        batch.append(key)
        if len(batch) >= 500:
            client.delete(*batch)
            batch.clear()
    if batch:
        client.delete(*batch)


# Both Redis flavours a storage test runs on: fakeredis always, the real server when CI sets it.
REDIS_KINDS = [
    pytest.param("fakeredis", id="fakeredis"),
    pytest.param("redis", id="redis", marks=[needs_real_redis, pytest.mark.redis]),
]


def storage_of(kind: str):
    """A fresh storage on `kind` (for a fixture to yield from): the real server's under a key
    prefix of its own, removed afterwards."""
    if kind == "fakeredis":
        yield fake_storage()
        return
    prefix = unique_prefix()
    storage = real_storage(prefix)
    yield storage
    drop_prefix(storage.client, prefix)
    storage.close()


def index_problems(storage: RedisStorage, tenant: str = "default") -> list[str]:
    """Every way the tenant's indexes disagree with its resources (empty when consistent).

    Walks all keys of the tenant: each resource's stored index entries must be what its data
    gives now and be present in their indexes; each index member must belong to an existing
    resource that claims it; both membership directions must mirror each other and name
    existing groups.
    """
    from scimflask_redis.indexes import TypeIndexes, parse_entry
    from scimflask_redis.reader import Reader
    from scimflask_redis.scripts import pack_entries

    client, base = storage.client, keys.tenant_base(storage.prefix, tenant)
    reader = Reader(client, base, storage.catalog)
    problems: list[str] = []
    claimed: set[tuple[str, str, str]] = set()  # (key suffix, member or field, id)
    types = {rt.name: rt for rt in storage.catalog.resource_types}
    all_keys = sorted(k.decode("utf-8", "surrogateescape")[len(base):] for k in client.scan_iter(
        match=base.replace("{", "\\{").replace("}", "\\}") + "*", count=1000))
    for suffix in all_keys:
        if not suffix.startswith("r:"):
            continue
        _, type_name, id = suffix.split(":", 2)
        rt = types[type_name]
        resource = reader.records(rt, [id])[0]
        indexes = TypeIndexes(storage.catalog, rt)
        expected = {
            "x": pack_entries(indexes.data_entries(resource)),
            "xm": pack_entries(indexes.meta_entries(resource, "lastModified")),
            "xc": pack_entries(indexes.meta_entries(resource, "created")),
        }
        for field, packed in expected.items():
            stored = client.hget(base + suffix, field)
            if stored != packed:
                problems.append(f"{suffix}: stale {field} entries")
            flat = _unpack(stored or b"")
            for i in range(0, len(flat), 4):
                kind, key, item = flat[i], flat[i + 1], flat[i + 2]
                if kind == "u":
                    ok = client.hget(base + key, item) == id.encode()
                elif kind == "s":
                    ok = client.sismember(base + key, id)
                else:
                    ok = client.zscore(base + key, item.encode("utf-8", "surrogateescape")) is not None
                claimed.add((key, item if kind != "s" else "", id))
                if not ok:
                    problems.append(f"{suffix}: missing from index {key!r}")
    for suffix in all_keys:
        key = base + suffix
        if suffix.startswith("u:"):
            for field, id in client.hgetall(key).items():
                if (suffix, field.decode(), id.decode()) not in claimed:
                    problems.append(f"{suffix}: {field!r} -> {id!r} claimed by no resource")
        elif suffix.startswith("i:"):
            for id in client.smembers(key):
                if (suffix, "", id.decode()) not in claimed:
                    problems.append(f"{suffix}: {id!r} claimed by no resource")
        elif suffix[:2] in ("o:", "O:") or (suffix.startswith("l:") and suffix.count(":") >= 2):
            for entry in client.zrange(key, 0, -1):
                id = parse_entry(entry, suffix.startswith("O:"))[1]
                if (suffix, entry.decode("utf-8", "surrogateescape"), id) not in claimed:
                    problems.append(f"{suffix}: entry of {id!r} claimed by no resource")
        elif suffix.startswith("gm:"):
            gid = suffix[3:]
            if not any(client.exists(base + keys.resource(t, gid)) for t in types):
                problems.append(f"{suffix}: group {gid!r} does not exist")
            for mid in client.hkeys(key):
                if not client.sismember(base + keys.member_groups(mid.decode()), gid):
                    problems.append(f"{suffix}: member {mid!r} lacks the reverse row")
        elif suffix.startswith("mg:"):
            mid = suffix[3:]
            for gid in client.smembers(key):
                if not client.hexists(base + keys.group_members(gid.decode()), mid):
                    problems.append(f"{suffix}: group {gid!r} lacks the member row")
    return problems


def _unpack(packed: bytes) -> list[str]:
    """A packed list (see lua/common.lua); undecodable bytes kept as surrogates."""
    out, i = [], 0
    while i < len(packed):
        colon = packed.index(b":", i)
        n = int(packed[i:colon])
        out.append(packed[colon + 1:colon + 1 + n].decode("utf-8", "surrogateescape"))
        i = colon + 1 + n
    return out
