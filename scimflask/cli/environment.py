"""Environment variables the command line does not know: a warning each, with a did-you-mean.

A misspelt variable (SCIM_STORAGE_URL for SCIM_STORAGE_URI) is otherwise silently ignored and
the server starts on a default; the warning names it and the variable probably meant.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping

import click

from ..config import DEFAULTS

PREFIXES = ("SCIM_", "SCIMFLASK_")
# Read by scimflask outside the command line's options.
READ_ELSEWHERE = {
    "SCIMFLASK_DISABLE_PLUGIN_AUTOLOAD",  # scimflask.plugins
    "SCIMFLASK_BIND", "SCIMFLASK_THREADS", "SCIMFLASK_ACCESS_LOG",  # examples/standalone/gunicorn.conf.py
}
# The project's own test suite, benchmarks and CI.
DEVELOPMENT_PREFIXES = ("SCIMFLASK_TEST_", "SCIMFLASK_BENCH_", "SCIMFLASK_FUZZ_", "SCIMFLASK_LOAD_",
                        "SCIMFLASK_REQUIRE_SERVICES")


def option_variables(command: click.Command) -> Iterator[str]:
    """Every environment variable an option of `command` or of its subcommands reads."""
    for param in command.params:
        envvar = getattr(param, "envvar", None)
        if isinstance(envvar, str):
            yield envvar
        elif envvar:
            yield from envvar
    for sub in getattr(command, "commands", {}).values():
        yield from option_variables(sub)


def unknown_variables(environ: Mapping[str, str], known: Iterable[str]) -> list[str]:
    """One warning line per SCIM_*/SCIMFLASK_* variable in `environ` that nothing reads."""
    known = set(known) | set(DEFAULTS) | READ_ELSEWHERE
    lines = []
    for name in sorted(environ):
        if not name.startswith(PREFIXES) or name in known or name.startswith(DEVELOPMENT_PREFIXES):
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]}?" if close else ""
        lines.append(f"Warning: unknown environment variable {name} is ignored{hint}")
    return lines
