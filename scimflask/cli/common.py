"""What every command shares: configuration from the environment and options, the app and its
state, and the options several commands take."""

from __future__ import annotations

from typing import Any

import click

from ..config import ConfigKeys, from_environ
from ..errors import ConfigurationError
from ..state import EXTENSION_KEY, ScimState

DEFAULT_STORAGE_URI = "sqlite:///scim.db"


def config_from(storage: str | None, prefix: str | None = None, **extra: Any) -> dict:
    config = from_environ()
    config.setdefault(ConfigKeys.STORAGE_URI, DEFAULT_STORAGE_URI)
    if storage:
        config[ConfigKeys.STORAGE_URI] = storage
    if prefix:
        config[ConfigKeys.URL_PREFIX] = prefix
    config.update(extra)
    return config


def build_app(config: dict):
    from ..app import create_app

    try:
        return create_app(config)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None


def state_of(app) -> ScimState:
    return app.extensions[EXTENSION_KEY]


storage_option = click.option(
    "--storage", envvar="SCIM_STORAGE_URI", default=None,
    help=f"Storage URL (default {DEFAULT_STORAGE_URI}, a file in the working directory).")
tenant_option = click.option("--tenant", default=None, help="Tenant (default: SCIM_DEFAULT_TENANT or 'default').")


def admin_service(storage: str | None):
    """The admin service of an app built from the environment and `--storage`."""
    return state_of(build_app(config_from(storage))).admin


def run_admin(operation):
    from ..ops.admin.service import AdminError

    try:
        return operation()
    except AdminError as exc:
        raise click.ClickException(exc.detail) from None


def public_url_of(state, public_url: str | None) -> str:
    return public_url or state.config[ConfigKeys.PUBLIC_BASE_URL] or "http://127.0.0.1:8000"


public_url_option = click.option(
    "--public-url", envvar="SCIMFLASK_PUBLIC_URL", default=None,
    help="The URL clients reach the server at (default SCIM_PUBLIC_BASE_URL, else http://127.0.0.1:8000).")
