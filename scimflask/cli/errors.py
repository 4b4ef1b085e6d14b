"""The command line's error boundary: every failure becomes one or two lines naming the cause and
the fix, with exit status 2 for configuration errors and 1 for runtime errors.

`ExplainingGroup` catches what its commands raise and hands it to `explain`; `--debug` (or
SCIMFLASK_DEBUG=1) lets the exception through instead, traceback and all.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from urllib.parse import urlsplit

import click

from ..config import ConfigValueError
from ..errors import ConfigurationError, ScimError
from .storage_access import StorageFailure, redact

CONFIGURATION_ERROR = 2
RUNTIME_ERROR = 1

# Optional dependencies by top-level module: what it is, and the extra that installs it.
EXTRAS = {
    "psycopg": ("the PostgreSQL driver psycopg", "postgresql"),
    "pymysql": ("the MariaDB/MySQL driver PyMySQL", "mysql"),
    "redis": ("the Redis client redis-py", "redis"),
    "gunicorn": ("gunicorn (needed by --workers)", "server"),
    "prometheus_client": ("prometheus_client (needed by SCIM_METRICS_ENABLED)", "metrics"),
}
BACKENDS = {"postgresql": ("PostgreSQL", 5432), "mysql": ("MariaDB/MySQL", 3306),
            "mariadb": ("MariaDB/MySQL", 3306), "redis": ("Redis", 6379), "rediss": ("Redis", 6379)}
DRIVER_MODULES = ("psycopg", "pymysql", "redis", "sqlite3")
_AUTH = re.compile(r"password authentication failed|role \"[^\"]*\" does not exist|access denied|"
                   r"pg_hba\.conf|wrongpass|noauth|invalid password|invalid username-password|"
                   r"authentication (failed|required)", re.IGNORECASE)
_NO_DATABASE = re.compile(r"database \"([^\"]+)\" does not exist|unknown database '([^']+)'", re.IGNORECASE)
_UNREACHABLE = re.compile(r"connection refused|timed out|timeout|could not translate host name|"
                          r"name or service not known|name resolution|can't connect|no route to host|"
                          r"network is unreachable|connecting to|connection reset", re.IGNORECASE)


class CommandFailure(click.ClickException):
    """What the operator reads: `Error: <cause>` and, on a second line, the fix."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def debug_requested(ctx: click.Context) -> bool:
    return bool(ctx.meta.get("scimflask.debug")) or os.environ.get("SCIMFLASK_DEBUG", "").lower() in (
        "1", "true", "yes", "on")


def _remember_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    ctx.meta["scimflask.debug"] = value


debug_option = click.option(
    "--debug", is_flag=True, envvar="SCIMFLASK_DEBUG", show_envvar=True, expose_value=False,
    is_eager=True, callback=_remember_debug, help="Show the traceback of an error instead of one line.")


