"""`scimflask serve`: the standalone server.

By default gunicorn runs the app (`scimflask.server.gunicorn_app`) with a worker count that
suits the storage; `--dev` runs werkzeug's development server with its reloader instead, and
where gunicorn cannot run, serve says why and falls back to werkzeug's server.
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass

import click

from ..auth import new_token
from ..config import ConfigKeys
from ..server.logging_config import FORMATS, configure_logging
from .common import build_app, config_from, state_of
from .context import storage_option

GUNICORN_HINT = "pip install 'scimflask[server]' for gunicorn, the production server"
MAX_DEFAULT_WORKERS = 4


@dataclass(frozen=True)
class Plan:
    """Which server runs the app, with how many workers, and the line that tells the operator."""

    server: str  # "gunicorn", "werkzeug" (fallback) or "dev" (werkzeug with the reloader)
    workers: int
    description: str


def keeps_data_in_process(storage_uri: str) -> bool:
    """memory:// lives in one process: a second worker would have other data."""
    return storage_uri.partition(":")[0].lower() == "memory"


def default_workers() -> int:
    """Several workers, but no more than the machine has cores for (two at least: each worker
    also waits on its storage)."""
    return max(2, min(MAX_DEFAULT_WORKERS, os.cpu_count() or 1))


def gunicorn_missing() -> str | None:
    """Why gunicorn cannot run here, or None when it can."""
    if not hasattr(os, "fork"):
        return "this platform cannot fork worker processes, which gunicorn needs"
    try:
        import gunicorn.app.base  # noqa: F401
    except ImportError:
        return "gunicorn is not installed"
    return None


def plan_server(storage_uri: str, workers: int | None, dev: bool) -> Plan:
    if workers is not None and workers < 1:
        raise click.BadParameter("must be at least 1", param_hint="'--workers'")
    one_process = keeps_data_in_process(storage_uri)
    if one_process and workers is not None and workers > 1:
        raise click.BadParameter(
            f"{storage_uri} keeps its data inside one process, so {workers} workers would each have "
            "different data; use --workers 1, or a SQLite, PostgreSQL, MariaDB or Redis storage",
            param_hint="'--workers'")
    if dev:
        if workers is not None and workers > 1:
            raise click.BadParameter("--dev runs one process; leave out --workers", param_hint="'--workers'")
        return Plan("dev", 1, "werkzeug development server with reloader (--dev)")
    missing = gunicorn_missing()
    if missing:
        if workers is not None and workers > 1:
            raise click.ClickException(f"--workers {workers} needs gunicorn, but {missing}: {GUNICORN_HINT}")
        return Plan("werkzeug", 1, f"werkzeug development server, because {missing} ({GUNICORN_HINT})")
    if workers is not None:
        count, why = workers, ""
    elif one_process:
        count, why = 1, f" ({storage_uri} keeps its data inside this one process)"
    else:
        count, why = default_workers(), ""
    return Plan("gunicorn", count, f"gunicorn, {count} worker{'s' if count > 1 else ''}{why}")


@click.command()
@click.option("--host", envvar="SCIMFLASK_HOST", default="127.0.0.1", show_default=True)
@click.option("--port", envvar="SCIMFLASK_PORT", default=8000, type=int, show_default=True)
@storage_option
@click.option("--prefix", envvar="SCIM_URL_PREFIX", default=None, help="URL prefix (default /scim/v2).")
@click.option("--workers", envvar="SCIMFLASK_WORKERS", default=None, type=int,
              help=f"gunicorn worker processes (default: 1 for memory://, else 2 to {MAX_DEFAULT_WORKERS} "
                   "by CPU count).")
@click.option("--public-url", envvar="SCIMFLASK_PUBLIC_URL", default=None,
              help="The URL clients reach this server at: the Tenant URL printed and the base of every "
                   "location the server sends (default SCIM_PUBLIC_BASE_URL, else the request's host).")
@click.option("--timeout", envvar="SCIMFLASK_TIMEOUT", default=30, type=int, show_default=True,
              help="Seconds before gunicorn kills and replaces a worker stuck on a request.")
