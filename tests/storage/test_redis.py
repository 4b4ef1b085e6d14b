"""The Redis backend against the full storage contract (fakeredis always, real Redis when
SCIMFLASK_TEST_REDIS_URL is set), plus what only it promises: URIs, key layout, indexes."""

import pytest

from scimflask.testing.contract import AllContracts

from .redis_helpers import drop_prefix, fake_storage, needs_real_redis, real_storage, unique_prefix


@pytest.fixture
def scim_storage():
    storage = fake_storage()
    yield storage
    storage.close()


class TestRedisStorageOnFakeredis(AllContracts):
    pass


@needs_real_redis
@pytest.mark.redis
class TestRedisStorageOnRedis(AllContracts):
    @pytest.fixture
    def scim_storage(self):
        prefix = unique_prefix()
        storage = real_storage(prefix)
        yield storage
        drop_prefix(storage.client, prefix)
        storage.close()
