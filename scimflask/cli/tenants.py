"""`scimflask tenant …`: the admin API's tenant operations on the command line."""

from __future__ import annotations

import click

from .common import (
    admin_service,
    build_app,
    config_from,
    public_url_of,
    public_url_option,
    run_admin,
    state_of,
    storage_option,
)


@click.group()
def tenant() -> None:
    """Enable, list, disable and delete tenants (the admin API's operations)."""


@tenant.command("enable")
@storage_option
@public_url_option
@click.option("--no-token", is_flag=True, help="Only re-enable a disabled tenant; issue no new token.")
@click.argument("tenant_id")
def tenant_enable(storage: str | None, public_url: str | None, no_token: bool, tenant_id: str) -> None:
    """Enable SCIM for TENANT_ID and print its Tenant URL and a new Secret Token."""
    state = state_of(build_app(config_from(storage)))
    if no_token:
        run_admin(lambda: state.admin.set_disabled(tenant_id, False))
        click.echo(f"enabled {tenant_id}")
        return
    issued = run_admin(lambda: state.admin.enable_scim(tenant_id, public_url_of(state, public_url)))
    click.echo(f"Tenant:       {tenant_id}")
    click.echo(f"Tenant URL:   {issued.base_url}")
    click.echo(f"Token id:     {issued.token.id}")
    click.echo(f"Secret Token: {issued.secret}")
    click.echo("              (shown only now; paste both into the identity provider)")


@tenant.command("list")
@storage_option
def tenant_list(storage: str | None) -> None:
    """List tenants with their state and number of tokens."""
    tenants = run_admin(admin_service(storage).list_tenants)
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
    for record in run_admin(lambda: admin_service(storage).list_tokens(tenant_id)):
        click.echo(f"{record['id']}  created={record['created']}  last_used={record['lastUsed'] or 'never'}  "
                   f"expires={record['expires'] or 'never'}  {record['description']}")


@tenant.command("disable")
@storage_option
@click.argument("tenant_id")
def tenant_disable(storage: str | None, tenant_id: str) -> None:
    """Refuse every SCIM request of TENANT_ID (403) until it is enabled again."""
    run_admin(lambda: admin_service(storage).set_disabled(tenant_id, True))
    click.echo(f"disabled {tenant_id}")


@tenant.command("delete")
@storage_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.argument("tenant_id")
def tenant_delete(storage: str | None, yes: bool, tenant_id: str) -> None:
    """Delete TENANT_ID with ALL its users, groups, tokens and log entries."""
    if not yes:
        click.confirm(f"Delete tenant {tenant_id} and all its data?", abort=True)
    if not run_admin(lambda: admin_service(storage).delete_tenant(tenant_id)):
        raise click.ClickException(f"no tenant {tenant_id!r}")
    click.echo(f"deleted {tenant_id}")
