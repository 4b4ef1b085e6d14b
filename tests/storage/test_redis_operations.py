"""What the Redis backend promises about the operating capabilities beyond the contract:
tenant deletion by SCAN in batches, key placement, counter expiry, and counters that stay
exact across worker processes."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
from scimflask_redis import keys
from scimflask_redis import storage as redis_storage

from scimflask.model import Member, RequestContext, Resource, Token
from scimflask.storage import Tenant

from .forked_counts import counts_from_forked_processes
from .redis_helpers import drop_prefix, fake_storage, needs_real_redis, real_storage, unique_prefix

NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)
DOOMED, KEPT = RequestContext(tenant="doomed"), RequestContext(tenant="kept")


def _tenant_keys(storage, tenant: str) -> set[bytes]:
    return set(storage.client.scan_iter(match=keys.tenant_pattern(storage.prefix, tenant)))


def _populate(storage, ctx: RequestContext, users: int) -> None:
    ids = []
    for n in range(users):
        ids.append(storage.create(ctx, Resource("User", str(uuid.uuid4()), {
            "userName": f"user{n}", "externalId": f"x{n}", "emails": [{"value": f"u{n}@example.com"}]},
            NOW, NOW)).id)
    storage.create(ctx, Resource("Group", str(uuid.uuid4()), {"displayName": "all"}, NOW, NOW,
                                 members=[Member(id) for id in ids]))


def test_delete_tenant_scans_in_batches_and_never_lists_all_keys(monkeypatch):
    storage = fake_storage()
    _populate(storage, DOOMED, 40)
    _populate(storage, KEPT, 5)
    kept_before = _tenant_keys(storage, KEPT.tenant)
    assert len(_tenant_keys(storage, DOOMED.tenant)) > 100

    scans: list[int] = []
    original_scan = storage.client.scan

    def counting_scan(*args, **kwargs):
        scans.append(kwargs.get("count"))
        return original_scan(*args, **kwargs)

    def forbidden(*args, **kwargs):
        raise AssertionError("KEYS blocks the server; delete_tenant must SCAN")

    monkeypatch.setattr(redis_storage, "SCAN_BATCH", 10)
    monkeypatch.setattr(storage.client, "scan", counting_scan)
    monkeypatch.setattr(storage.client, "keys", forbidden)
    assert storage.delete_tenant(DOOMED.tenant) is False  # data but no record
    assert len(scans) > 2 and set(scans) == {10}
    assert _tenant_keys(storage, DOOMED.tenant) == set()
    assert _tenant_keys(storage, KEPT.tenant) == kept_before


def test_tenants_named_like_the_global_keys_leave_them_alone():
    storage = fake_storage()
    storage.put_tenant(Tenant(KEPT.tenant, NOW))
    secret = Token("tok-1", KEPT.tenant, "f" * 64, NOW)
    storage.add_token(secret)
    for name in ("tokens", "tenants"):
        storage.put_tenant(Tenant(name, NOW))
        storage.create(RequestContext(tenant=name), Resource("User", "u-1", {"userName": "x"}, NOW, NOW))
        assert storage.delete_tenant(name) is True
    assert storage.find_token(secret.secret_hash) == secret
    assert [t.id for t in storage.list_tenants()] == [KEPT.tenant]


def test_global_keys_and_counter_lifetime():
    storage = fake_storage()
    storage.put_tenant(Tenant(KEPT.tenant, NOW))
    assert storage.hit_counter(f"{KEPT.tenant}:tok-1", 60, NOW) == 1
    names = {key.decode() for key in storage.client.scan_iter()}
    start = int(NOW.timestamp())
    assert names == {"scim:{tenants}:records", f"scim:ctr:kept%3Atok-1:{start}"}
    assert 0 < storage.client.ttl(f"scim:ctr:kept%3Atok-1:{start}") <= 120


def test_log_keys_carry_the_tenant_hash_tag():
    from scimflask.testing.contract_operations import log_entry

    storage = fake_storage()
    storage.append_log(log_entry(KEPT.tenant, NOW, status=409, outcome="failure", resource_id="u-1"))
    hour = int(NOW.timestamp()) // 3600
    assert {key.decode() for key in storage.client.scan_iter()} == {
        "scim:{kept}:lg:i", "scim:{kept}:lg:t", "scim:{kept}:lg:e", "scim:{kept}:lg:f", "scim:{kept}:lg:r",
        "scim:{kept}:lg:hs", f"scim:{{kept}}:lg:h:{hour}"}


# -- several processes --------------------------------------------------------------------
WORKERS, HITS = 4, 50


def _hammer(prefix: str, key: str, barrier, results) -> None:
    storage = real_storage(prefix)
    barrier.wait()
    results.put([storage.hit_counter(key, 60, NOW) for _ in range(HITS)])
    storage.close()


@needs_real_redis
@pytest.mark.redis
def test_processes_hitting_one_counter_each_get_their_own_count():
    prefix, key = unique_prefix(), f"{KEPT.tenant}:{uuid.uuid4()}"
    storage = real_storage(prefix)
    try:
        # Each forked child builds its own client.
        counts = counts_from_forked_processes(_hammer, (prefix, key), WORKERS)
        assert counts == list(range(1, WORKERS * HITS + 1))
    finally:
        drop_prefix(storage.client, prefix)
        storage.close()
