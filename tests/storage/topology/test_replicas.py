"""Replica-acknowledged writes (`wait_replicas`) on real replicas: an acknowledged write is on
a replica when the call returns; a write no replica acknowledges in time is refused with
StorageUnavailable, although the primary may have applied it."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from scimflask_redis import keys

from scimflask.model import Change, Query, RequestContext, Resource, Token
from scimflask.storage import StorageUnavailable
from scimflask.storage.capabilities import LogEntry, Tenant

from ..redis_helpers import unique_prefix
from ..redis_topology import ClusterTopology, Node, SentinelTopology
from .conftest import drop_keys, open_storage

CTX = RequestContext(tenant="acked")
NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _user(id: str, name: str) -> Resource:
    return Resource("User", id, {"userName": name}, NOW, NOW)


def _replica_for(topology, key: str) -> Node:
    """The replica that must acknowledge writes of `key`."""
    if isinstance(topology, SentinelTopology):
        return topology.replicas()[0]
    assert isinstance(topology, ClusterTopology)
    return topology.replica_of(topology.primary_for(key))


def _tenant_replica(topology, storage) -> Node:
    return _replica_for(topology, keys.tenant_base(storage.prefix, CTX.tenant))


def _on(node: Node, key: str):
    """The stored data of `key` as the replica `node` holds it."""
    with node.client(single_connection_client=True) as client:
        if client.info("cluster").get("cluster_enabled"):
            client.execute_command("READONLY")  # a Cluster replica serves reads only when asked
        return client.hget(key, "d")


def test_an_acknowledged_write_is_on_the_replica_when_it_returns(topology):
    storage = open_storage(topology, wait_replicas=1, wait_timeout_ms=2000)
    try:
        replica = _tenant_replica(topology, storage)
        storage.create(CTX, _user("u1", "alice"))
        key = keys.tenant_base(storage.prefix, CTX.tenant) + keys.resource("User", "u1")
        assert _on(replica, key) == b'{"userName":"alice"}'
        storage.update(CTX, "User", "u1", Change(data={"userName": "alicia"}), now=NOW)
        assert _on(replica, key) == b'{"userName":"alicia"}'
        storage.add_token(Token("tok1", CTX.tenant, "hash1", NOW, "robot"))
        storage.put_tenant(Tenant(CTX.tenant, NOW, False, "acked writes"))
        storage.append_log(LogEntry("0001", CTX.tenant, NOW, "POST", "/Users", 201, "created", None,
                                    "User", "u1", ("userName",), None))
        assert storage.find_token("hash1").tenant == CTX.tenant
        assert storage.query_log(CTX.tenant)[0].resource_id == "u1"
        assert storage.delete_token("tok1") and storage.delete_tenant(CTX.tenant)
        assert storage.query(CTX, "User", Query()).total == 0
    finally:
        drop_keys(storage)
        storage.close()


def test_a_write_no_replica_acknowledges_is_refused_but_may_be_applied(topology):
    prefix = unique_prefix()
    acked = open_storage(topology, prefix, wait_replicas=1, wait_timeout_ms=200)  # refusals come fast
    patient = open_storage(topology, prefix, wait_replicas=1, wait_timeout_ms=2000)  # for a loaded machine
    plain = open_storage(topology, prefix)
    # The tenant's keys, the tokens and the tenant records have a slot each (one primary on
    # Sentinel, maybe three on a Cluster): freeze the replica of each.
    frozen = {_replica_for(topology, key).port: _replica_for(topology, key) for key in (
        keys.tenant_base(prefix, CTX.tenant), keys.token_base(prefix), keys.tenant_registry(prefix))}
    try:
        patient.create(CTX, _user("u0", "before"))
        for replica in frozen.values():
            replica.freeze()
        try:
            with pytest.raises(StorageUnavailable, match="0 of 1 replicas"):
                acked.create(CTX, _user("u1", "alice"))
            with pytest.raises(StorageUnavailable):
                acked.update(CTX, "User", "u0", Change(data={"userName": "renamed"}), now=NOW)
            with pytest.raises(StorageUnavailable):
                acked.add_token(Token("tok1", CTX.tenant, "hash1", NOW, "robot"))
            with pytest.raises(StorageUnavailable):
                acked.put_tenant(Tenant(CTX.tenant, NOW, False, "unacknowledged"))
            assert acked.get(CTX, "User", "u0").data == {"userName": "renamed"}  # reads still work
        finally:
            for replica in frozen.values():
                replica.thaw()
        topology.wait_healthy()
        # Refused is not undone: the primary applied the writes, and a retry finds them.
        assert plain.get(CTX, "User", "u1").data == {"userName": "alice"}
        assert plain.find_token("hash1") is not None
        patient.create(CTX, _user("u2", "bob"))
        assert patient.query(CTX, "User", Query()).total == 3
    finally:
        drop_keys(plain)
        for storage in (plain, acked, patient):
            storage.close()


def test_acknowledged_writes_reload_scripts_a_restarted_primary_forgot(topology):
    storage = open_storage(topology, wait_replicas=1, wait_timeout_ms=2000)
    try:
        storage.create(CTX, _user("u1", "alice"))
        topology.primary_for(keys.tenant_base(storage.prefix, CTX.tenant)).call("SCRIPT", "FLUSH")
        storage.create(CTX, _user("u2", "bob"))
        assert storage.query(CTX, "User", Query()).total == 2
    finally:
        drop_keys(storage)
        storage.close()
