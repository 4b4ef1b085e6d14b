"""The conformance kit's fixtures for the built-in backends' tests.

Plugin authors enable them with `pytest_plugins = ["scimflask.testing"]` in their top-level
conftest.py; pytest allows that only at the top level, so here they are imported instead.
"""

from scimflask.testing.plugin import catalog  # noqa: F401  (a fixture)
