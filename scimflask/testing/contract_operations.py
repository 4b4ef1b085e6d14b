"""Contract: the optional operating capabilities (`scimflask.storage.capabilities`); the
provisioning log's own contract is in `contract_log` and `contract_log_query`.

Each test skips by itself when the backend lacks the capability it checks, so a backend that
implements none of them still passes `AllContracts`.

Conventions the tests rely on (and features built on the capabilities follow):
- log entry ids are `f"{time_ns:020d}-{random hex}"`, so their order is time order;
- a counter key belongs to a tenant when it starts with `<tenant id>:`.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from ..model import Query, Token
from ..storage import ResourceNotFound
from ..storage.capabilities import (
    CounterSupport,
    LogEntry,
    ProvisioningLogSupport,
    Tenant,
    TenantSupport,
)
from .contract_concurrency import _run_together
from .contract_support import OTHER_TENANT, TENANT, group, new_id, timestamp, user
from .contract_tokens import token

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
LOG_START = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
# A window boundary for every window size the tests use (a multiple of 3600 seconds).
ALIGNED = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)


def _require(storage, capability: type) -> None:
    if not isinstance(storage, capability):
        pytest.skip(f"{type(storage).__name__} does not implement {capability.__name__}")


def log_entry(tenant: str, when: datetime, **fields) -> LogEntry:
    """An entry as the provisioning log writes it, its id sorting in time order."""
    time_ns = (when - _EPOCH) // timedelta(microseconds=1) * 1000
    values = {"method": "POST", "path": "/Users", "status": 201, "outcome": "success", **fields}
    return LogEntry(f"{time_ns:020d}-{secrets.token_hex(4)}", tenant, when, **values)


def _minutes(entries: list[LogEntry]) -> list[int]:
    return [int((entry.time - LOG_START) / timedelta(minutes=1)) for entry in entries]


def _log_series(storage, tenant: str, count: int) -> list[LogEntry]:
    """`count` entries one minute apart from LOG_START, appended in shuffled order."""
    entries = [log_entry(tenant, LOG_START + timedelta(minutes=n)) for n in range(count)]
    for entry in entries[1::2] + entries[0::2]:
        storage.append_log(entry)
    return entries


class TenantContract:
    def test_put_get_list_and_replace(self, scim_storage):
        _require(scim_storage, TenantSupport)
        later = Tenant("zeta", timestamp(), description="Zeta Corp")
        earlier = Tenant("omega", later.created - timedelta(days=1))
        scim_storage.put_tenant(later)
        scim_storage.put_tenant(earlier)
        assert scim_storage.get_tenant("zeta") == later
        assert scim_storage.get_tenant("nobody") is None
        assert [t.id for t in scim_storage.list_tenants()] == ["omega", "zeta"]

        scim_storage.put_tenant(replace(later, disabled=True, description="suspended"))
        stored = scim_storage.get_tenant("zeta")
        assert (stored.disabled, stored.description, stored.created) == (True, "suspended", later.created)
        assert len(scim_storage.list_tenants()) == 2

    def test_returned_tenants_are_copies(self, scim_storage):
        _require(scim_storage, TenantSupport)
        record = Tenant("acme", timestamp())
        scim_storage.put_tenant(record)
        record.description = "changed after put"
        scim_storage.get_tenant("acme").disabled = True
        assert scim_storage.get_tenant("acme") == Tenant("acme", record.created)

    def test_delete_tenant_wipes_everything_of_it_and_nothing_of_another(self, scim_storage):
        _require(scim_storage, TenantSupport)
        has_log = isinstance(scim_storage, ProvisioningLogSupport)
        has_counters = isinstance(scim_storage, CounterSupport)
        seeded = {}
        for ctx in (TENANT, OTHER_TENANT):
            scim_storage.put_tenant(Tenant(ctx.tenant, timestamp()))
            member = scim_storage.create(ctx, user("pat", externalId="p-1"))
            team = scim_storage.create(ctx, group("Team", [member.id]))
            secret = token(ctx.tenant, f"secret of {ctx.tenant}")
            scim_storage.add_token(secret)
            if has_log:
                _log_series(scim_storage, ctx.tenant, 3)
            if has_counters:
                for _ in range(2):
                    scim_storage.hit_counter(f"{ctx.tenant}:{secret.id}", 60, ALIGNED)
            seeded[ctx.tenant] = (member, team, secret)

        assert scim_storage.delete_tenant(TENANT.tenant) is True
        member, team, secret = seeded[TENANT.tenant]
        assert scim_storage.get_tenant(TENANT.tenant) is None
        for resource_type, id in (("User", member.id), ("Group", team.id)):
            with pytest.raises(ResourceNotFound):
                scim_storage.get(TENANT, resource_type, id)
            assert scim_storage.query(TENANT, resource_type, Query()).total == 0
        assert scim_storage.find_token(secret.secret_hash) is None
        assert scim_storage.list_tokens(TENANT.tenant) == []
        if has_log:
            assert scim_storage.query_log(TENANT.tenant) == []
        if has_counters:
            assert scim_storage.hit_counter(f"{TENANT.tenant}:{secret.id}", 60, ALIGNED) == 1
        # Unique values and member rows are gone too: the same names can be provisioned again.
        again = scim_storage.create(TENANT, user("pat", externalId="p-1"))
        assert scim_storage.create(TENANT, group("Team", [again.id])).members[0].value == again.id

        member, team, secret = seeded[OTHER_TENANT.tenant]
        assert scim_storage.get_tenant(OTHER_TENANT.tenant) is not None
        assert [m.value for m in scim_storage.get(OTHER_TENANT, "Group", team.id).members] == [member.id]
        assert [g.value for g in scim_storage.get(OTHER_TENANT, "User", member.id).groups] == [team.id]
        assert scim_storage.find_token(secret.secret_hash).tenant == OTHER_TENANT.tenant
        if has_log:
            assert len(scim_storage.query_log(OTHER_TENANT.tenant)) == 3
        if has_counters:
            assert scim_storage.hit_counter(f"{OTHER_TENANT.tenant}:{secret.id}", 60, ALIGNED) == 3
        assert scim_storage.delete_tenant(TENANT.tenant) is False

    def test_delete_tenant_without_a_record_still_wipes_its_data(self, scim_storage):
        _require(scim_storage, TenantSupport)
        member = scim_storage.create(TENANT, user("default-user"))
        secret = token(TENANT.tenant, "default secret")
        scim_storage.add_token(secret)
        assert scim_storage.delete_tenant(TENANT.tenant) is False
        with pytest.raises(ResourceNotFound):
            scim_storage.get(TENANT, "User", member.id)
        assert scim_storage.find_token(secret.secret_hash) is None

    def test_update_token_changes_use_expiry_and_description_only(self, scim_storage):
        _require(scim_storage, TenantSupport)
        record = token(TENANT.tenant, "rotating")
        scim_storage.add_token(record)
        last_used, expires = timestamp(), timestamp() + timedelta(hours=1)
        changed = replace(record, tenant=OTHER_TENANT.tenant, secret_hash="0" * 64, last_used=last_used,
                          expires=expires, description="rotated")
        assert scim_storage.update_token(changed) is True
        stored = scim_storage.find_token(record.secret_hash)
        assert (stored.id, stored.tenant, stored.created) == (record.id, TENANT.tenant, record.created)
        assert (stored.last_used, stored.expires, stored.description) == (last_used, expires, "rotated")
        assert scim_storage.find_token("0" * 64) is None
        assert [t.id for t in scim_storage.list_tokens(TENANT.tenant)] == [record.id]

        assert scim_storage.update_token(replace(stored, expires=None, last_used=None)) is True
        stored = scim_storage.find_token(record.secret_hash)
        assert (stored.expires, stored.last_used, stored.description) == (None, None, "rotated")
        assert scim_storage.update_token(Token(new_id(), TENANT.tenant, "1" * 64, timestamp())) is False


class CounterContract:
    def test_hits_count_within_a_window_and_restart_in_the_next(self, scim_storage):
        _require(scim_storage, CounterSupport)
        key, other = f"{TENANT.tenant}:{new_id()}", f"{TENANT.tenant}:{new_id()}"
        in_window = [ALIGNED, ALIGNED + timedelta(seconds=30), ALIGNED + timedelta(seconds=59.999)]
        assert [scim_storage.hit_counter(key, 60, when) for when in in_window] == [1, 2, 3]
        assert scim_storage.hit_counter(other, 60, ALIGNED) == 1
        assert scim_storage.hit_counter(key, 60, ALIGNED + timedelta(seconds=60)) == 1
        assert scim_storage.hit_counter(key, 60, ALIGNED + timedelta(seconds=61)) == 2
        assert scim_storage.hit_counter(other, 60, ALIGNED + timedelta(seconds=1)) == 2

    def test_windows_are_aligned_to_the_epoch(self, scim_storage):
        _require(scim_storage, CounterSupport)
        key = f"{TENANT.tenant}:{new_id()}"
        late = ALIGNED + timedelta(seconds=3599)  # the last second of an hour-long window
        assert scim_storage.hit_counter(key, 3600, late) == 1
        assert scim_storage.hit_counter(key, 3600, ALIGNED) == 2
        assert scim_storage.hit_counter(key, 3600, ALIGNED + timedelta(seconds=3600)) == 1
        wide = f"{TENANT.tenant}:{new_id()}"
        assert scim_storage.hit_counter(wide, 7, datetime(1970, 1, 1, 0, 0, 13, tzinfo=timezone.utc)) == 1
        assert scim_storage.hit_counter(wide, 7, datetime(1970, 1, 1, 0, 0, 7, tzinfo=timezone.utc)) == 2

    def test_concurrent_hits_each_get_their_own_count(self, scim_storage):
        _require(scim_storage, CounterSupport)
        key, threads, hits = f"{TENANT.tenant}:{new_id()}", 8, 15

        def hammer(_: int) -> list[int]:
            return [scim_storage.hit_counter(key, 3600, ALIGNED) for _ in range(hits)]

        results = _run_together(threads, hammer)
        assert [r for r in results if isinstance(r, Exception)] == []
        counts = sorted(count for result in results for count in result)
        assert counts == list(range(1, threads * hits + 1))
