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
from .state import EXTENSION_KEY

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
    return app.extensions[EXTENSION_KEY]


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
@click.option("--timeout", envvar="SCIMFLASK_TIMEOUT", default=30, type=int, show_default=True,
              help="With --workers: seconds before gunicorn kills and replaces a worker stuck on a request.")
def serve(host: str, port: int, storage: str | None, prefix: str | None, workers: int | None,
          public_url: str | None, timeout: int) -> None:
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
        _serve_gunicorn(config, host, port, workers, timeout)
    else:
        from werkzeug.serving import run_simple

        from .server.devserver import ScimRequestHandler

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


def _admin(storage: str | None):
    """The admin service of an app built from the environment and `--storage`."""
    return _state(_app(_config(storage))).admin


def _run_admin(operation):
    from .ops.admin.service import AdminError

    try:
        return operation()
    except AdminError as exc:
        raise click.ClickException(exc.detail) from None


def _public_url(state, public_url: str | None) -> str:
    return public_url or state.config[ConfigKeys.PUBLIC_BASE_URL] or "http://127.0.0.1:8000"


public_url_option = click.option(
    "--public-url", envvar="SCIMFLASK_PUBLIC_URL", default=None,
    help="The URL clients reach the server at (default SCIM_PUBLIC_BASE_URL, else http://127.0.0.1:8000).")


@token.command("rotate")
@storage_option
@tenant_option
@public_url_option
def token_rotate(storage: str | None, tenant: str | None, public_url: str | None) -> None:
    """Issue a new token; the tenant's older tokens expire after SCIM_TOKEN_ROTATION_GRACE seconds."""
    state = _state(_app(_config(storage)))
    tenant = tenant or state.config[ConfigKeys.DEFAULT_TENANT]
    issued, deadline = _run_admin(lambda: state.admin.rotate(tenant, _public_url(state, public_url)))
    click.echo(f"Token id:     {issued.token.id}")
    click.echo(f"Secret Token: {issued.secret}")
    click.echo(f"Older tokens of {tenant} expire at {deadline.isoformat()}")


@main.group()
def tenant() -> None:
    """Enable, list, disable and delete tenants (the admin API's operations)."""


@tenant.command("enable")
@storage_option
@public_url_option
@click.option("--no-token", is_flag=True, help="Only re-enable a disabled tenant; issue no new token.")
@click.argument("tenant_id")
def tenant_enable(storage: str | None, public_url: str | None, no_token: bool, tenant_id: str) -> None:
    """Enable SCIM for TENANT_ID and print its Tenant URL and a new Secret Token."""
    state = _state(_app(_config(storage)))
    if no_token:
        _run_admin(lambda: state.admin.set_disabled(tenant_id, False))
        click.echo(f"enabled {tenant_id}")
        return
    issued = _run_admin(lambda: state.admin.enable_scim(tenant_id, _public_url(state, public_url)))
    click.echo(f"Tenant:       {tenant_id}")
    click.echo(f"Tenant URL:   {issued.base_url}")
    click.echo(f"Token id:     {issued.token.id}")
    click.echo(f"Secret Token: {issued.secret}")
    click.echo("              (shown only now; paste both into the identity provider)")


@tenant.command("list")
@storage_option
def tenant_list(storage: str | None) -> None:
    """List tenants with their state and number of tokens."""
    tenants = _run_admin(_admin(storage).list_tenants)
    if not tenants:
        click.echo("no tenants")
    for record in tenants:
        state = "disabled" if record["disabled"] else "enabled"
        click.echo(f"{record['id']}  {state}  tokens={record['tokens']}  created={record['created']}")


@tenant.command("tokens")
@storage_option
@click.argument("tenant_id")
def tenant_tokens(storage: str | None, tenant_id: str) -> None:
    """List a tenant's tokens (never their secrets)."""
    for record in _run_admin(lambda: _admin(storage).list_tokens(tenant_id)):
        click.echo(f"{record['id']}  created={record['created']}  last_used={record['lastUsed'] or 'never'}  "
                   f"expires={record['expires'] or 'never'}  {record['description']}")


@tenant.command("disable")
@storage_option
@click.argument("tenant_id")
def tenant_disable(storage: str | None, tenant_id: str) -> None:
    """Refuse every SCIM request of TENANT_ID (403) until it is enabled again."""
    _run_admin(lambda: _admin(storage).set_disabled(tenant_id, True))
    click.echo(f"disabled {tenant_id}")


