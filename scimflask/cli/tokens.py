"""`scimflask token …` (and `flask scim token …`): bearer tokens."""

from __future__ import annotations

import click

from ..auth import new_token
from ..config import ConfigKeys
from ..state import ScimState
from .context import public_url_of, public_url_option, run_admin, tenant_option, with_state
from .output import timestamp


@click.group()
def token() -> None:
    """Create, list, rotate and revoke bearer tokens."""


@token.command("create")
@tenant_option
@click.option("--description", default="", help="A note to recognise the token by.")
@with_state
def token_create(state: ScimState, tenant: str | None, description: str) -> None:
    """Create a token and print its secret (shown only this once)."""
    record, secret = new_token(state.storage, tenant or state.config[ConfigKeys.DEFAULT_TENANT], description)
    click.echo(f"Token id:     {record.id}")
    click.echo(f"Tenant:       {record.tenant}")
    click.echo(f"Secret Token: {secret}")


@token.command("list")
@tenant_option
@with_state
def token_list(state: ScimState, tenant: str | None) -> None:
    """List tokens (ids and times, never secrets); all tenants' unless --tenant is given."""
    tokens = state.storage.list_tokens(tenant)
    if not tokens:
        click.echo("no tokens")
    for record in tokens:
        click.echo(f"{record.id}  tenant={record.tenant}  created={timestamp(record.created)}  "
                   f"last_used={timestamp(record.last_used)}  expires={timestamp(record.expires)}  "
                   f"{record.description}".rstrip())


@token.command("revoke")
@click.argument("token_id")
@with_state
def token_revoke(state: ScimState, token_id: str) -> None:
    """Revoke a token by id."""
    run_admin(lambda: state.admin.revoke(token_id))
    click.echo(f"revoked {token_id}")


@token.command("rotate")
@tenant_option
@public_url_option
@with_state
def token_rotate(state: ScimState, tenant: str | None, public_url: str | None) -> None:
    """Issue a new token; the tenant's older tokens expire after SCIM_TOKEN_ROTATION_GRACE seconds."""
    tenant = tenant or state.config[ConfigKeys.DEFAULT_TENANT]
    issued, deadline = run_admin(lambda: state.admin.rotate(tenant, public_url_of(state, public_url)))
    click.echo(f"Token id:     {issued.token.id}")
    click.echo(f"Secret Token: {issued.secret}")
    click.echo(f"Older tokens of {tenant} expire at {timestamp(deadline)}")
