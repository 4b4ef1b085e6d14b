"""`wait_replicas` / `wait_timeout_ms` on a Redis URL: parsed like `prefix`, checked at start,
and on a Redis without replicas every write is refused (the real-replica cases are in
tests/storage/topology/test_replicas.py)."""

from __future__ import annotations

from datetime import datetime, timezone

import fakeredis
import pytest
from scimflask_redis import RedisStorage
from scimflask_redis.replicas import AcknowledgedWriter, Writer

from scimflask.errors import ConfigurationError
from scimflask.model import Query, RequestContext, Resource, Token
from scimflask.schema import default_catalog
from scimflask.storage import StorageUnavailable
from scimflask.storage.capabilities import Tenant

from .redis_helpers import REDIS_URL, drop_prefix, needs_real_redis, unique_prefix

CTX = RequestContext(tenant="acks")
NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _open(uri: str, **options) -> RedisStorage:
    return RedisStorage.from_uri(uri, options, default_catalog())


@pytest.mark.parametrize("uri, options, replicas, timeout_ms", [
    ("redis://127.0.0.1:6380/2?wait_replicas=2&wait_timeout_ms=250", {}, 2, 250),
    ("redis://127.0.0.1:6380/2?wait_replicas=1", {}, 1, 1000),
    ("redis://127.0.0.1:6380/2", {"wait_replicas": 1, "wait_timeout_ms": 40}, 1, 40),
    ("redis+sentinel://127.0.0.1:26379/mymaster/3?wait_replicas=1&wait_timeout_ms=500&prefix=a:", {}, 1, 500),
    ("redis://127.0.0.1:6380/2?wait_replicas=0", {}, 0, 0),
])
def test_wait_parameters_choose_the_writer(uri, options, replicas, timeout_ms):
    storage = _open(uri, **options)  # no connection is made yet
    writer = storage._writes
    if replicas:
        assert isinstance(writer, AcknowledgedWriter)
        assert (writer.replicas, writer.timeout_ms) == (replicas, timeout_ms)
    else:
        assert type(writer) is Writer
    assert not {"wait_replicas", "wait_timeout_ms", "prefix"} & set(storage.client.connection_pool.connection_kwargs)
    storage.close()


def test_options_left_empty_mean_the_defaults():
    storage = _open("redis://127.0.0.1:6380/2", prefix=None, wait_replicas=None, wait_timeout_ms=None)
    assert storage.prefix == "scim:" and type(storage._writes) is Writer
    storage.close()


def test_wait_parameters_apply_to_an_injected_client():
    storage = _open("redis://?wait_replicas=1&wait_timeout_ms=30", client=fakeredis.FakeRedis())
    assert isinstance(storage._writes, AcknowledgedWriter) and storage._writes.timeout_ms == 30


@pytest.mark.parametrize("uri", [
    "redis://h/0?wait_replicas=-1", "redis://h/0?wait_replicas=two", "redis://h/0?wait_replicas=",
    "redis://h/0?wait_replicas=1&wait_timeout_ms=0", "redis://h/0?wait_replicas=1&wait_timeout_ms=1.5",
    "redis://h/0?wait_timeout_ms=100",  # a timeout without replicas to wait for
    "redis://h/0?wait_replicas=1&wait_timeout_ms=5000",  # not shorter than the 5 s socket timeout
    "redis://h/0?wait_replicas=1&wait_timeout_ms=800&socket_timeout=0.5",
])
def test_bad_wait_parameters_are_configuration_errors(uri):
    with pytest.raises(ConfigurationError):
        _open(uri)


@pytest.fixture(params=[pytest.param("redis", id="redis", marks=[needs_real_redis, pytest.mark.redis])])
def unreplicated(request):
    """The test Redis (no replicas), once with and once without acknowledged writes."""
    prefix = unique_prefix()
    joiner = "&" if "?" in REDIS_URL else "?"
    acked = _open(f"{REDIS_URL}{joiner}wait_replicas=1&wait_timeout_ms=50&prefix={prefix}")
    plain = _open(f"{REDIS_URL}{joiner}prefix={prefix}")
    yield acked, plain
    drop_prefix(plain.client, prefix)
    acked.close()
    plain.close()


def test_without_replicas_every_write_is_refused_yet_applied(unreplicated):
    acked, plain = unreplicated
    with pytest.raises(StorageUnavailable, match="0 of 1 replicas acknowledged"):
        acked.create(CTX, Resource("User", "u1", {"userName": "alice"}, NOW, NOW))
    with pytest.raises(StorageUnavailable):
        acked.add_token(Token("tok1", CTX.tenant, "hash1", NOW, "robot"))
    with pytest.raises(StorageUnavailable):
        acked.put_tenant(Tenant(CTX.tenant, NOW, False, "x"))
    with pytest.raises(StorageUnavailable):
        acked.delete(CTX, "User", "u1")
    # The primary applied each refused write (the caller retries and finds them).
    assert plain.find_token("hash1") is not None and plain.get_tenant(CTX.tenant) is not None
    assert acked.query(CTX, "User", Query()).total == 0  # reads need no acknowledgement
