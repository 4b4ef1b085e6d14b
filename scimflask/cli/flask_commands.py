"""`flask scim …`: the token, tenant, log and data commands inside a host app.

`Scim.init_app` calls `register(app)`. The commands then work on that app's state, built from
its `app.config` (storage options such as an existing SQLAlchemy engine included), not on the
environment the standalone `scimflask` reads.
"""

from __future__ import annotations

import click
from click.core import ParameterSource
from flask import Flask, current_app, has_app_context

from ..config import ConfigKeys
from ..state import EXTENSION_KEY, ScimState
from .commands import SHARED_COMMANDS
from .context import StateSource
from .errors import ExplainingGroup, debug_option
from .storage_access import ping

ORIGIN = "the app's SCIM_STORAGE_URI"


class HostAppSource(StateSource):
    """The state `Scim` built for `app`, its storage pinged before the first command uses it."""

    command = "flask scim"

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._reached = False

    def state(self, storage: str | None) -> ScimState:
        ctx = click.get_current_context()
        if storage is not None and ctx.get_parameter_source("storage") is ParameterSource.COMMANDLINE:
            raise click.UsageError(f"--storage does not apply to 'flask scim': it works on {ORIGIN}")
        state = self.app.extensions[EXTENSION_KEY]
        if not self._reached:
            ping(state.storage, state.config[ConfigKeys.STORAGE_URI], ORIGIN)
            self._reached = True
        return state

    def default_tenant(self) -> str:
        return self.app.extensions[EXTENSION_KEY].config[ConfigKeys.DEFAULT_TENANT]


def register(app: Flask) -> None:
    """Add the `scim` command group to `app.cli`."""

    @click.group("scim", cls=ExplainingGroup)
    @debug_option
    @click.pass_context
    def scim(ctx: click.Context) -> None:
        """SCIM tokens, tenants, provisioning log and data of this app."""
        ctx.obj = HostAppSource(app)
        if not has_app_context() or current_app._get_current_object() is not app:
            ctx.with_resource(app.app_context())

    for command in SHARED_COMMANDS:
        scim.add_command(command)
    app.cli.add_command(scim)
