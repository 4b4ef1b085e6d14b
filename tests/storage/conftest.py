"""Storage backend tests: each `test_<backend>.py` provides `scim_storage` and subclasses the
contract from `scimflask.testing.contract`.

The kit's other fixtures come from `pytest_plugins = ["scimflask.testing"]` in the top-level
tests/conftest.py (pytest accepts `pytest_plugins` only there), as in a plugin author's project.
"""
