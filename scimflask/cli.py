"""`scimflask serve | token …`: the standalone server and its token administration."""

from __future__ import annotations

import os
import secrets
import sys
from typing import Any

import click

from .auth import new_token
from .config import ConfigKeys, from_environ
from .errors import ConfigurationError

DEFAULT_STORAGE_URI = "sqlite:///scim.db"


def _config(storage: str | None, prefix: str | None = None, **extra: Any) -> dict:
    config = from_environ()
    config.setdefault(ConfigKeys.STORAGE_URI, DEFAULT_STORAGE_URI)
    if storage:
        config[ConfigKeys.STORAGE_URI] = storage
    if prefix:
        config[ConfigKeys.URL_PREFIX] = prefix
    config.update(extra)
    return config


def _app(config: dict):
    from .app import create_app

    try:
        return create_app(config)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None


def _state(app):
    return app.extensions["scim"]


storage_option = click.option(
    "--storage", envvar="SCIM_STORAGE_URI", default=None,
    help=f"Storage URL (default {DEFAULT_STORAGE_URI}, a file in the working directory).")
tenant_option = click.option("--tenant", default=None, help="Tenant (default: SCIM_DEFAULT_TENANT or 'default').")


@click.group()
def main() -> None:
    """scimflask: a SCIM 2.0 service provider."""


@main.command()
@click.option("--host", envvar="SCIMFLASK_HOST", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="SCIMFLASK_PORT", default=8000, type=int, show_default=True)
@storage_option
@click.option("--prefix", envvar="SCIM_URL_PREFIX", default=None, help="URL prefix (default /scim/v2).")
@click.option("--workers", envvar="SCIMFLASK_WORKERS", default=None, type=int,
              help="Run under gunicorn with this many worker processes.")
@click.option("--public-url", envvar="SCIMFLASK_PUBLIC_URL", default=None,
              help="The URL clients reach this server at (printed as the Tenant URL).")
def serve(host: str, port: int, storage: str | None, prefix: str | None, workers: int | None,
          public_url: str | None) -> None:
    """Start the server; on first start, create and print a Secret Token."""
    config = _config(storage, prefix)
    # Every worker must sign cursors with the same key.
    config.setdefault(ConfigKeys.SECRET_KEY, os.environ.get("SCIM_SECRET_KEY") or secrets.token_hex(32))
    app = _app(config)
    state = _state(app)
    tenant = state.config[ConfigKeys.DEFAULT_TENANT]
    base = (public_url or f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}").rstrip("/")
    tenant_url = base + state.config[ConfigKeys.URL_PREFIX]
    click.echo(f"Storage:      {state.config[ConfigKeys.STORAGE_URI]}")
    click.echo(f"Tenant URL:   {tenant_url}")
    if not state.storage.list_tokens(tenant):
        _, secret = new_token(state.storage, tenant, description="created by scimflask serve")
        click.echo(f"Secret Token: {secret}")
        click.echo("              (shown only now; paste both into your identity provider)")
    else:
        click.echo("Secret Token: already created earlier (run 'scimflask token create' for a new one)")
    sys.stdout.flush()
    if workers:
        _serve_gunicorn(config, host, port, workers)
    else:
        from werkzeug.serving import run_simple

        from .protocol.limits import ScimRequestHandler

        run_simple(host, port, app, threaded=True, use_reloader=False, request_handler=ScimRequestHandler)


def _serve_gunicorn(config: dict, host: str, port: int, workers: int) -> None:
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:
        raise click.ClickException("--workers needs gunicorn: pip install 'scimflask[server]'") from None

    class StandaloneApplication(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            # gthread, answering gunicorn's own refusals (over-long request line, headers) as SCIM
            # JSON; its limits sit above RequestLimits' so the app answers first, with detail.
            self.cfg.set("worker_class", "scimflask.protocol.limits.ScimThreadWorker")
            self.cfg.set("limit_request_line", 8190)
            self.cfg.set("limit_request_field_size", 8190)
            self.cfg.set("threads", 4)
            self.cfg.set("accesslog", None)

        def load(self):
            # Each worker builds its own app, storage and connection pool after the fork.
            return _app(config)

    StandaloneApplication().run()


@main.group()
def token() -> None:
    """Create, list and revoke bearer tokens."""


@token.command("create")
@storage_option
@tenant_option
@click.option("--description", default="", help="A note to recognise the token by.")
def token_create(storage: str | None, tenant: str | None, description: str) -> None:
    """Create a token and print its secret (shown only this once)."""
    state = _state(_app(_config(storage)))
    record, secret = new_token(state.storage, tenant or state.config[ConfigKeys.DEFAULT_TENANT], description)
    click.echo(f"Token id:     {record.id}")
    click.echo(f"Tenant:       {record.tenant}")
    click.echo(f"Secret Token: {secret}")


@token.command("list")
@storage_option
@tenant_option
def token_list(storage: str | None, tenant: str | None) -> None:
    """List tokens (ids and creation times, never secrets)."""
    state = _state(_app(_config(storage)))
    tokens = state.storage.list_tokens(tenant)
    if not tokens:
        click.echo("no tokens")
    for record in tokens:
        used = record.last_used.isoformat() if record.last_used else "never"
        click.echo(f"{record.id}  tenant={record.tenant}  created={record.created.isoformat()}  "
                   f"last_used={used}  {record.description}")


@token.command("revoke")
@storage_option
@click.argument("token_id")
def token_revoke(storage: str | None, token_id: str) -> None:
    """Revoke a token by id."""
    state = _state(_app(_config(storage)))
    if not state.storage.delete_token(token_id):
        raise click.ClickException(f"no token with id {token_id!r}")
    click.echo(f"revoked {token_id}")
