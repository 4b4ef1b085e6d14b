"""The `scimflask` command line: `serve`, `token`, `tenant`, `log`, `migrate`, `export`, `import`."""

from __future__ import annotations

import click

from . import data, log, serve, tenants, tokens


@click.group()
def main() -> None:
    """scimflask: a SCIM 2.0 service provider."""


main.add_command(serve.serve)
main.add_command(tokens.token)
main.add_command(tenants.tenant)
main.add_command(log.provisioning_log)
main.add_command(data.migrate_command)
main.add_command(data.export_command)
main.add_command(data.import_command)
