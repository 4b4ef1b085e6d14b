"""Built-in memory storage plugin (`memory://`): the reference backend, for tests and demos.

Registered through the `scimflask.plugins` entry-point group exactly like a third-party plugin.
"""

from scimflask import hookimpl

from .storage import MemoryStorage

__all__ = ["MemoryStorage"]


@hookimpl
def scimflask_register_storage(registry):
    registry.add(MemoryStorage)
