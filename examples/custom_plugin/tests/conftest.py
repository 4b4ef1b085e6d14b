"""Run scimflask's storage conformance kit against the jsondir backend.

`pytest_plugins` must sit in the top-level conftest of the test run; run pytest from this
package's directory (or pass it as the argument: `pytest examples/custom_plugin`).
"""

import pytest
from scimflask_jsondir import JsonDirectoryStorage

from scimflask.schema import default_catalog

pytest_plugins = ["scimflask.testing"]


@pytest.fixture
def scim_storage(tmp_path):
    """A fresh, empty store per test (fsync off: durability is not what the tests check)."""
    storage = JsonDirectoryStorage.from_uri(f"jsondir://{tmp_path}/store?fsync=false", {}, default_catalog())
    yield storage
    storage.close()
