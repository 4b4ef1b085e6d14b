"""Storage plugins arrive through the `scimflask.plugins` entry-point group and are chosen by
URL scheme: the built-in memory plugin exactly like a third-party one."""

from __future__ import annotations

import sys
import textwrap
from importlib import metadata

import pytest
import scimflask_memory
from scimflask_memory import MemoryStorage

from scimflask import hookimpl
from scimflask.errors import ConfigurationError
from scimflask.model import RequestContext, Resource, utcnow
from scimflask.plugins import ENTRY_POINT_GROUP, make_plugin_manager
from scimflask.schema import default_catalog
from scimflask.storage import StorageRegistry

FAKE_PLUGIN = '''
"""A third-party storage plugin, as a separate distribution would ship it."""
from scimflask import hookimpl
from scimflask_memory import MemoryStorage


class FakeStorage(MemoryStorage):
    schemes = ("fake",)


@hookimpl
def scimflask_register_storage(registry):
    registry.add(FakeStorage)
'''


@pytest.fixture
def fake_distribution(tmp_path, monkeypatch):
    """Install `scimflask-fake` (module `scimflask_fake`, entry point `fake`) for one test."""
    (tmp_path / "scimflask_fake.py").write_text(FAKE_PLUGIN)
    dist_info = tmp_path / "scimflask_fake-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: scimflask-fake\nVersion: 1.0\n")
    (dist_info / "entry_points.txt").write_text(
        textwrap.dedent(f"""\
            [{ENTRY_POINT_GROUP}]
            fake = scimflask_fake
        """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("SCIMFLASK_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    yield
    sys.modules.pop("scimflask_fake", None)


def registry_of(pm) -> StorageRegistry:
    """What `Scim.init_app` does: ask every plugin to register its backends."""
    registry = StorageRegistry()
    pm.hook.scimflask_register_storage(registry=registry)
    return registry


def test_third_party_plugin_is_chosen_by_its_scheme(fake_distribution):
    pm = make_plugin_manager()
    storage_class = registry_of(pm).lookup("fake://anything")
    assert (storage_class.__module__, storage_class.__name__) == ("scimflask_fake", "FakeStorage")
    storage = storage_class.from_uri("fake://anything", {}, default_catalog())
    ctx = RequestContext(tenant="t")
    now = utcnow()
    created = storage.create(ctx, Resource("User", "u-1", {"userName": "fay"}, now, now))
    assert storage.get(ctx, "User", created.id).data == {"userName": "fay"}


def test_memory_plugin_arrives_through_the_entry_point_group():
    declared = {ep.name: ep.value for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    assert declared["memory"] == "scimflask_memory"
    pm = make_plugin_manager()
    assert pm.get_plugin("memory") is scimflask_memory
    assert registry_of(pm).lookup("memory://") is MemoryStorage


def test_without_autoload_only_builtin_plugins_load(fake_distribution):
    pm = make_plugin_manager(autoload=False)
    registry = registry_of(pm)
    assert registry.lookup("memory://") is MemoryStorage
    assert "fake" not in registry.schemes
    with pytest.raises(ConfigurationError):
        registry.lookup("fake://x")


@pytest.mark.parametrize("blocked", ["fake", "memory"])
def test_blocked_plugins_register_nothing(fake_distribution, blocked):
    pm = make_plugin_manager(blocked=[blocked])
    assert pm.get_plugin(blocked) is None
    schemes = registry_of(pm).schemes
    assert blocked not in schemes
    assert {"fake", "memory"} - {blocked} <= set(schemes)


def test_two_plugins_claiming_one_scheme_is_a_configuration_error():
    class ImpostorStorage(MemoryStorage):
        schemes = ("memory",)

    class ImpostorPlugin:
        @hookimpl
        def scimflask_register_storage(self, registry):
            registry.add(ImpostorStorage)

    pm = make_plugin_manager(extra_plugins=[ImpostorPlugin()])
    with pytest.raises(ConfigurationError) as info:
        registry_of(pm)
    assert "MemoryStorage" in str(info.value) and "ImpostorStorage" in str(info.value)


def test_unknown_scheme_lists_the_known_ones(fake_distribution):
    registry = registry_of(make_plugin_manager())
    with pytest.raises(ConfigurationError) as info:
        registry.lookup("nosuch://host/db")
    assert "'nosuch'" in str(info.value)
    assert "fake" in str(info.value) and "memory" in str(info.value)


def test_a_driver_suffix_falls_back_to_the_base_scheme():
    assert registry_of(make_plugin_manager()).lookup("memory+threads://") is MemoryStorage
