"""`scimflask log` (and `flask scim log`): a tenant's provisioning log."""

from __future__ import annotations

import json

import click

from ..config import ConfigKeys
from ..state import ScimState
from .context import run_admin, tenant_option, with_state
from .output import timestamp


@click.command("log")
@tenant_option
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--before", default=None, help="Only entries older than this entry id (paging).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line, as the admin API returns them.")
@with_state
def provisioning_log(state: ScimState, tenant: str | None, limit: int, before: str | None, as_json: bool) -> None:
    """Show a tenant's provisioning log, newest first."""
    tenant = tenant or state.config[ConfigKeys.DEFAULT_TENANT]
    for entry in run_admin(lambda: state.admin.query_log(tenant, limit, before)):
        if as_json:
            click.echo(json.dumps(entry))
            continue
        resource = f"{entry['resourceType'] or '-'} {entry['resourceId'] or ''}".strip()
        changed = ",".join(entry["changed"])
        click.echo(f"{timestamp(entry['time'])}  {entry['method']:6} {entry['path']}  {entry['status']} "
                   f"{entry['outcome']}  {resource}  {changed}  {entry['detail'] or ''}".rstrip())
