"""One pluggy plugin manager per Scim instance (built-ins, entry points, extras, blocks), and what
the plugins contribute: the schema catalog and the storage backend."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable
from importlib import metadata

import pluggy

from . import hookspecs
from .errors import ConfigurationError
from .schema import default_catalog
from .schema.catalog import Catalog
from .storage.base import Storage
from .storage.registry import StorageRegistry

ENTRY_POINT_GROUP = "scimflask.plugins"
# The distribution whose entry points are the built-in plugins; they load even when
# third-party autoload is switched off, but through the same entry-point group.
BUILTIN_DISTRIBUTION = "scimflask"


def _entry_points() -> Iterable[metadata.EntryPoint]:
    return metadata.entry_points(group=ENTRY_POINT_GROUP)


def make_plugin_manager(*, extra_plugins: Iterable = (), blocked: Iterable[str] = (),
                        autoload: bool = True) -> pluggy.PluginManager:
    """A fresh manager: never shared between apps, so tests and apps cannot leak plugins.

    Entry points of the `scimflask.plugins` group are loaded by name; with `autoload` False
    (or `SCIMFLASK_DISABLE_PLUGIN_AUTOLOAD` set) only scimflask's own ones are. `extra_plugins`
    are objects or dotted module names registered afterwards; `blocked` names are never
    registered.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in blocked:
        pm.set_blocked(name)
    if os.environ.get("SCIMFLASK_DISABLE_PLUGIN_AUTOLOAD"):
        autoload = False
    for ep in _entry_points():
        dist = getattr(ep, "dist", None)
        builtin = dist is not None and dist.name.lower() == BUILTIN_DISTRIBUTION
        if not (autoload or builtin):
            continue
        if pm.is_blocked(ep.name) or pm.get_plugin(ep.name) is not None:
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken third-party plugin must say which one
            raise ConfigurationError(f"cannot load scimflask plugin {ep.name!r} ({ep.value}): {exc}") from exc
        pm.register(plugin, name=ep.name)
    for plugin in extra_plugins:
        if isinstance(plugin, str):
            name = plugin
            try:
                plugin = importlib.import_module(plugin)
            except ImportError as exc:
                raise ConfigurationError(f"cannot import plugin {name!r}: {exc}") from exc
        else:
            name = getattr(plugin, "__name__", None) or repr(plugin)
        if pm.is_blocked(name) or pm.is_registered(plugin):
            continue
        pm.register(plugin, name=name)
    pm.check_pending()
    return pm


def build_catalog(pm: pluggy.PluginManager) -> Catalog:
    """The core schemas plus every plugin's `scimflask_register_schemas` additions."""
    catalog = default_catalog()
    pm.hook.scimflask_register_schemas(catalog=catalog)
    return catalog


def storage_registry(pm: pluggy.PluginManager) -> StorageRegistry:
    """Every storage class the plugins register, by URL scheme."""
    registry = StorageRegistry()
    pm.hook.scimflask_register_storage(registry=registry)
    return registry


def open_storage(pm: pluggy.PluginManager, uri: str, options: dict | None = None) -> Storage:
    """The backend the plugins register for `uri`'s scheme, over a catalog built from `pm`.

    `Scim.init_app` and the command-line tools (migrate, export, import) open storage this one
    way, so a backend sees the same schemas whichever of them opened it.
    """
    return storage_registry(pm).lookup(uri).from_uri(uri, dict(options or {}), build_catalog(pm))
