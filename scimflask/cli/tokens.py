"""`scimflask token …`: bearer tokens."""

from __future__ import annotations

import click

from ..auth import new_token
from ..config import ConfigKeys
from .common import (
    build_app,
    config_from,
    public_url_of,
    public_url_option,
    run_admin,
    state_of,
    storage_option,
    tenant_option,
)


@click.group()
def token() -> None:
    """Create, list and revoke bearer tokens."""


@token.command("create")
@storage_option
@tenant_option
@click.option("--description", default="", help="A note to recognise the token by.")
def token_create(storage: str | None, tenant: str | None, description: str) -> None:
    """Create a token and print its secret (shown only this once)."""
    state = state_of(build_app(config_from(storage)))
    record, secret = new_token(state.storage, tenant or state.config[ConfigKeys.DEFAULT_TENANT], description)
    click.echo(f"Token id:     {record.id}")
    click.echo(f"Tenant:       {record.tenant}")
    click.echo(f"Secret Token: {secret}")


@token.command("list")
@storage_option
@tenant_option
def token_list(storage: str | None, tenant: str | None) -> None:
    """List tokens (ids and creation times, never secrets)."""
    state = state_of(build_app(config_from(storage)))
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
    state = state_of(build_app(config_from(storage)))
    if not state.storage.delete_token(token_id):
        raise click.ClickException(f"no token with id {token_id!r}")
    click.echo(f"revoked {token_id}")


@token.command("rotate")
@storage_option
@tenant_option
@public_url_option
def token_rotate(storage: str | None, tenant: str | None, public_url: str | None) -> None:
    """Issue a new token; the tenant's older tokens expire after SCIM_TOKEN_ROTATION_GRACE seconds."""
    state = state_of(build_app(config_from(storage)))
    tenant = tenant or state.config[ConfigKeys.DEFAULT_TENANT]
    issued, deadline = run_admin(lambda: state.admin.rotate(tenant, public_url_of(state, public_url)))
    click.echo(f"Token id:     {issued.token.id}")
    click.echo(f"Secret Token: {issued.secret}")
    click.echo(f"Older tokens of {tenant} expire at {deadline.isoformat()}")
