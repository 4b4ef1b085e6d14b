"""`scimflask serve` as an operator runs it: gunicorn by default, with a worker count that suits
the storage, one access line per request on stdout, and the audit lines beside them."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import click
import pytest
import requests

from scimflask.cli import serve as serve_module
from scimflask.cli.serve import default_workers, plan_server

from .serving import Serve, clean_env

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def access_lines(output: str, request_id: str) -> list[str]:
    return [line for line in output.splitlines() if "scimflask.access" in line and request_id in line]


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory):
    """The README's first command: `scimflask serve` in an empty directory."""
    server = Serve(tmp_path_factory.mktemp("serve"))
    try:
        yield server.start()
    finally:
        server.stop()


def test_serves_with_gunicorn_and_several_workers(sqlite_server):
    output = sqlite_server.output()
    assert "Starting gunicorn" in output
    assert f"Server:       gunicorn, {default_workers()} workers\n" in output
    assert sqlite_server.worker_count(default_workers()) == default_workers() >= 2
    assert sqlite_server.tenant_url == f"{sqlite_server.url}/scim/v2"
    assert (sqlite_server.workdir / "scim.db").exists()
    assert "development server" not in output.lower()


def test_one_access_line_per_request_without_secrets(sqlite_server):
    listed = subprocess.run([sys.executable, "-m", "scimflask", "token", "list", "--storage", "sqlite:///scim.db"],
                            cwd=sqlite_server.workdir, env=clean_env(), capture_output=True, text=True, timeout=60)
    token_id = listed.stdout.split()[0]
    answers = {f"req-{n}": sqlite_server.scim("GET", "/Users?count=1&access_token=hunter2", request_id=f"req-{n}")
               for n in range(3)}
    for request_id, answer in answers.items():
        assert answer.status_code == 200 and answer.headers["X-Request-Id"] == request_id
        sqlite_server.wait_for(rf"scimflask\.access: {request_id} ")
    output = sqlite_server.output()
    for request_id in answers:
        [line] = access_lines(output, request_id)
        assert re.search(rf"^\S+ \[\d+\] INFO scimflask\.access: {request_id} GET "
                         r"/scim/v2/Users\?count=1&access_token=\[redacted\] 200 [\d.]+ms "
                         rf"tenant=default token={token_id} client=127\.0\.0\.1$", line), line
    assert "hunter2" not in output and "Bearer" not in output
    assert output.count(sqlite_server.token) == 1  # the banner only


def test_refusals_and_unknown_paths_get_access_lines(sqlite_server):
    answer = sqlite_server.scim("GET", "/Users", request_id="nobody-1", headers={"Authorization": "Bearer wrong"})
    assert answer.status_code == 401 and answer.headers["X-Request-Id"] == "nobody-1"
    # An identity provider given a Tenant URL without /v2.
    lost = requests.get(f"{sqlite_server.url}/scim/Users", headers={"X-Request-Id": "lost-1"}, timeout=10)
    assert lost.status_code == 404 and lost.headers["X-Request-Id"] == "lost-1"
    assert re.search(r"nobody-1 GET /scim/v2/Users 401 [\d.]+ms tenant=- token=-",
                     sqlite_server.wait_for(r".*nobody-1.*").group())
    sqlite_server.wait_for(r"lost-1 GET /scim/Users 404 ")


def test_audit_lines_name_the_request(sqlite_server):
    created = sqlite_server.scim("POST", "/Users", request_id="create-ada",
                                 json={"schemas": [USER], "userName": "ada@example.com"})
    assert created.status_code == 201
    audit = json.loads(sqlite_server.wait_for(r"scimflask\.audit: (\{.*\"requestId\":\"create-ada\".*\})$").group(1))
    assert (audit["method"], audit["status"], audit["resourceId"]) == ("POST", 201, created.json()["id"])
    # The access line is written once the response has gone out, so it may follow the audit line.
    sqlite_server.wait_for(r"scimflask\.access.*create-ada")
    assert len(access_lines(sqlite_server.output(), "create-ada")) == 1


def test_memory_runs_one_worker_and_says_why(tmp_path):
    server = Serve(tmp_path, "--storage", "memory://")
    try:
        server.start()
        assert "Server:       gunicorn, 1 worker (memory:// keeps its data inside this one process)" in server.output()
        assert server.worker_count(1) == 1
        # The worker has the token the banner printed.
        assert server.scim("GET", "/Users").status_code == 200
    finally:
        server.stop()


