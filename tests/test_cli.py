"""`scimflask serve`, `token …` and `tenant …` as a new user meets them: the default storage
announced, one timestamp format, `--help` naming environment variables, `--version`."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

SCIMFLASK = [sys.executable, "-m", "scimflask"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(args: list[str], cwd: Path) -> str:
    result = subprocess.run(SCIMFLASK + args, cwd=cwd, capture_output=True, text=True, timeout=60,
                            env={k: v for k, v in os.environ.items() if not k.startswith("SCIM_")})
    assert result.returncode == 0, result.stderr
    return result.stdout


def get(url: str, token: str | None) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def server(tmp_path):
    """`scimflask serve` on the embedded default (a SQLite file in the working directory)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCIM_")}
    process = subprocess.Popen(SCIMFLASK + ["serve", "--port", str(port)], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    lines = []
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if line.startswith("Secret Token:") or process.poll() is not None:
                break
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield port, "".join(lines), tmp_path
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


def test_serve_prints_tenant_url_and_token_and_answers(server):
    port, output, workdir = server
    tenant_url = re.search(r"Tenant URL:\s+(\S+)", output).group(1)
    token = re.search(r"Secret Token:\s+(\S+)", output).group(1)
    assert tenant_url == f"http://127.0.0.1:{port}/scim/v2"
    assert (workdir / "scim.db").exists(), "the embedded default is a SQLite file in the working directory"
    assert str(workdir / "scim.db") in output, "the default is announced with its absolute path"
    status, body = get(f'{tenant_url}/Users?filter=userName%20eq%20%22nobody%22', token)
    assert status == 200 and body["totalResults"] == 0
    status, body = get(f'{tenant_url}/Users?filter=userName%20eq%20%22nobody%22', None)
    assert status == 401 and body["status"] == "401"


def test_token_commands(tmp_path):
    storage = f"sqlite:///{tmp_path / 'tokens.db'}"
    created = run(["token", "create", "--storage", storage, "--description", "entra"], tmp_path)
    token_id = re.search(r"Token id:\s+(\S+)", created).group(1)
    secret = re.search(r"Secret Token:\s+(\S+)", created).group(1)
    listed = run(["token", "list", "--storage", storage], tmp_path)
    assert token_id in listed and "entra" in listed and secret not in listed
    assert f"revoked {token_id}" in run(["token", "revoke", "--storage", storage, token_id], tmp_path)
    assert "no tokens" in run(["token", "list", "--storage", storage], tmp_path)


def test_reindex_has_nothing_to_do_where_the_store_migrates_as_it_opens(tmp_path):
    assert "nothing to rebuild" in run(["reindex"], tmp_path)


ISO_SECONDS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def test_commands_announce_the_default_storage(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCIM_", "SCIMFLASK_"))}
    result = subprocess.run(SCIMFLASK + ["token", "list"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"using the SQLite file {tmp_path / 'scim.db'}" in result.stderr
    assert (tmp_path / "scim.db").exists()


def test_version_comes_from_the_distribution():
    from importlib.metadata import version

    from click.testing import CliRunner

    from scimflask.cli.main import main

    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"scimflask, version {version('scimflask')}"


def test_every_option_read_from_the_environment_shows_it_in_help():
    import click
    from click.testing import CliRunner

    from scimflask.cli.main import main

    def walk(command, path):
        yield command, path
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, path + [name])

    checked = 0
    for command, path in walk(main, []):
        options = [p for p in command.params if isinstance(p, click.Option) and p.envvar]
        for option in options:
            assert option.show_envvar, f"{' '.join(path)} {option.opts[0]}"
        if options:
            shown = CliRunner().invoke(main, path + ["--help"]).output
            for option in options:
                assert f"env var: {option.envvar}" in " ".join(shown.split()), (path, option.envvar)
                checked += 1
    assert checked >= 8  # serve's, --storage on each data command, --debug, --public-url


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """Run `scimflask …` in-process on a SQLite file of the test's own."""
    from click.testing import CliRunner

    from scimflask.cli.main import main

    for name in [n for n in os.environ if n.startswith(("SCIM_", "SCIMFLASK_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SCIM_STORAGE_URI", f"sqlite:///{tmp_path / 'cli.db'}")

    def invoke(*args: str):
        result = CliRunner().invoke(main, list(args))
        return result

    return invoke


def test_timestamps_are_iso_utc_to_the_second(cli):
    created = cli("tenant", "enable", "contoso")
    assert created.exit_code == 0, created.output
    token_id = re.search(r"Token id:\s+(\S+)", created.output).group(1)
    rotated = cli("token", "rotate", "--tenant", "contoso")
    assert re.search(rf"Older tokens of contoso expire at {ISO_SECONDS}$", rotated.output, re.M), rotated.output
    listed = cli("token", "list")
    assert re.search(rf"{token_id}  tenant=contoso  created={ISO_SECONDS}  last_used=never  "
                     rf"expires={ISO_SECONDS}", listed.output), listed.output
    assert re.search(rf"^contoso  enabled  tokens=2  created={ISO_SECONDS}$", cli("tenant", "list").output, re.M)
    tokens = cli("tenant", "tokens", "contoso").output.splitlines()
    assert len(tokens) == 2 and all(re.search(rf"created={ISO_SECONDS} ", line) for line in tokens)
    assert not re.search(r"\d\.\d{3}Z|\+00:00", listed.output + cli("tenant", "list").output)


def test_enabling_an_enabled_tenant_issues_no_token_silently(cli):
    assert cli("tenant", "enable", "contoso").exit_code == 0
    again = cli("tenant", "enable", "contoso")
    assert again.exit_code == 1 and "Secret Token" not in again.output
    assert "tenant contoso is enabled already, with 1 token(s)" in again.output
    assert "--new-token" in again.output and "token rotate --tenant contoso" in again.output
    assert len(cli("tenant", "tokens", "contoso").output.splitlines()) == 1
    assert "Secret Token" in cli("tenant", "enable", "contoso", "--new-token").output
    assert len(cli("tenant", "tokens", "contoso").output.splitlines()) == 2


def test_enabling_a_disabled_tenant_revives_its_tokens(cli):
    assert cli("tenant", "enable", "contoso").exit_code == 0
    assert cli("tenant", "disable", "contoso").exit_code == 0
    revived = cli("tenant", "enable", "contoso")
    assert revived.exit_code == 0, revived.output
    assert "enabled contoso; its 1 earlier token(s) are valid again" in revived.output
    assert "Secret Token" not in revived.output
    assert "contoso  enabled  tokens=1" in cli("tenant", "list").output


# -- scimflask log and tenant status ---------------------------------------------------------

@pytest.fixture
def provisioned(cli, tmp_path):
    """`cli` plus an identity provider's requests on the same SQLite file: (cli, scim client)."""
    from scimflask import create_app
    from tests.conftest import ScimClient

    enabled = cli("tenant", "enable", "acme")
    assert enabled.exit_code == 0, enabled.output
    app = create_app({"SCIM_STORAGE_URI": f"sqlite:///{tmp_path / 'cli.db'}", "SCIM_LOG_BACKGROUND": False})
    scim = ScimClient(app, token=re.search(r"Secret Token: (\S+)", enabled.output).group(1))
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada@example.com"}
    assert scim.post("/Users", json=body, headers={"User-Agent": "Okta SCIM Client 1.0.0"}).status_code == 201
    assert scim.post("/Users", json=body, headers={"User-Agent": "Azure AD Provisioning"}).status_code == 409
    return cli, scim


def test_log_filters_and_formats(provisioned):
    cli, _ = provisioned
    table = cli("log", "--tenant", "acme")
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert len(lines) == 2 and re.match(rf"{ISO_SECONDS}  POST   /Users  409 failure  User ada@example.com  "
                                        r"uniqueness: userName is already in use by another User  \[Entra ID\]$",
                                        lines[0]), lines[0]
    assert lines[1].endswith("[Okta]") and "201 success  User ada@example.com  userName" in lines[1]
    failed = cli("log", "--tenant", "acme", "--failed", "--since", "1h", "--status", "4xx", "--method", "post",
                 "--type", "User", "--search", "ADA@")
    assert failed.output == table.output.splitlines(keepends=True)[0]
    assert cli("log", "--tenant", "acme", "--until", "2020-01-01").output == ""
    assert cli("log", "--tenant", "acme", "--search", "nobody").output == ""
    objects = [json.loads(line) for line in cli("log", "--tenant", "acme", "--format", "json").output.splitlines()]
    assert [(o["status"], o["client"], o["userName"]) for o in objects] == [
        (409, "entra", "ada@example.com"), (201, "okta", "ada@example.com")]
    assert cli("log", "--tenant", "acme", "--json", "--limit", "1").output.count("\n") == 1
    resource = objects[1]["resourceId"]
    assert cli("log", "--tenant", "acme", "--resource", resource, "--format", "json").output.count("\n") == 1
    exported = cli("log", "--tenant", "acme", "--format", "csv").output.splitlines()
    assert exported[0].startswith("time,id,tenant,method,path,status,outcome,scimType,detail") and len(exported) == 3


@pytest.mark.parametrize("option", [["--since", "soon"], ["--status", "4x"], ["--until", "2024-13-01"]])
def test_a_bad_log_filter_is_a_usage_error(provisioned, option):
    cli, _ = provisioned
    result = cli("log", "--tenant", "acme", *option)
    assert result.exit_code == 2 and option[0].lstrip("-") in result.output


def test_log_follow_prints_new_entries_until_interrupted(provisioned, monkeypatch):
    from scimflask.cli import log as log_command

    cli, scim = provisioned
    polls: list[float] = []

    def pause(seconds: float) -> None:
        polls.append(seconds)
        if len(polls) == 1:  # a new request arrives during the first wait
            body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "late@example.com"}
            assert scim.post("/Users", json=body).status_code == 201
        elif len(polls) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(log_command, "pause", pause)
    followed = cli("log", "--tenant", "acme", "--follow")
    assert followed.exit_code == 0, followed.output
    assert polls == [log_command.POLL_SECONDS] * 3
    lines = followed.output.splitlines()
    assert [re.search(r"  (\d{3} \w+)  ", line).group(1) for line in lines] == [
        "201 success", "409 failure", "201 success"]
    assert "late@example.com" in lines[-1]  # oldest first, the new entry last, printed once


def test_tenant_status_shows_health(provisioned):
    cli, _ = provisioned
    status = cli("tenant", "status", "acme")
    assert status.exit_code == 0, status.output
    lines = dict(line.split(":", 1) for line in status.output.splitlines())
    assert lines["State"].strip() == "failing"
    assert re.fullmatch(rf"\s+{ISO_SECONDS}", lines["Last seen"])
    assert lines["Last hour"].strip().startswith("requests 2, failures 1; writes 2, failed 1 (50%)")
    assert lines["Top failures"].strip() == "409 uniqueness x1"
    health = json.loads(cli("tenant", "status", "acme", "--json").output)
    assert health["lastDay"]["failedWrites"] == 1 and health["quarantineRisk"] is False
    assert cli("tenant", "status", "bad id").exit_code == 1
