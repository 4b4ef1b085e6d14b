"""`scimflask tenant …` (and `flask scim tenant …`): the admin API's tenant operations."""

from __future__ import annotations

import json

import click

from ..ops.admin.service import check_tenant_id
from ..ops.log_health import Health, Window, health_to_dict
from ..state import ScimState
from .context import current_source, public_url_of, public_url_option, run_admin, with_state
from .output import timestamp


@click.group()
def tenant() -> None:
    """Enable, list, disable and delete tenants (the admin API's operations)."""


@tenant.command("enable")
@public_url_option
@click.option("--new-token", is_flag=True,
              help="Issue another token for a tenant that is enabled already (earlier ones stay valid).")
@click.option("--no-token", is_flag=True, help="Only enable the tenant; issue no token.")
@click.argument("tenant_id")
@with_state
def tenant_enable(state: ScimState, public_url: str | None, new_token: bool, no_token: bool,
                  tenant_id: str) -> None:
    """Enable SCIM for TENANT_ID; a new tenant gets its Tenant URL and a Secret Token."""
    if new_token and no_token:
        raise click.UsageError("--new-token and --no-token contradict each other")
    record = run_admin(lambda: state.admin.tenants.get_tenant(check_tenant_id(tenant_id)))
    tokens = len(state.storage.list_tokens(tenant_id))
    enabled = (record is not None and not record.disabled) or (record is None and tokens > 0)
    if enabled and no_token:
        click.echo(f"{tenant_id} is enabled already")
        return
    if enabled and not new_token:
        command = current_source().command
        raise click.ClickException(
            f"tenant {tenant_id} is enabled already, with {tokens} token(s); no token issued\n"
            f"  Pass --new-token for another one, or run '{command} token rotate --tenant {tenant_id}' "
            "to replace them.")
    if no_token or (record is not None and tokens and not new_token):
        run_admin(lambda: state.admin.set_disabled(tenant_id, False))
        click.echo(f"enabled {tenant_id}" + (f"; its {tokens} earlier token(s) are valid again" if tokens else ""))
        return
    issued = run_admin(lambda: state.admin.enable_scim(tenant_id, public_url_of(state, public_url)))
    click.echo(f"Tenant:       {tenant_id}")
    click.echo(f"Tenant URL:   {issued.base_url}")
    click.echo(f"Token id:     {issued.token.id}")
    click.echo(f"Secret Token: {issued.secret}")
    click.echo("              (shown only now; paste both into the identity provider)")


@tenant.command("list")
@with_state
def tenant_list(state: ScimState) -> None:
    """List tenants with their state and number of tokens."""
    tenants = run_admin(state.admin.list_tenants)
    if not tenants:
        click.echo("no tenants")
    for record in tenants:
        status = "disabled" if record["disabled"] else "enabled"
        click.echo(f"{record['id']}  {status}  tokens={record['tokens']}  created={timestamp(record['created'])}")


@tenant.command("tokens")
@click.argument("tenant_id")
@with_state
def tenant_tokens(state: ScimState, tenant_id: str) -> None:
    """List a tenant's tokens (never their secrets)."""
    for record in run_admin(lambda: state.admin.list_tokens(tenant_id)):
        click.echo(f"{record['id']}  created={timestamp(record['created'])}  "
                   f"last_used={timestamp(record['lastUsed'])}  expires={timestamp(record['expires'])}  "
                   f"{record['description']}".rstrip())


@tenant.command("status")
@click.option("--json", "as_json", is_flag=True, help="The admin API's health JSON.")
@click.argument("tenant_id")
@with_state
def tenant_status(state: ScimState, as_json: bool, tenant_id: str) -> None:
    """Health of TENANT_ID: last request, requests and failures over the last hour and day,
    the top failure reasons, and a warning when Entra ID may quarantine it."""
    health = run_admin(lambda: state.admin.health(tenant_id))
    if as_json:
        click.echo(json.dumps(health_to_dict(tenant_id, health)))
        return
    for line in status_lines(tenant_id, health):
        click.echo(line)


def _window(window: Window | None) -> str:
    if window is None:
        return "unknown (no provisioning log)"
    share = f" ({window.failed_write_share:.0%})" if window.writes else ""
    return (f"requests {window.requests}, failures {window.failures}; writes {window.writes}, "
            f"failed {window.failed_writes}{share}  (since {timestamp(window.since)})")


def status_lines(tenant_id: str, health: Health) -> list[str]:
    reasons = ", ".join(f"{reason} x{count}" for reason, count in health.reasons) or "none"
    lines = [f"Tenant:        {tenant_id}", f"State:         {health.state}",
             f"Last seen:     {timestamp(health.last_seen)}",
             f"Last hour:     {_window(health.last_hour)}", f"Last day:      {_window(health.last_day)}",
             f"Top failures:  {reasons}"]
    if health.warning:
        lines.append(f"Warning:       {health.warning}")
    return lines


@tenant.command("disable")
@click.argument("tenant_id")
@with_state
def tenant_disable(state: ScimState, tenant_id: str) -> None:
    """Refuse every SCIM request of TENANT_ID (403) until it is enabled again."""
    run_admin(lambda: state.admin.set_disabled(tenant_id, True))
    click.echo(f"disabled {tenant_id}")


@tenant.command("delete")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.argument("tenant_id")
@with_state
def tenant_delete(state: ScimState, yes: bool, tenant_id: str) -> None:
    """Delete TENANT_ID with ALL its users, groups, tokens and log entries."""
    if not yes:
        click.confirm(f"Delete tenant {tenant_id} and all its data?", abort=True)
    if not run_admin(lambda: state.admin.delete_tenant(tenant_id)):
        raise click.ClickException(f"no tenant {tenant_id!r}")
    click.echo(f"deleted {tenant_id}")
