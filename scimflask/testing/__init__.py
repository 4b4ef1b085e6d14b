"""The storage conformance kit: a pytest plugin for storage backend authors.

Opt in from your project's top-level ``conftest.py``::

    pytest_plugins = ["scimflask.testing"]

then provide a ``scim_storage`` fixture yielding a fresh, empty backend built with
``scimflask.schema.default_catalog()``, and subclass the contract::

    import pytest
    from scimflask.schema import default_catalog
    from scimflask.testing.contract import AllContracts

    @pytest.fixture
    def scim_storage():
        storage = JsonDirectoryStorage.from_uri("jsondir:///tmp/x", {}, default_catalog())
        yield storage
        storage.close()

    class TestJsonDirectoryStorage(AllContracts):
        pass

``AllContracts`` combines every ``...Contract`` class of ``scimflask.testing.contract``; pick
single ones to run a subset. The kit also provides a ``catalog`` fixture (the backend's
catalog). Results are compared with the reference evaluator and sort order, so a backend
passes only if filters, sorting and paging mean exactly what they mean in memory.
"""

from .plugin import catalog, scim_storage

__all__ = ["catalog", "scim_storage"]
