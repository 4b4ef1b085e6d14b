"""Fixtures of the storage conformance kit (enabled by `pytest_plugins = ["scimflask.testing"]`).

The backend's own tests provide `scim_storage`: a fixture yielding a fresh, empty `Storage`
built with the default catalog, and closing it afterwards. Everything else builds on it.
"""

from __future__ import annotations

import pytest

from ..schema.catalog import Catalog
from ..storage.base import Storage


@pytest.fixture
def scim_storage() -> Storage:
    """Placeholder: override it with a fixture that yields a fresh, empty backend."""
    pytest.fail(
        "the scimflask storage contract needs a `scim_storage` fixture that yields a fresh, "
        "empty Storage (define it in your conftest.py or test module)"
    )


@pytest.fixture
def catalog(scim_storage: Storage) -> Catalog:
    """The catalog the backend under test was built with."""
    return scim_storage.catalog
