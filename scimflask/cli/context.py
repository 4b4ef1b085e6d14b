"""Where the commands get their SCIM state from, and the options every front end shares.

The token, tenant, log and data commands are written once. The standalone `scimflask` group
puts a source on the click context that builds the state from the environment and `--storage`;
`flask scim` puts one there that hands out the host app's already-built state (its
configuration, its storage options such as an existing SQLAlchemy engine). A command asks
`current_source()` and never knows which it got.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from ..config import ConfigKeys
from ..state import ScimState
from ..storage.base import Storage


class StateSource:
    """The state the commands run against; subclasses say where it comes from."""

    #: How an operator invokes this command line ("scimflask", "flask scim"), for hints.
    command = "scimflask"

    def state(self, storage: str | None) -> ScimState:
        """The state for a command given `--storage` (None when not given)."""
        raise NotImplementedError

    def default_tenant(self) -> str:
        """The tenant a command means when none is named (SCIM_DEFAULT_TENANT)."""
        raise NotImplementedError

    def open(self, uri: str, option: str) -> Storage:
        """Another storage, named on the command line by `option` (migrate's --from/--to)."""
        from .storage_access import open_uri

        return open_uri(uri, option)


def current_source() -> StateSource:
    source = click.get_current_context().find_object(StateSource)
    if source is None:
        raise RuntimeError("scimflask commands run under the `scimflask` or `flask scim` group")
    return source


storage_option = click.option(
    "--storage", envvar=ConfigKeys.STORAGE_URI, show_envvar=True, default=None,
    help="Storage URL (default: the SQLite file scim.db in the working directory). "
         "Not for `flask scim`, which uses the app's storage.")
tenant_option = click.option(
    "--tenant", default=None, help=f"Tenant (default: {ConfigKeys.DEFAULT_TENANT} or 'default').")
public_url_option = click.option(
    "--public-url", envvar="SCIMFLASK_PUBLIC_URL", show_envvar=True, default=None,
    help=f"The URL clients reach the server at (default {ConfigKeys.PUBLIC_BASE_URL}, "
         "else http://127.0.0.1:8000).")


def with_state(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command `--storage` and call it with the resulting `state` instead."""

    @storage_option
    @functools.wraps(command)
    def run(storage: str | None, **kwargs: Any) -> Any:
        return command(current_source().state(storage), **kwargs)

    return run


def run_admin(operation: Callable[[], Any]) -> Any:
    """Run an admin-service call; its refusals become one-line command errors."""
    from ..ops.admin.service import AdminError

    try:
        return operation()
    except AdminError as exc:
        raise click.ClickException(exc.detail) from None


def public_url_of(state: ScimState, public_url: str | None) -> str:
    return public_url or state.config[ConfigKeys.PUBLIC_BASE_URL] or "http://127.0.0.1:8000"
