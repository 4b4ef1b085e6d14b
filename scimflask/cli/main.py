"""The `scimflask` command group: its options, the environment check, and every command."""

from __future__ import annotations

import os

import click

from . import serve
from .commands import SHARED_COMMANDS
from .common import EnvironmentSource
from .environment import option_variables, unknown_variables
from .errors import ExplainingGroup, debug_option


@click.group(cls=ExplainingGroup)
@click.version_option(package_name="scimflask", prog_name="scimflask")
@debug_option
@click.pass_context
def main(ctx: click.Context) -> None:
    """scimflask: a SCIM 2.0 service provider."""
    ctx.obj = EnvironmentSource(ctx.command_path)
    for line in unknown_variables(os.environ, option_variables(ctx.command)):
        click.echo(line, err=True)


def _show_envvars(command: click.Command) -> None:
    """Make `--help` name the environment variable of every option that reads one."""
    for param in command.params:
        if isinstance(param, click.Option) and param.envvar:
            param.show_envvar = True
    for sub in getattr(command, "commands", {}).values():
        _show_envvars(sub)


main.add_command(serve.serve)
for _command in SHARED_COMMANDS:
    main.add_command(_command)
_show_envvars(main)
