"""The storage conformance kit on a real Sentinel-managed primary and on a real Redis Cluster,
and its write contracts again with every write acknowledged by a replica (`wait_replicas=1`)."""

import pytest

from scimflask.testing.contract import (
    AllContracts,
    ConcurrencyContract,
    MembershipContract,
    ProvisioningLogContract,
    ResourceContract,
    TenantContract,
    TokenContract,
    UniquenessContract,
    VersionContract,
)

from .conftest import drop_keys, open_storage


@pytest.fixture
def scim_storage(topology_storage):
    return topology_storage


class TestRedisTopologies(AllContracts):
    pass


class TestAcknowledgedWrites(ResourceContract, UniquenessContract, VersionContract, MembershipContract,
                             TokenContract, TenantContract, ProvisioningLogContract, ConcurrencyContract):
    @pytest.fixture
    def scim_storage(self, topology):
        storage = open_storage(topology, wait_replicas=1, wait_timeout_ms=2000)
        yield storage
        drop_keys(storage)
        storage.close()
