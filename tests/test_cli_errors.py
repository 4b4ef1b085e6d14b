"""Misconfigurations as an operator meets them: the `scimflask` command run as a subprocess ends
in at most three lines on stderr naming the cause and the fix, never a traceback, with exit
status 2 for configuration errors and 1 for runtime errors. `serve` fails before serving."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest

from tests.conftest import MYSQL_URL, POSTGRES_URL, REDIS_URL, _needs

SCIMFLASK = [sys.executable, "-m", "scimflask"]
# Case ids use "_" inside words: "-" separates backend ids, which SCIMFLASK_TEST_BACKENDS selects by
# (only the cases that need a running server carry one).
CONFIGURATION, RUNTIME = 2, 1
TIMEOUT = 30  # seconds; a misconfigured `serve` exits at once instead of serving


def without_module(name: str) -> list[str]:
    """The command with `name` unimportable, as when its extra was not installed."""
    return [sys.executable, "-c",
            f"import sys; sys.modules[{name!r}] = None; from scimflask.cli.main import main; main(prog_name='scimflask')"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def replaced(url: str | None, *, user: str | None = None, password: str | None = None,
             database: str | None = None) -> str:
    """A service URL with another user, password or database."""
    parts = urlsplit(url or "postgresql://x@127.0.0.1/x")
    credentials = user or parts.username or ""
    if password is not None:
        credentials += f":{password}"
    netloc = f"{credentials}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    path = f"/{database}" if database is not None else parts.path
    return parts._replace(netloc=netloc, path=path).geturl()


@dataclass
class Case:
    args: list[str]
    status: int
    says: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    command: list[str] = field(default_factory=lambda: SCIMFLASK)


CASES = [
    pytest.param(Case(["serve", "--storage", "postgresql://postgres@127.0.0.1:{port}/test"], RUNTIME,
                      ("cannot reach PostgreSQL at 127.0.0.1:{port}", "Connection refused", "--storage")),
                 id="serve_postgresql_refused"),
    pytest.param(Case(["token", "list", "--storage", "mysql://root@127.0.0.1:{port}/test"], RUNTIME,
                      ("cannot reach MariaDB/MySQL at 127.0.0.1:{port}", "Connection refused")),
                 id="token_list_mariadb_refused"),
    pytest.param(Case(["serve"], RUNTIME, ("cannot reach Redis at 127.0.0.1:{port}", "SCIM_STORAGE_URI"),
                      env={"SCIM_STORAGE_URI": "redis://127.0.0.1:{port}/0"}),
                 id="serve_redis_refused"),
    pytest.param(Case(["migrate", "--from", "postgresql://postgres@127.0.0.1:{port}/test", "--to", "memory://"],
                      RUNTIME, ("cannot reach PostgreSQL", "--from")),
                 id="migrate_source_refused"),
    pytest.param(Case(["serve", "--storage", "postgresql://postgres@127.0.0.1/test"], CONFIGURATION,
                      ("psycopg is not installed", "pip install 'scimflask[postgresql]'"),
                      command=without_module("psycopg")),
                 id="serve_postgresql_extra_missing"),
    pytest.param(Case(["migrate", "--from", "memory://", "--to", "mysql://root@127.0.0.1/test"], CONFIGURATION,
                      ("PyMySQL is not installed", "pip install 'scimflask[mysql]'"),
                      command=without_module("pymysql")),
                 id="migrate_mysql_extra_missing"),
    pytest.param(Case(["export", "--storage", "redis://127.0.0.1/0", "out.jsonl"], CONFIGURATION,
                      ("pip install 'scimflask[redis]'",), command=without_module("redis")),
                 id="export_redis_extra_missing"),
    pytest.param(Case(["serve", "--storage", "sqlite:////nonexistent/dir/scim.db"], CONFIGURATION,
                      ("/nonexistent/dir", "does not exist", "mkdir -p")),
                 id="serve_sqlite_directory_missing"),
    pytest.param(Case(["token", "list", "--storage", "sqlite:////proc/scim.db"], CONFIGURATION,
                      ("/proc/scim.db", "cannot be written")),
                 id="token_list_sqlite_directory_not_writable"),
    pytest.param(Case(["serve", "--storage", "postgres://scim@db.example/scim"], CONFIGURATION,
                      ("did you mean 'postgresql://scim@db.example/scim'",)),
                 id="serve_postgres_scheme"),
    pytest.param(Case(["token", "list", "--storage", "nosuch://x"], CONFIGURATION,
                      ("unknown storage scheme 'nosuch'", "known: ")),
                 id="token_list_unknown_scheme"),
    pytest.param(Case(["token", "create", "--storage", "scim.db"], CONFIGURATION,
                      ("has no scheme", "did you mean 'sqlite:///scim.db'")),
                 id="token_create_no_scheme"),
    pytest.param(Case(["serve", "--storage", "memory://"], CONFIGURATION,
                      ("SCIM_DEFAULT_PAGE_SIZE=abc", "a positive integer"), env={"SCIM_DEFAULT_PAGE_SIZE": "abc"}),
                 id="serve_page_size_not_a_number"),
    pytest.param(Case(["token", "list", "--storage", "memory://"], CONFIGURATION,
                      ("SCIM_MAX_PAGE_SIZE=0", "a positive integer"), env={"SCIM_MAX_PAGE_SIZE": "0"}),
                 id="token_list_max_page_size_zero"),
    pytest.param(Case(["export", "--storage", "memory://", "out.jsonl"], CONFIGURATION,
                      ("SCIM_UNKNOWN_MEMBERS=maybe", "one of reject, ignore, accept"),
                      env={"SCIM_UNKNOWN_MEMBERS": "maybe"}),
                 id="export_unknown_members_choice"),
    pytest.param(Case(["serve", "--storage", "memory://"], CONFIGURATION,
                      ("SCIM_RATE_LIMIT=fast", "'600/60'"), env={"SCIM_RATE_LIMIT": "fast"}),
                 id="serve_rate_limit_syntax"),
    pytest.param(Case(["serve", "--storage", "memory://"], CONFIGURATION,
                      ("SCIM_URL_PREFIX=scim", "starts with '/'"), env={"SCIM_URL_PREFIX": "scim"}),
                 id="serve_url_prefix_without_slash"),
    pytest.param(Case(["token", "list", "--storage", "memory://"], CONFIGURATION,
                      ("SCIM_LOG_ENABLED=maybe", "one of 1, true"), env={"SCIM_LOG_ENABLED": "maybe"}),
                 id="token_list_boolean_word"),
    pytest.param(Case(["migrate"], CONFIGURATION, ("give --from, --to or both",)),
                 id="migrate_without_storages"),
    pytest.param(Case(["token", "list", "--storage", replaced(POSTGRES_URL, user="nobody")], CONFIGURATION,
                      ("PostgreSQL at", "refused the credentials", 'role "nobody" does not exist')),
                 id="postgres-unknown_user",
                 marks=[pytest.mark.postgres, _needs(POSTGRES_URL, "SCIMFLASK_TEST_POSTGRES_URL")]),
    pytest.param(Case(["serve", "--storage", replaced(POSTGRES_URL, database="nope")], CONFIGURATION,
                      ("has no database 'nope'", "Create it")),
                 id="postgres-serve_database_missing",
                 marks=[pytest.mark.postgres, _needs(POSTGRES_URL, "SCIMFLASK_TEST_POSTGRES_URL")]),
    pytest.param(Case(["token", "list", "--storage", replaced(MYSQL_URL, password="wrong")], CONFIGURATION,
                      ("MariaDB/MySQL at", "refused the credentials", "Access denied")),
                 id="mysql-wrong_password",
                 marks=[pytest.mark.mysql, _needs(MYSQL_URL, "SCIMFLASK_TEST_MYSQL_URL")]),
    pytest.param(Case(["export", "--storage", replaced(MYSQL_URL, database="nope"), "out.jsonl"], CONFIGURATION,
                      ("has no database 'nope'",)),
                 id="mysql-export_database_missing",
                 marks=[pytest.mark.mysql, _needs(MYSQL_URL, "SCIMFLASK_TEST_MYSQL_URL")]),
    pytest.param(Case(["token", "list", "--storage", replaced(REDIS_URL, user="nobody", password="wrong")],
                      CONFIGURATION, ("Redis at", "refused the credentials")),
                 id="redis-wrong_password",
                 marks=[pytest.mark.redis, _needs(REDIS_URL, "SCIMFLASK_TEST_REDIS_URL")]),
]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCIM_", "SCIMFLASK_"))}
    env.update(extra)
    return env


def run(command: list[str], cwd, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)


@pytest.mark.parametrize("case", CASES)
def test_misconfiguration_is_one_or_two_lines(case: Case, tmp_path):
    port = str(free_port())
    args = [arg.replace("{port}", port) for arg in case.args]
    env = clean_env(**{key: value.replace("{port}", port) for key, value in case.env.items()})
    result = run(case.command + args, tmp_path, env)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == case.status, result.stderr
    assert 1 <= len(lines) <= 3, result.stderr
    for words in case.says:
        assert words.replace("{port}", port) in result.stderr, result.stderr
    assert "Secret Token" not in result.stdout  # serve stopped before creating anything


def test_debug_shows_the_traceback(tmp_path):
    flag = run(SCIMFLASK + ["--debug", "token", "list", "--storage", "nosuch://x"], tmp_path, clean_env())
    variable = run(SCIMFLASK + ["token", "list", "--storage", "nosuch://x"], tmp_path,
                   clean_env(SCIMFLASK_DEBUG="1"))
    for result in (flag, variable):
        assert result.returncode == 1
        assert "Traceback" in result.stderr and "ConfigurationError: unknown storage scheme 'nosuch'" in result.stderr


def test_unknown_variables_are_warnings_with_a_guess(tmp_path):
    result = run(SCIMFLASK + ["token", "list", "--storage", "memory://"], tmp_path,
                 clean_env(SCIM_STORAGE_URL="postgresql://db/scim", SCIMFLASK_PROT="9000", SCIM_ZZZ="1"))
    assert result.returncode == 0, result.stderr
    assert ("Warning: unknown environment variable SCIM_STORAGE_URL is ignored; did you mean SCIM_STORAGE_URI?"
            in result.stderr)
    assert "SCIMFLASK_PROT is ignored; did you mean SCIMFLASK_PORT?" in result.stderr
    assert "SCIM_ZZZ is ignored\n" in result.stderr
    assert "no tokens" in result.stdout


def test_known_variables_raise_no_warning(tmp_path):
    result = run(SCIMFLASK + ["token", "list"], tmp_path,
                 clean_env(SCIM_STORAGE_URI="memory://", SCIMFLASK_PORT="9000", SCIMFLASK_DEBUG="0",
                           SCIM_SECRET_KEY_FALLBACKS="a,b", SCIMFLASK_TEST_POSTGRES_URL="x"))
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr


def test_passwords_in_storage_urls_are_not_printed():
    from click.testing import CliRunner

    from scimflask.cli.main import main

    result = CliRunner().invoke(main, ["token", "list", "--storage", "postgres://scim:s3cr3t@db.example/scim"])
    assert result.exit_code == 2
    assert "did you mean 'postgresql://scim:***@db.example/scim'" in result.output
    assert "s3cr3t" not in result.output
