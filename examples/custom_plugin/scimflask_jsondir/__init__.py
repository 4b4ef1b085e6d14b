"""scimflask-jsondir: a scimflask storage plugin keeping SCIM data in a directory of JSON files.

Installing the distribution is all it takes: its `scimflask.plugins` entry point makes
scimflask load this module, whose hook registers the `jsondir://` scheme, so
`SCIM_STORAGE_URI=jsondir:///var/lib/scim` selects it with no change to scimflask.
"""

from scimflask import hookimpl

from .storage import JsonDirectoryStorage

__all__ = ["JsonDirectoryStorage"]


@hookimpl
def scimflask_register_storage(registry):
    registry.add(JsonDirectoryStorage)
