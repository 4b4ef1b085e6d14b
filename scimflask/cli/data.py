"""`scimflask migrate | export | import`: moving a deployment between backends."""

from __future__ import annotations

import click

from ..config import ConfigKeys, from_environ
from ..errors import ConfigurationError
from .common import DEFAULT_STORAGE_URI, storage_option


def _progress(label: str):
    """A progress line on stderr, redrawn in place every 100 records."""
    def show(done: int, total: int) -> None:
        if done % 100 == 0 or done == total:
            click.echo(f"\r{label}: {done} records ({total} resources in source)", nl=False, err=True)
    return show


def _open(uri: str):
    from ..ops.migrate import open_storage

    try:
        return open_storage(uri)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None


def _tenants(storage, extra: tuple[str, ...]) -> list[str]:
    from ..ops.migrate import tenants_of

    return tenants_of(storage, from_environ().get(ConfigKeys.DEFAULT_TENANT, "default"), extra)


extra_tenant_option = click.option(
    "--tenant", "extra_tenants", multiple=True,
    help="A tenant to include that has no tenant record and no token (repeatable).")


@click.command("migrate")
@click.option("--from", "source_uri", required=True, help="Storage URL to copy from.")
@click.option("--to", "target_uri", required=True, help="Storage URL to copy into.")
@click.option("--verify", "verify_all", is_flag=True, help="Afterwards compare every resource, not only counts.")
@extra_tenant_option
def migrate_command(source_uri: str, target_uri: str, verify_all: bool, extra_tenants: tuple[str, ...]) -> None:
    """Copy every tenant, token, user, group and membership; run again to resume."""
    from ..ops.migrate import migrate, verify

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


@click.command("export")
@storage_option
@extra_tenant_option
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
def export_command(storage: str | None, extra_tenants: tuple[str, ...], path: str) -> None:
    """Write every tenant, token and resource to PATH as JSON Lines."""
    from ..ops.migrate import export_file

    source = _open(storage or DEFAULT_STORAGE_URI)
    written = export_file(source, _tenants(source, extra_tenants), path, _progress("exporting"))
    click.echo(f"\nexported {written} records to {path}")


@click.command("import")
@storage_option
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def import_command(storage: str | None, path: str) -> None:
    """Load a JSON Lines export into the storage; run again to resume."""
    from ..ops.migrate import copy_records, read_file

    target = _open(storage or DEFAULT_STORAGE_URI)
    try:
        result = copy_records(read_file(path), target, _progress("importing"))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"\nimported {result.written}, already present {result.skipped}")
