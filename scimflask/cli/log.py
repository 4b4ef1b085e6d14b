"""`scimflask log`: a tenant's provisioning log."""

from __future__ import annotations

import click

from ..config import ConfigKeys
from .common import build_app, config_from, run_admin, state_of, storage_option, tenant_option


@click.command("log")
@storage_option
@tenant_option
@click.option("--limit", default=50, show_default=True, type=int)
@click.option("--before", default=None, help="Only entries older than this entry id (paging).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def provisioning_log(storage: str | None, tenant: str | None, limit: int, before: str | None,
                     as_json: bool) -> None:
    """Show a tenant's provisioning log, newest first."""
    import json

    state = state_of(build_app(config_from(storage)))
    tenant = tenant or state.config[ConfigKeys.DEFAULT_TENANT]
    for entry in run_admin(lambda: state.admin.query_log(tenant, limit, before)):
        if as_json:
            click.echo(json.dumps(entry))
            continue
        resource = f"{entry['resourceType'] or '-'} {entry['resourceId'] or ''}".strip()
        changed = ",".join(entry["changed"])
        click.echo(f"{entry['time']}  {entry['method']:6} {entry['path']}  {entry['status']} {entry['outcome']}  "
                   f"{resource}  {changed}  {entry['detail'] or ''}".rstrip())
