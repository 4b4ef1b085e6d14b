"""The memory backend against the full storage contract, plus what only it promises."""

import logging

import pytest
from scimflask_memory import MemoryStorage

from scimflask.errors import ConfigurationError
from scimflask.schema import default_catalog
from scimflask.testing.contract import AllContracts


@pytest.fixture
def scim_storage():
    storage = MemoryStorage.from_uri("memory://", {}, default_catalog())
    yield storage
    storage.close()


class TestMemoryStorage(AllContracts):
    pass


@pytest.mark.parametrize("uri", ["memory://", "memory://anything", "MEMORY://"])
def test_from_uri_accepts_memory_urls_and_warns(uri, caplog):
    with caplog.at_level(logging.WARNING, logger="scimflask_memory"):
        storage = MemoryStorage.from_uri(uri, {}, default_catalog())
    assert isinstance(storage, MemoryStorage)
    assert "lost on restart" in caplog.text


@pytest.mark.parametrize("uri, options", [("redis://localhost", {}), ("memory://", {"client": object()})])
def test_from_uri_refuses_what_it_cannot_serve(uri, options):
    with pytest.raises(ConfigurationError):
        MemoryStorage.from_uri(uri, options, default_catalog())