@click.option("--dev", is_flag=True, help="werkzeug's development server, reloading on code changes.")
@click.option("--log-format", envvar="SCIMFLASK_LOG_FORMAT", type=click.Choice(FORMATS), default="text",
              show_default=True, help="Log lines on stdout as text or as one JSON object each.")
@click.option("--quiet", envvar="SCIMFLASK_QUIET", is_flag=True,
              help="No access lines: warnings, errors and audit lines only.")
def serve(host: str, port: int, storage: str | None, prefix: str | None, workers: int | None,
          public_url: str | None, timeout: int, dev: bool, log_format: str, quiet: bool) -> None:
    """Start the server; on first start, create and print a Secret Token."""
    config = config_from(storage, prefix)
    # Every worker, and every process the reloader starts, must sign cursors with the same key.
    config[ConfigKeys.SECRET_KEY] = config.get(ConfigKeys.SECRET_KEY) or secrets.token_hex(32)
    if dev:
        os.environ["SCIM_SECRET_KEY"] = config[ConfigKeys.SECRET_KEY]
    public_url = public_url or config.get(ConfigKeys.PUBLIC_BASE_URL)
    if public_url:
        config[ConfigKeys.PUBLIC_BASE_URL] = public_url
    plan = plan_server(config[ConfigKeys.STORAGE_URI], workers, dev)
    configure_logging(log_format, quiet)
    if plan.server == "gunicorn":
        _run_gunicorn(plan, config, host, port, timeout, log_format, quiet)
    else:
        _run_werkzeug(plan, config, host, port)


def _run_gunicorn(plan: Plan, config: dict, host: str, port: int, timeout: int, log_format: str,
                  quiet: bool) -> None:
    from ..ops.metrics import multiprocess_metrics
    from ..server.gunicorn_app import ScimGunicorn, gunicorn_settings

    # Before the first app is built: prometheus_client picks its mode when first imported.
    with multiprocess_metrics():
        app = build_app(config)
        _announce(app, plan, host, port)
        if keeps_data_in_process(config[ConfigKeys.STORAGE_URI]):
            # The worker forks with this app's data, the token just printed included.
            def app_factory():
                return app
        else:
            # Each worker opens its own storage and pools after the fork; this process serves nothing.
            state_of(app).close()

            def app_factory():
                return build_app(config)

        settings = gunicorn_settings(host=host, port=port, workers=plan.workers, timeout=timeout,
                                     log_format=log_format, quiet=quiet)
        ScimGunicorn(app_factory, settings).run()


def _run_werkzeug(plan: Plan, config: dict, host: str, port: int) -> None:
    from ..server.devserver import serve_werkzeug, serves_here

    reload = plan.server == "dev"
    app = None
    # With the reloader, the app and its token belong to the process that serves, not the watcher.
    if serves_here(reload):
        app = build_app(config)
        _announce(app, plan, host, port)
    serve_werkzeug(app, host, port, reload=reload)


def _announce(app, plan: Plan, host: str, port: int) -> None:
    """The lines an operator pastes into the identity provider, and how the server runs."""
    state = state_of(app)
    tenant = state.config[ConfigKeys.DEFAULT_TENANT]
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else (f"[{host}]" if ":" in host else host)
    local = f"http://{shown}:{port}"
    tenant_url = (state.config[ConfigKeys.PUBLIC_BASE_URL] or local).rstrip("/") + state.config[ConfigKeys.URL_PREFIX]
    click.echo(f"Storage:      {state.config[ConfigKeys.STORAGE_URI]}")
    click.echo(f"Server:       {plan.description}")
    click.echo(f"Tenant URL:   {tenant_url}")
    if not state.storage.list_tokens(tenant):
        _, secret = new_token(state.storage, tenant, description="created by scimflask serve")
        click.echo(f"Secret Token: {secret}")
        click.echo("              (shown only now; paste both into your identity provider)")
    else:
        click.echo("Secret Token: already created earlier (run 'scimflask token create' for a new one)")
    sys.stdout.flush()
