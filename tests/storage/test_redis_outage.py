"""An unreachable Redis is `StorageUnavailable` (503), and the backend recovers by itself."""

from __future__ import annotations

import socket
from datetime import datetime, timezone
from urllib.parse import urlsplit

import pytest
from scimflask_redis import RedisStorage

from scimflask.model import Query, RequestContext, Resource
from scimflask.schema import default_catalog
from scimflask.storage import StorageUnavailable

from .redis_helpers import REDIS_URL, drop_prefix, fake_storage, needs_real_redis, unique_prefix
from .tcp_proxy import Proxy

CTX = RequestContext(tenant="outage")
NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _user(id: str, name: str) -> Resource:
    return Resource("User", id, {"userName": name}, NOW, NOW)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_dead_port_is_storage_unavailable():
    storage = RedisStorage.from_uri(f"redis://127.0.0.1:{_free_port()}/0?socket_connect_timeout=1",
                                    {}, default_catalog())
    with pytest.raises(StorageUnavailable):
        storage.ping()
    with pytest.raises(StorageUnavailable):
        storage.create(CTX, _user("u1", "alice"))
    with pytest.raises(StorageUnavailable):
        storage.query(CTX, "User", Query())


def test_fakeredis_outage_and_recovery():
    storage = fake_storage()
    storage.create(CTX, _user("u1", "alice"))
    server = storage.client.connection_pool.connection_kwargs["server"]
    server.connected = False
    with pytest.raises(StorageUnavailable):
        storage.get(CTX, "User", "u1")
    with pytest.raises(StorageUnavailable):
        storage.create(CTX, _user("u2", "bob"))
    server.connected = True
    assert storage.get(CTX, "User", "u1").data["userName"] == "alice"
    storage.create(CTX, _user("u2", "bob"))
    assert storage.query(CTX, "User", Query()).total == 2


@needs_real_redis
@pytest.mark.redis
def test_cut_link_is_storage_unavailable_and_recovers():
    target = urlsplit(REDIS_URL)
    proxy = Proxy((target.hostname, target.port or 6379))
    proxy.start()
    prefix = unique_prefix()
    db = (target.path or "/0").strip("/") or "0"
    storage = RedisStorage.from_uri(
        f"redis://127.0.0.1:{proxy.port}/{db}?socket_timeout=2&socket_connect_timeout=1&prefix={prefix}",
        {}, default_catalog())
    try:
        storage.create(CTX, _user("u1", "alice"))
        proxy.cut()
        with pytest.raises(StorageUnavailable):
            storage.get(CTX, "User", "u1")
        with pytest.raises(StorageUnavailable):
            storage.create(CTX, _user("u2", "bob"))
        proxy.start()
        assert storage.get(CTX, "User", "u1").data["userName"] == "alice"
        storage.create(CTX, _user("u2", "bob"))
        assert storage.query(CTX, "User", Query()).total == 2
    finally:
        proxy.cut()
        cleanup = RedisStorage.from_uri(REDIS_URL, {}, default_catalog())
        drop_prefix(cleanup.client, prefix)
        cleanup.close()
        storage.close()