def test_memory_refuses_several_workers(tmp_path):
    result = subprocess.run([sys.executable, "-m", "scimflask", "serve", "--storage", "memory://", "--workers", "2"],
                            cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "memory:// keeps its data inside one process" in result.stderr
    assert "Traceback" not in result.stderr


def test_dev_runs_werkzeug_with_the_reloader(tmp_path):
    server = Serve(tmp_path, "--dev", "--storage", "memory://")
    try:
        server.start()
        assert server.scim("GET", "/Users", request_id="dev-1").status_code == 200
        server.wait_for(r"scimflask\.access: dev-1 GET /scim/v2/Users 200 ")
        output = server.output()
        assert "Server:       werkzeug development server with reloader (--dev)" in output
        assert "Starting gunicorn" not in output
        assert '"GET /scim/v2/Users HTTP/1.1"' not in output  # werkzeug's own access line is off
    finally:
        server.stop()


def test_without_gunicorn_it_falls_back_and_says_how_to_get_it(tmp_path):
    fake = tmp_path / "no-gunicorn" / "gunicorn"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('gunicorn is missing in this test')\n")
    server = Serve(tmp_path, "--storage", "memory://", PYTHONPATH=str(fake.parent))
    try:
        server.start()
        assert ("Server:       werkzeug development server, because gunicorn is not installed "
                "(pip install 'scimflask[server]' for gunicorn, the production server)") in server.output()
        assert server.scim("GET", "/Users").status_code == 200
    finally:
        server.stop()


def test_json_logs(tmp_path):
    server = Serve(tmp_path, "--storage", "memory://", "--log-format", "json")
    try:
        server.start()
        assert server.scim("GET", "/Users", request_id="json-1").status_code == 200
        line = json.loads(server.wait_for(r'^\{.*"requestId":"json-1".*\}$').group())
        assert {k: line[k] for k in ("logger", "method", "path", "status", "tenant", "tokenId")} == {
            "logger": "scimflask.access", "method": "GET", "path": "/scim/v2/Users", "status": 200,
            "tenant": "default", "tokenId": line["tokenId"]}
        assert line["tokenId"] and isinstance(line["durationMs"], float)
        log_lines = [text for text in server.output().splitlines()
                     if text and not text.startswith(("Storage:", "Server:", "Tenant URL:", "Secret Token:", " "))]
        assert all(json.loads(text)["level"] for text in log_lines)
    finally:
        server.stop()


def test_quiet_keeps_warnings_and_audit_lines_only(tmp_path):
    server = Serve(tmp_path, "--storage", "memory://", "--quiet")
    try:
        server.start()
        assert server.scim("POST", "/Users", request_id="quiet-1",
                           json={"schemas": [USER], "userName": "quiet"}).status_code == 201
        server.wait_for(r"scimflask\.audit: .*\"requestId\":\"quiet-1\"")
        output = server.output()
        assert "scimflask.access" not in output and "Booting worker" not in output
        assert "WARNING scimflask_memory" in output  # warnings still show
    finally:
        server.stop()


@pytest.mark.parametrize("storage, workers, dev, server, count", [
    ("sqlite:///scim.db", None, False, "gunicorn", default_workers()),
    ("postgresql://db/scim", 6, False, "gunicorn", 6),
    ("redis://cache/0", None, False, "gunicorn", default_workers()),
    ("memory://", None, False, "gunicorn", 1),
    ("memory://", 1, False, "gunicorn", 1),
    ("sqlite:///scim.db", None, True, "dev", 1),
])
def test_the_server_suits_the_storage(storage, workers, dev, server, count):
    plan = plan_server(storage, workers, dev)
    assert (plan.server, plan.workers) == (server, count)


@pytest.mark.parametrize("storage, workers, dev, message", [
    ("memory://", 2, False, "keeps its data inside one process"),
    ("sqlite:///scim.db", 2, True, "--dev runs one process"),
    ("sqlite:///scim.db", 0, False, "at least 1"),
])
def test_impossible_worker_counts_are_refused(storage, workers, dev, message):
    with pytest.raises(click.BadParameter, match=message):
        plan_server(storage, workers, dev)


def test_several_workers_without_gunicorn_are_refused(monkeypatch):
    monkeypatch.setattr(serve_module, "gunicorn_missing", lambda: "gunicorn is not installed")
    assert plan_server("sqlite:///scim.db", None, False).server == "werkzeug"
    with pytest.raises(click.ClickException, match="--workers 3 needs gunicorn"):
        plan_server("sqlite:///scim.db", 3, False)
