"""Indexed lookups cost a constant number of Redis commands, whatever the tenant's size."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import redis.connection
from scimflask_redis import RedisStorage

from scimflask.filter.ast import EQ, AttrPath, Compare
from scimflask.model import Query, RequestContext, Resource
from scimflask.schema import CORE_USER

from .redis_helpers import fake_storage

CTX = RequestContext(tenant="commands")
START = datetime(2024, 1, 1, tzinfo=timezone.utc)


class CommandCounter:
    """Counts every command redis-py sends (single or pipelined), by wrapping the packer."""

    def __init__(self, monkeypatch) -> None:
        self.count = 0
        original_one = redis.connection.AbstractConnection.pack_command
        original_many = redis.connection.AbstractConnection.pack_commands

        def pack_command(connection, *args):
            self.count += 1
            return original_one(connection, *args)

        def pack_commands(connection, commands):
            commands = list(commands)
            self.count += len(commands)
            return original_many(connection, commands)

        monkeypatch.setattr(redis.connection.AbstractConnection, "pack_command", pack_command)
        monkeypatch.setattr(redis.connection.AbstractConnection, "pack_commands", pack_commands)


def _fill(storage: RedisStorage, n: int) -> None:
    for i in range(n):
        at = START + timedelta(milliseconds=i)
        storage.create(CTX, Resource("User", f"id-{i:05d}", {
            "userName": f"user{i}", "externalId": f"ext-{i}",
            "emails": [{"value": f"user{i}@example.com", "type": "work"}],
        }, at, at))


def _commands_for(storage: RedisStorage, monkeypatch, attribute: str, sub: str | None, value: str) -> int:
    counter = CommandCounter(monkeypatch)
    page = storage.query(CTX, "User", Query(filter=Compare(AttrPath(CORE_USER, attribute, sub), EQ, value)))
    monkeypatch.undo()
    assert [r.data["userName"] for r in page.resources] == ["user42"]
    assert page.total == 1
    return counter.count


@pytest.fixture(scope="module")
def small_and_large() -> tuple[RedisStorage, RedisStorage]:
    small, large = fake_storage(), fake_storage()
    _fill(small, 100)
    _fill(large, 10_000)
    return small, large


@pytest.mark.slow
@pytest.mark.parametrize("attribute, sub, value", [
    ("userName", None, "USER42"), ("externalId", None, "ext-42"), ("emails", "value", "User42@Example.com"),
])
def test_indexed_eq_costs_the_same_on_100_and_10000_users(monkeypatch, small_and_large, attribute, sub, value):
    small, large = small_and_large
    small_cost = _commands_for(small, monkeypatch, attribute, sub, value)
    large_cost = _commands_for(large, monkeypatch, attribute, sub, value)
    assert small_cost == large_cost
    assert large_cost <= 8


def test_unfiltered_page_costs_the_page_not_the_tenant(monkeypatch):
    storage = fake_storage()
    _fill(storage, 300)
    counter = CommandCounter(monkeypatch)
    page = storage.query(CTX, "User", Query(start_index=201, count=10, with_groups=False))
    assert [r.id for r in page.resources] == [f"id-{i:05d}" for i in range(200, 210)]
    assert page.total == 300
    assert counter.count <= 2 + 10  # ZCARD, ZRANGE, one HMGET per resource (one round trip)
