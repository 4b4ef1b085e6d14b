"""The Redis backend against the full storage contract (fakeredis always, real Redis when
SCIMFLASK_TEST_REDIS_URL is set), plus what only it promises: URIs, key layout, indexes."""

from datetime import datetime, timedelta, timezone

import fakeredis
import pytest
import redis
from redis.sentinel import SentinelManagedConnection
from scimflask_redis import RedisStorage, keys

from scimflask.errors import ConfigurationError
from scimflask.model import Change, Member, Query, RequestContext, Resource
from scimflask.plugins import make_plugin_manager
from scimflask.schema import default_catalog
from scimflask.storage import ResourceNotFound, StorageRegistry
from scimflask.testing.contract import AllContracts

from .redis_helpers import drop_prefix, fake_storage, index_problems, needs_real_redis, real_storage, unique_prefix


@pytest.fixture(params=[
    pytest.param("fakeredis", id="fakeredis"),
    pytest.param("redis", id="redis", marks=[needs_real_redis, pytest.mark.redis]),
])
def scim_storage(request):
    """A fresh, empty backend: on a private fakeredis server, or under a unique key prefix of
    the real Redis named by SCIMFLASK_TEST_REDIS_URL (deleted afterwards)."""
    if request.param == "fakeredis":
        storage = fake_storage()
        yield storage
    else:
        prefix = unique_prefix()
        storage = real_storage(prefix)
        yield storage
        drop_prefix(storage.client, prefix)
    storage.close()


class TestRedisStorage(AllContracts):
    pass


# -- what only the Redis backend promises -------------------------------------------------
CTX = RequestContext(tenant="acme")
NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _user(id: str, name: str, **data) -> Resource:
    return Resource("User", id, {"userName": name, **data}, NOW, NOW)


def test_registered_through_the_plugin_entry_point():
    registry = StorageRegistry()
    make_plugin_manager().hook.scimflask_register_storage(registry=registry)
    for uri in ("redis://h", "rediss://h", "unix:///s.sock", "redis+unix:///s.sock",
                "redis+sentinel://h:26379/mymaster", "redis+cluster://h:7000"):
        assert registry.lookup(uri) is RedisStorage


@pytest.mark.parametrize("uri, kind, expected", [
    ("redis://127.0.0.1:6380/3?socket_timeout=1.5", redis.Connection,
     {"host": "127.0.0.1", "port": 6380, "db": 3, "socket_timeout": 1.5}),
    ("rediss://127.0.0.1:6380/0", redis.SSLConnection, {"host": "127.0.0.1", "port": 6380}),
    ("unix:///tmp/redis.sock?db=2", redis.UnixDomainSocketConnection, {"path": "/tmp/redis.sock", "db": 2}),
    ("redis+unix:///tmp/redis.sock?db=2", redis.UnixDomainSocketConnection, {"path": "/tmp/redis.sock", "db": 2}),
    ("redis+sentinel://:pw@127.0.0.1:26379,127.0.0.2:26380/mymaster/4", SentinelManagedConnection,
     {"db": 4, "password": "pw"}),
])
def test_uri_forms_build_pooled_clients_with_timeouts(uri, kind, expected):
    storage = RedisStorage.from_uri(uri, {}, default_catalog())  # no connection is made yet
    pool = storage.client.connection_pool
    assert issubclass(pool.connection_class, kind)
    for name, value in expected.items():
        assert pool.connection_kwargs[name] == value
    assert pool.connection_kwargs["socket_connect_timeout"] is not None
    storage.close()


def test_sentinel_uri_names_every_sentinel_and_the_service():
    storage = RedisStorage.from_uri("redis+sentinel://127.0.0.1:26379,127.0.0.2/mymaster", {}, default_catalog())
    sentinel_pool = storage.client.connection_pool
    assert sentinel_pool.service_name == "mymaster"
    assert [(s.connection_pool.connection_kwargs["host"], s.connection_pool.connection_kwargs["port"])
            for s in sentinel_pool.sentinel_manager.sentinels] == [("127.0.0.1", 26379), ("127.0.0.2", 26379)]


@pytest.mark.parametrize("uri", ["redis+sentinel://127.0.0.1:26379", "redis+sentinel://127.0.0.1:x/m",
                                 "redis+cluster://", "redis://h/0?socket_timeout=soon"])
def test_bad_uris_are_configuration_errors(uri):
    with pytest.raises(ConfigurationError):
        RedisStorage.from_uri(uri, {}, default_catalog())


def test_prefix_from_options_or_query_keeps_apps_apart():
    client = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    one = RedisStorage.from_uri("redis://", {"client": client, "prefix": "app1:"}, default_catalog())
    two = RedisStorage.from_uri("redis://?prefix=app2:", {"client": client}, default_catalog())
    one.create(CTX, _user("u1", "alice"))
    two.create(CTX, _user("u1", "alice"))  # same id and userName: another app's data
    assert two.query(CTX, "User", Query()).total == 1
    assert {k.decode().split("{")[0] for k in client.keys("*")} == {"app1:", "app2:"}
    with pytest.raises(ConfigurationError):
        RedisStorage.from_uri("redis://", {"client": client, "socket_timeout": 1}, default_catalog())


def test_every_key_of_a_tenant_carries_its_hash_tag():
    storage = fake_storage()
    tenant = RequestContext(tenant="we{ird}:tenant")
    user = storage.create(tenant, _user("u1", "alice", emails=[{"value": "a@x.org"}], externalId="e1"))
    storage.create(tenant, Resource("Group", "g1", {"displayName": "g"}, NOW, NOW, members=[Member(user.id)]))
    stored = [k.decode() for k in storage.client.keys("*")]
    assert stored and all(k.startswith("scim:{we%7Bird%7D%3Atenant}:") for k in stored)
    assert storage.query(CTX, "User", Query()).total == 0


def test_index_checker_passes_after_a_workload_and_catches_corruption():
    storage = fake_storage()
    users = [storage.create(CTX, _user(f"u{i}", f"User{i}", emails=[{"value": f"U{i}@x.org"}],
                                       externalId=f"e{i}")) for i in range(6)]
    group = storage.create(CTX, Resource("Group", "g1", {"displayName": "Team"}, NOW, NOW,
                                         members=[Member(u.id) for u in users[:3]]))
    later = NOW + timedelta(seconds=1)
    storage.update(CTX, "User", "u0", Change(data={"userName": "renamed", "externalId": "e9"}), now=later)
    storage.update(CTX, "Group", group.id, Change(add_members=[Member("u4"), Member("g1")],
                                                 remove_members=["u1"]), now=later)
    storage.update(CTX, "Group", group.id, Change(replace_members=[Member("u2"), Member("u5")]), now=later)
    storage.delete(CTX, "User", "u2")
    assert index_problems(storage, CTX.tenant) == []
    assert [m.value for m in storage.get(CTX, "Group", "g1").members] == ["u5"]

    base = keys.tenant_base(storage.prefix, CTX.tenant)
    storage.client.delete(base + keys.resource("User", "u3"))  # a resource vanishes behind our back
    problems = index_problems(storage, CTX.tenant)
    assert any("claimed by no resource" in p for p in problems)


def test_count_members_counts_without_loading_and_checks_the_group():
    storage = fake_storage()
    users = [storage.create(CTX, _user(f"u{i}", f"user{i}")) for i in range(3)]
    storage.create(CTX, Resource("Group", "g1", {"displayName": "g"}, NOW, NOW,
                                 members=[Member(u.id) for u in users]))
    assert storage.count_members(CTX, "g1") == 3
    with pytest.raises(ResourceNotFound):
        storage.count_members(CTX, "nope")
