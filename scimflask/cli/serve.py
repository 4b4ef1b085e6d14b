"""`scimflask serve`: the standalone server."""

from __future__ import annotations

import os
import secrets
import sys

import click

from ..auth import new_token
from ..config import ConfigKeys
from .common import build_app, config_from, state_of, storage_option


@click.command()
@click.option("--host", envvar="SCIMFLASK_HOST", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="SCIMFLASK_PORT", default=8000, type=int, show_default=True)
@storage_option
@click.option("--prefix", envvar="SCIM_URL_PREFIX", default=None, help="URL prefix (default /scim/v2).")
@click.option("--workers", envvar="SCIMFLASK_WORKERS", default=None, type=int,
              help="Run under gunicorn with this many worker processes.")
@click.option("--public-url", envvar="SCIMFLASK_PUBLIC_URL", default=None,
              help="The URL clients reach this server at (printed as the Tenant URL).")
@click.option("--timeout", envvar="SCIMFLASK_TIMEOUT", default=30, type=int, show_default=True,
              help="With --workers: seconds before gunicorn kills and replaces a worker stuck on a request.")
def serve(host: str, port: int, storage: str | None, prefix: str | None, workers: int | None,
          public_url: str | None, timeout: int) -> None:
    """Start the server; on first start, create and print a Secret Token."""
    config = config_from(storage, prefix)
    # Every worker must sign cursors with the same key.
    config.setdefault(ConfigKeys.SECRET_KEY, os.environ.get("SCIM_SECRET_KEY") or secrets.token_hex(32))
    app = build_app(config)
    state = state_of(app)
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
        _serve_gunicorn(config, host, port, workers, timeout)
    else:
        from werkzeug.serving import run_simple

        from ..server.devserver import ScimRequestHandler

        run_simple(host, port, app, threaded=True, use_reloader=False, request_handler=ScimRequestHandler)


def _serve_gunicorn(config: dict, host: str, port: int, workers: int, timeout: int) -> None:
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:
        raise click.ClickException("--workers needs gunicorn: pip install 'scimflask[server]'") from None

    class StandaloneApplication(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            # A request still running after `timeout` seconds gets its worker restarted.
            self.cfg.set("timeout", timeout)
            # gthread, answering gunicorn's own refusals (over-long request line, headers) as SCIM
            # JSON; its limits sit above RequestLimits' so the app answers first, with detail.
            self.cfg.set("worker_class", "scimflask.server.worker.ScimThreadWorker")
            self.cfg.set("limit_request_line", 8190)
            self.cfg.set("limit_request_field_size", 8190)
            self.cfg.set("threads", 4)
            self.cfg.set("accesslog", None)

        def load(self):
            # Each worker builds its own app, storage and connection pool after the fork.
            return build_app(config)

    StandaloneApplication().run()
