"""The standalone command line's configuration: `SCIM_*` environment variables and options, the
app built from them (its storage pinged at once), and the state source of the `scimflask`
group."""

from __future__ import annotations

import os
from typing import Any

import click

from ..config import DEFAULTS, ConfigKeys, from_environ
from ..state import EXTENSION_KEY, ScimState
from .context import StateSource
from .storage_access import CONFIGURED, naming_the_scheme, ping

DEFAULT_STORAGE_URI = "sqlite:///scim.db"


def default_storage_uri() -> str:
    """The SQLite file scim.db in the working directory, as an absolute URL."""
    return f"sqlite:///{os.path.abspath('scim.db')}"


def config_from(storage: str | None, prefix: str | None = None, **extra: Any) -> dict:
    """Configuration from the environment, then `--storage`/`--prefix` and `extra`. Falling
    back to the default SQLite file is announced on stderr with its absolute path."""
    config = from_environ()
    if storage:
        config[ConfigKeys.STORAGE_URI] = storage
    if not config.get(ConfigKeys.STORAGE_URI):
        config[ConfigKeys.STORAGE_URI] = default_storage_uri()
        click.echo(f"Storage: no {CONFIGURED} given; using the SQLite file "
                   f"{os.path.abspath('scim.db')}", err=True)
    if prefix:
        config[ConfigKeys.URL_PREFIX] = prefix
    config.update(extra)
    return config


def build_app(config: dict):
    """The standalone app for `config`, its storage reached once so that a wrong URL, password
    or database fails here, before anything is served (see `errors.explain`)."""
    from ..app import create_app

    uri = config[ConfigKeys.STORAGE_URI]
    with naming_the_scheme(uri, CONFIGURED):
        app = create_app(config)
    ping(state_of(app).storage, uri, CONFIGURED)
    return app


def state_of(app) -> ScimState:
    return app.extensions[EXTENSION_KEY]


class EnvironmentSource(StateSource):
    """State built from `SCIM_*` environment variables and `--storage`, once per command."""

    def __init__(self, command: str = "scimflask") -> None:
        self.command = command
        self._states: dict[str | None, ScimState] = {}

    def state(self, storage: str | None) -> ScimState:
        if storage not in self._states:
            self._states[storage] = state_of(build_app(config_from(storage)))
        return self._states[storage]

    def default_tenant(self) -> str:
        return from_environ().get(ConfigKeys.DEFAULT_TENANT) or DEFAULTS[ConfigKeys.DEFAULT_TENANT]