@tenant.command("delete")
@storage_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.argument("tenant_id")
def tenant_delete(storage: str | None, yes: bool, tenant_id: str) -> None:
    """Delete TENANT_ID with ALL its users, groups, tokens and log entries."""
    if not yes:
        click.confirm(f"Delete tenant {tenant_id} and all its data?", abort=True)
    if not _run_admin(lambda: _admin(storage).delete_tenant(tenant_id)):
        raise click.ClickException(f"no tenant {tenant_id!r}")
    click.echo(f"deleted {tenant_id}")


@main.command("log")
@storage_option
@tenant_option
@click.option("--limit", default=50, show_default=True, type=int)
@click.option("--before", default=None, help="Only entries older than this entry id (paging).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def provisioning_log(storage: str | None, tenant: str | None, limit: int, before: str | None,
                     as_json: bool) -> None:
    """Show a tenant's provisioning log, newest first."""
    import json

    state = _state(_app(_config(storage)))
    tenant = tenant or state.config[ConfigKeys.DEFAULT_TENANT]
    for entry in _run_admin(lambda: state.admin.query_log(tenant, limit, before)):
        if as_json:
            click.echo(json.dumps(entry))
            continue
        resource = f"{entry['resourceType'] or '-'} {entry['resourceId'] or ''}".strip()
        changed = ",".join(entry["changed"])
        click.echo(f"{entry['time']}  {entry['method']:6} {entry['path']}  {entry['status']} {entry['outcome']}  "
                   f"{resource}  {changed}  {entry['detail'] or ''}".rstrip())


# -- moving between backends ----------------------------------------------------------------

def _progress(label: str):
    """A progress line on stderr, redrawn in place every 100 records."""
    def show(done: int, total: int) -> None:
        if done % 100 == 0 or done == total:
            click.echo(f"\r{label}: {done} records ({total} resources in source)", nl=False, err=True)
    return show


def _open(uri: str):
    from .ops.migrate import open_storage

    try:
        return open_storage(uri)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None


def _tenants(storage, extra: tuple[str, ...]) -> list[str]:
    from .ops.migrate import tenants_of

    return tenants_of(storage, from_environ().get(ConfigKeys.DEFAULT_TENANT, "default"), extra)


extra_tenant_option = click.option(
    "--tenant", "extra_tenants", multiple=True,
    help="A tenant to include that has no tenant record and no token (repeatable).")


@main.command("migrate")
@click.option("--from", "source_uri", required=True, help="Storage URL to copy from.")
@click.option("--to", "target_uri", required=True, help="Storage URL to copy into.")
@click.option("--verify", "verify_all", is_flag=True, help="Afterwards compare every resource, not only counts.")
@extra_tenant_option
def migrate_command(source_uri: str, target_uri: str, verify_all: bool, extra_tenants: tuple[str, ...]) -> None:
    """Copy every tenant, token, user, group and membership; run again to resume."""
    from .ops.migrate import migrate, verify

    source, target = _open(source_uri), _open(target_uri)
    tenants = _tenants(source, extra_tenants)
    result = migrate(source, target, tenants, _progress("copying"))
    click.echo(f"\ncopied {result.written}, already present {result.skipped}", err=True)
    _report(verify(source, target, tenants, every_resource=verify_all))


def _report(problems: list[str]) -> None:
    if problems:
        for problem in problems[:50]:
            click.echo(problem, err=True)
        raise click.ClickException(f"verification failed: {len(problems)} difference(s)")
    click.echo("verified: source and target agree")


@main.command("export")
@storage_option
@extra_tenant_option
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
def export_command(storage: str | None, extra_tenants: tuple[str, ...], path: str) -> None:
    """Write every tenant, token and resource to PATH as JSON Lines."""
    from .ops.migrate import export_file

    source = _open(storage or DEFAULT_STORAGE_URI)
    written = export_file(source, _tenants(source, extra_tenants), path, _progress("exporting"))
    click.echo(f"\nexported {written} records to {path}")


@main.command("import")
@storage_option
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_command(storage: str | None, path: str) -> None:
    """Load a JSON Lines export into the storage; run again to resume."""
    from .ops.migrate import copy_records, read_file

    target = _open(storage or DEFAULT_STORAGE_URI)
    try:
        result = copy_records(read_file(path), target, _progress("importing"))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"\nimported {result.written}, already present {result.skipped}")
