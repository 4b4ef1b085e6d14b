"""`flask scim …` inside a host app: the standalone commands, on the host's own configuration and
state (its SQLAlchemy engine included), never on the environment."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine

from scimflask import Scim
from tests.conftest import ScimClient

ROOT = Path(__file__).resolve().parent.parent
EMBED = ROOT / "examples" / "embed_existing_app"
FLASK = [sys.executable, "-m", "flask"]


def secret_of(output: str) -> str:
    return re.search(r"Secret Token:\s+(\S+)", output).group(1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def host(tmp_path):
    """A host app whose SCIM storage is an engine it built itself (no URI the CLI could reopen)."""
    engine = create_engine(f"sqlite:///{tmp_path / 'host.db'}")
    app = Flask("host")
    app.config.update(SCIM_STORAGE_URI="sqlite://", SCIM_STORAGE_OPTIONS={"engine": engine},
                      SCIM_DEFAULT_TENANT="acme", TESTING=True)
    Scim(app)
    yield app
    engine.dispose()


def test_scim_group_is_registered_by_the_extension(host):
    assert {"token", "tenant", "log", "migrate", "export", "import"} <= set(host.cli.commands["scim"].commands)


def test_token_create_works_on_the_hosts_engine_not_the_environment(host, monkeypatch):
    monkeypatch.setenv("SCIM_STORAGE_URI", "sqlite:////nonexistent/dir/never.db")
    monkeypatch.setenv("SCIM_DEFAULT_TENANT", "from-the-environment")
    result = host.test_cli_runner().invoke(args=["scim", "token", "create", "--description", "entra"])
    assert result.exit_code == 0, result.output
    assert "Tenant:       acme" in result.output
    client = ScimClient(host, token=secret_of(result.output))
    assert client.get("/Users").status_code == 200
    assert ScimClient(host, token="wrong").get("/Users").status_code == 401
    listed = host.test_cli_runner().invoke(args=["scim", "token", "list"])
    assert "tenant=acme" in listed.output and "entra" in listed.output


def test_storage_option_is_refused_inside_a_host_app(host):
    result = host.test_cli_runner().invoke(args=["scim", "token", "list", "--storage", "memory://"])
    assert result.exit_code == 2
    assert "--storage does not apply to 'flask scim'" in result.output


def test_enabling_an_enabled_tenant_asks_for_new_token(host):
    runner = host.test_cli_runner()
    first = runner.invoke(args=["scim", "tenant", "enable", "contoso"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(args=["scim", "tenant", "enable", "contoso"])
    assert again.exit_code == 1
    assert "enabled already, with 1 token(s)" in again.output
    assert "flask scim token rotate --tenant contoso" in again.output
    assert "Secret Token" not in again.output
    another = runner.invoke(args=["scim", "tenant", "enable", "contoso", "--new-token"])
    assert another.exit_code == 0 and secret_of(another.output) != secret_of(first.output)
    tokens = runner.invoke(args=["scim", "tenant", "tokens", "contoso"])
    assert len(tokens.output.strip().splitlines()) == 2


def test_migrate_copies_the_hosts_storage_to_a_url(host, tmp_path):
    client = ScimClient(host, token=secret_of(host.test_cli_runner().invoke(args=["scim", "token", "create"]).output))
    created = client.post("/Users", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                          "userName": "ada@example.com"})
    assert created.status_code == 201
    copy = f"sqlite:///{tmp_path / 'copy.db'}"
    result = host.test_cli_runner().invoke(args=["scim", "migrate", "--to", copy, "--verify"])
    assert result.exit_code == 0, result.output
    assert "copying: 2/2 records" in result.output  # the token and the user
    assert "verified: source and target agree" in result.output


def test_an_unreachable_host_storage_is_one_line():
    app = Flask("down")
    app.config.update(SCIM_STORAGE_URI=f"postgresql://scim@127.0.0.1:{free_port()}/scim", TESTING=True)
    Scim(app)
    result = app.test_cli_runner().invoke(args=["scim", "token", "list"])
    assert result.exit_code == 1
    assert re.search(r"cannot reach PostgreSQL at 127\.0\.0\.1:\d+: Connection refused", result.output)
    assert "the app's SCIM_STORAGE_URI" in result.output
    assert "Traceback" not in result.output


@pytest.mark.skipif(not (EMBED / "hostapp").is_dir(), reason="the embed example is not in this checkout")
def test_flask_scim_token_create_in_the_embed_example(tmp_path, monkeypatch):
    """`flask --app hostapp scim token create`, then the host's SCIM endpoint accepts the token."""
    pytest.importorskip("flask_sqlalchemy")
    database = f"sqlite:///{tmp_path / 'acme.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCIM_", "FLASK_"))}
    env["FLASK_SQLALCHEMY_DATABASE_URI"] = database
    result = subprocess.run(FLASK + ["--app", "hostapp", "scim", "token", "create", "--description", "entra"],
                            cwd=EMBED, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    secret = secret_of(result.stdout)

    monkeypatch.syspath_prepend(str(EMBED))
    import hostapp

    try:
        app = hostapp.create_app({"SQLALCHEMY_DATABASE_URI": database, "TESTING": True})
        assert ScimClient(app, token=secret).get("/Users").status_code == 200
        assert ScimClient(app, token=secret + "x").get("/Users").status_code == 401
    finally:
        for name in [n for n in sys.modules if n == "hostapp" or n.startswith("hostapp.")]:
            del sys.modules[name]
