"""Real Sentinel and Cluster topologies (tests/storage/redis_topology.py), one of each per
test session, shared by every test here; each test works under a key prefix of its own.

They run when SCIMFLASK_TEST_REDIS_TOPOLOGIES=1 (CI sets it) and are then mandatory: a missing
`redis-server` fails them. Otherwise they skip and say why. Tests parametrised over `topology`
carry the ids `redis-sentinel` / `redis-cluster`, so `SCIMFLASK_TEST_BACKENDS=redis` keeps them.
"""

from __future__ import annotations

import os

import pytest
from scimflask_redis import RedisStorage

from scimflask.schema import default_catalog

from ..redis_helpers import unique_prefix
from ..redis_topology import ClusterTopology, SentinelTopology, Topology, missing_tools

ENABLED = os.environ.get("SCIMFLASK_TEST_REDIS_TOPOLOGIES") == "1"
TOPOLOGIES = [pytest.param("sentinel", id="redis-sentinel"), pytest.param("cluster", id="redis-cluster")]


def require_topologies() -> None:
    """Skip unless asked for; when asked for, a missing tool is a failure, not a skip."""
    if not ENABLED:
        pytest.skip("set SCIMFLASK_TEST_REDIS_TOPOLOGIES=1 to run on real Sentinel and Cluster "
                    "topologies started from redis-server (CI sets it)")
    problem = missing_tools()
    if problem:
        pytest.fail(f"SCIMFLASK_TEST_REDIS_TOPOLOGIES=1 but {problem}")


def _session_topology(kind: type[Topology]):
    require_topologies()
    topology = kind().start()
    try:
        yield topology
    finally:
        topology.stop()


@pytest.fixture(scope="session")
def sentinel_topology():
    """A primary, its replica and three Sentinels for the whole session."""
    yield from _session_topology(SentinelTopology)


@pytest.fixture(scope="session")
def cluster_topology():
    """Three primaries and three replicas in a Redis Cluster for the whole session."""
    yield from _session_topology(ClusterTopology)


@pytest.fixture(params=TOPOLOGIES)
def topology(request) -> Topology:
    """Each topology in turn, healthy again (a drill before may have frozen a node)."""
    topology = request.getfixturevalue(f"{request.param}_topology")
    topology.wait_healthy()
    return topology


def storage_url(topology: Topology, prefix: str, **query) -> str:
    params = "&".join(f"{name}={value}" for name, value in {"prefix": prefix, **query}.items())
    return f"{topology.url}?{params}"


def open_storage(topology: Topology, prefix: str | None = None, **query) -> RedisStorage:
    """A storage on `topology` through its URL, under a fresh prefix unless one is given."""
    return RedisStorage.from_uri(storage_url(topology, prefix or unique_prefix(), **query), {},
                                 default_catalog())


def drop_keys(storage: RedisStorage) -> None:
    """Delete every key under the storage's prefix, on every node (one UNLINK per key: the
    keys of several tenants live in several slots)."""
    pattern = storage.prefix.replace("{", "\\{").replace("}", "\\}") + "*"
    batch = []
    for key in storage.client.scan_iter(match=pattern, count=500):
        batch.append(key)
        if len(batch) >= 500:
            _unlink(storage.client, batch)
            batch = []
    _unlink(storage.client, batch)


def _unlink(client, batch: list[bytes]) -> None:
    pipe = client.pipeline(transaction=False)
    for key in batch:
        pipe.unlink(key)
    pipe.execute()


@pytest.fixture
def topology_storage(topology):
    """A fresh, empty storage on the topology; its keys are deleted afterwards."""
    storage = open_storage(topology)
    yield storage
    drop_keys(storage)
    storage.close()