class ExplainingGroup(click.Group):
    """A group whose commands fail with `explain`'s lines instead of a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Abort, click.exceptions.Exit, EOFError):
            raise
        except Exception as exc:
            if debug_requested(ctx):
                raise
            raise explain(exc) from exc


def explain(exc: BaseException) -> CommandFailure:
    """The cause of `exc` and its fix, as a command-line error."""
    missing = _missing_extra(exc)
    if missing is not None:
        return missing
    if isinstance(exc, ConfigValueError):
        return CommandFailure(_bad_value(exc), CONFIGURATION_ERROR)
    if isinstance(exc, ConfigurationError):
        return CommandFailure(str(exc), CONFIGURATION_ERROR)
    if isinstance(exc, StorageFailure):
        return _storage_failure(exc)
    if isinstance(exc, ScimError):  # the storage or a plugin refused, in the words of the protocol
        return CommandFailure(exc.detail, RUNTIME_ERROR)
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return CommandFailure(f"{exc.strerror}{where}", RUNTIME_ERROR)
    first_line = (str(exc).splitlines() or [""])[0]
    return CommandFailure(f"{type(exc).__name__}: {first_line}\n"
                          "  (run with --debug or SCIMFLASK_DEBUG=1 to see the traceback)", RUNTIME_ERROR)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """`exc`, then what caused it (SQLAlchemy's `orig`, `__cause__`, `__context__`)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__ or current.__context__


def _missing_extra(exc: BaseException) -> CommandFailure | None:
    for link in _chain(exc):
        name = (getattr(link, "name", None) or "").split(".")[0] if isinstance(link, ImportError) else ""
        if name in EXTRAS:
            what, extra = EXTRAS[name]
            return CommandFailure(f"{what} is not installed\n  pip install 'scimflask[{extra}]'",
                                  CONFIGURATION_ERROR)
    return None


def _bad_value(exc: ConfigValueError) -> str:
    raw = os.environ.get(exc.key)
    if raw is not None and raw.strip() == str(exc.value).strip():
        return f"{exc.key}={raw} in the environment: it must be {exc.allowed}"
    return str(exc)


def _driver_error(exc: BaseException) -> BaseException:
    """The database driver's own exception behind `exc`, else the innermost one."""
    links = list(_chain(exc))
    for link in links:
        if type(link).__module__.split(".")[0] in DRIVER_MODULES:
            return link
    return links[-1]


def _reason(error: BaseException) -> str:
    """The driver's words for what went wrong, without its framing."""
    args = getattr(error, "args", ())
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):
        text = args[1]  # PyMySQL: (code, message)
    else:
        text = (str(error).splitlines() or [""])[0]
    text = text.rsplit(" failed: ", 1)[-1]  # psycopg: 'connection to server at ... failed: <why>'
    return re.sub(r"^FATAL:\s+", "", text).strip() or type(error).__name__


def _storage_failure(failure: StorageFailure) -> CommandFailure:
    parts = urlsplit(failure.uri)
    scheme = parts.scheme.split("+")[0].lower()
    reason = _reason(_driver_error(failure.cause))
    if scheme == "sqlite":
        return _sqlite_failure(failure, reason)
    name, default_port = BACKENDS.get(scheme, (scheme or "storage", None))
    where = f"{parts.hostname or 'localhost'}:{parts.port or default_port}"
    if _AUTH.search(reason):
        return CommandFailure(f"{name} at {where} refused the credentials: {reason}\n"
                              f"  Fix the user name or password in {failure.origin}.", CONFIGURATION_ERROR)
    database = _NO_DATABASE.search(reason)
    if database:
        wanted = database.group(1) or database.group(2)
        return CommandFailure(f"{name} at {where} has no database {wanted!r}\n"
                              f"  Create it, or fix the database name in {failure.origin}.", CONFIGURATION_ERROR)
    if _UNREACHABLE.search(reason) or any(isinstance(link, (ConnectionError, TimeoutError))
                                          for link in _chain(failure.cause)):
        return CommandFailure(f"cannot reach {name} at {where}: {reason}\n"
                              f"  Is it running there? Check the host and port in {failure.origin}.", RUNTIME_ERROR)
    return CommandFailure(f"storage {redact(failure.uri)} failed: {reason}", RUNTIME_ERROR)


def _sqlite_failure(failure: StorageFailure, reason: str) -> CommandFailure:
    path = failure.uri.split("://", 1)[1].split("?", 1)[0]
    path = os.path.abspath(path[1:] if path.startswith("/") else path)
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        return CommandFailure(f"the directory of the SQLite file {path} does not exist\n"
                              f"  Create it (mkdir -p {directory}) or choose another path in {failure.origin}.",
                              CONFIGURATION_ERROR)
    if not _can_create_in(directory) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        return CommandFailure(f"the SQLite file {path} cannot be written by this user ({reason})\n"
                              f"  Fix the permissions of {directory} or choose another path in {failure.origin}.",
                              CONFIGURATION_ERROR)
    return CommandFailure(f"SQLite file {path}: {reason}", RUNTIME_ERROR)


def _can_create_in(directory: str) -> bool:
    """Whether a file can be created in `directory` (tried: permission bits do not tell for root
    or on a read-only mount)."""
    try:
        with tempfile.TemporaryFile(dir=directory):
            return True
    except OSError:
        return False
