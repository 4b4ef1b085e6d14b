"""`scimflask migrate | export | import | reindex` (and under `flask scim`): moving a deployment
between backends, with progress counted in records (tenant records, tokens and resources), and
bringing a backend's derived indexes up to date after an upgrade."""

from __future__ import annotations

import click

from ..state import ScimState
from ..storage.base import Storage
from ..storage.capabilities import IndexMaintenance, TenantSupport
from .context import current_source, with_state
from .progress import Progress


def _tenants(storage: Storage, extra: tuple[str, ...]) -> list[str]:
    from ..ops.migrate import tenants_of

    return tenants_of(storage, current_source().default_tenant(), extra)


def record_total(storage: Storage, tenants: list[str]) -> int:
    """How many records an export of `tenants` holds: tenant records, tokens and resources."""
    from ..ops.migrate import count_resources

    records = sum(count_resources(storage, tenants).values())
    records += sum(len(storage.list_tokens(tenant)) for tenant in tenants)
    if isinstance(storage, TenantSupport):
        records += sum(1 for tenant in tenants if storage.get_tenant(tenant) is not None)
    return records


def _line_total(path: str) -> int:
    with open(path, encoding="utf-8") as lines:
        return sum(1 for line in lines if line.strip())


extra_tenant_option = click.option(
    "--tenant", "extra_tenants", multiple=True,
    help="A tenant to include that has no tenant record and no token (repeatable).")


@click.command("migrate")
@click.option("--from", "source_uri", default=None, help="Storage URL to copy from (default: the configured storage).")
@click.option("--to", "target_uri", default=None, help="Storage URL to copy into (default: the configured storage).")
@click.option("--verify", "verify_all", is_flag=True, help="Afterwards compare every resource, not only counts.")
@extra_tenant_option
def migrate_command(source_uri: str | None, target_uri: str | None, verify_all: bool,
                    extra_tenants: tuple[str, ...]) -> None:
    """Copy every tenant, token, user, group and membership; run again to resume.

    Give --from, --to or both; the one left out is the configured storage (SCIM_STORAGE_URI,
    or the host app's under `flask scim`)."""
    from ..ops.migrate import migrate, verify

    if not source_uri and not target_uri:
        raise click.UsageError("give --from, --to or both (the other is the configured storage)")
    if source_uri == target_uri:
        raise click.UsageError("--from and --to name the same storage")
    source, target = _storage(source_uri, "--from"), _storage(target_uri, "--to")
    tenants = _tenants(source, extra_tenants)
    with Progress("copying", record_total(source, tenants)) as progress:
        result = migrate(source, target, tenants, progress)
    click.echo(f"copied {result.written}, already present {result.skipped}", err=True)
    _report(verify(source, target, tenants, every_resource=verify_all))


def _storage(uri: str | None, option: str) -> Storage:
    source = current_source()
    return source.open(uri, option) if uri else source.state(None).storage


def _report(problems: list[str]) -> None:
    if problems:
        for problem in problems[:50]:
            click.echo(problem, err=True)
        raise click.ClickException(f"verification failed: {len(problems)} difference(s)")
    click.echo("verified: source and target agree")


@click.command("export")
@extra_tenant_option
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@with_state
def export_command(state: ScimState, extra_tenants: tuple[str, ...], path: str) -> None:
    """Write every tenant, token and resource to PATH as JSON Lines."""
    from ..ops.migrate import export_file

    tenants = _tenants(state.storage, extra_tenants)
    with Progress("exporting", record_total(state.storage, tenants)) as progress:
        written = export_file(state.storage, tenants, path, progress)
    click.echo(f"exported {written} records to {path}")


@click.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_state
def import_command(state: ScimState, path: str) -> None:
    """Load a JSON Lines export into the storage; run again to resume."""
    from ..ops.migrate import copy_records, read_file

    try:
        with Progress("importing", _line_total(path)) as progress:
            result = copy_records(read_file(path), state.storage, progress)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"imported {result.written}, already present {result.skipped}")


@click.command("reindex")
@extra_tenant_option
@with_state
def reindex_command(state: ScimState, extra_tenants: tuple[str, ...]) -> None:
    """Rebuild the storage's search indexes for data an earlier version wrote.

    Safe while the server runs. Only stores without a schema step need it (Redis); SQL
    databases migrate as they open, and memory:// builds its indexes as it starts."""
    from ..ops.migrate import count_resources

    storage = state.storage
    if not isinstance(storage, IndexMaintenance):
        click.echo("nothing to rebuild: this storage brings its indexes up to date as it opens")
        return
    tenants = _tenants(storage, extra_tenants)
    rewritten = 0
    with Progress("reindexing", sum(count_resources(storage, tenants).values())) as progress:
        for tenant in tenants:
            rewritten += storage.rebuild_indexes(tenant)
            progress(rewritten)
    click.echo(f"rebuilt the indexes of {rewritten} resources in {len(tenants)} tenants")
