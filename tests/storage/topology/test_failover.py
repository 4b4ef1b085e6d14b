"""Failover drills on topologies of their own (a killed primary is not brought back): the
storage finds the promoted primary by itself, and until then every call fails with
StorageUnavailable, never another exception."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from scimflask_redis import keys

from scimflask.model import Query, RequestContext, Resource
from scimflask.storage import StorageUnavailable

from ..redis_helpers import unique_prefix
from ..redis_topology import ClusterTopology, SentinelTopology
from .conftest import TOPOLOGIES, open_storage, require_topologies

CTX = RequestContext(tenant="failover")
NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)
RECOVERY = 60.0  # seconds the storage may take to write again after the primary dies
# Bounded client timeouts, so each failing call returns soon (the acknowledged storage's socket
# outlasts its WAIT, and the WAIT allows for a loaded machine).
FAST = {"socket_timeout": 1, "socket_connect_timeout": 1}
ACKED = {"wait_replicas": 1, "wait_timeout_ms": 2000, "socket_timeout": 3, "socket_connect_timeout": 1}


def _user(id: str) -> Resource:
    return Resource("User", id, {"userName": id}, NOW, NOW)


def _drill(topology_class):
    require_topologies()
    topology = topology_class().start()
    try:
        yield topology
    finally:
        topology.stop()


@pytest.fixture(scope="module")
def sentinel_drill():
    yield from _drill(SentinelTopology)


@pytest.fixture(scope="module")
def cluster_drill():
    yield from _drill(ClusterTopology)


def _write_until_recovered(storage) -> tuple[int, set[type]]:
    """Create users until one create and a read back succeed; (failed calls, their types)."""
    failures: list[BaseException] = []
    deadline = time.monotonic() + RECOVERY
    while True:
        id = f"after{len(failures)}"
        try:
            storage.create(CTX, _user(id))
            storage.get(CTX, "User", id)
            return len(failures), {type(failure) for failure in failures}
        except Exception as exc:  # every kind is collected: the callers assert which ones came
            failures.append(exc)
        assert time.monotonic() < deadline, f"no successful write within {RECOVERY}s: {failures[-3:]!r}"
        time.sleep(0.1)


@pytest.mark.parametrize("kind", TOPOLOGIES)
def test_failover_is_unavailable_then_heals_by_itself(kind, request):
    drill = request.getfixturevalue(f"{kind}_drill")
    prefix = unique_prefix()
    tenant_key = keys.tenant_base(prefix, CTX.tenant)
    acked = open_storage(drill, prefix, **ACKED)
    storage = open_storage(drill, prefix, **FAST)
    acked.create(CTX, _user("before"))  # acknowledged by the replica: survives the failover
    old = drill.kill_primary(tenant_key)
    failed, kinds = _write_until_recovered(storage)
    assert failed and kinds == {StorageUnavailable}, kinds  # the dead primary was noticed
    new = drill.wait_promoted(old, tenant_key)
    assert new is not old and new.alive
    assert storage.get(CTX, "User", "before").data == {"userName": "before"}
    assert storage.query(CTX, "User", Query()).total == 2
    # The promoted primary has no replica left: acknowledged writes are refused, not lost.
    with pytest.raises(StorageUnavailable):
        acked.create(CTX, _user("unreplicated"))
    storage.close()
    acked.close()
