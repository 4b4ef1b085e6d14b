"""`scimflask serve` and `scimflask token …` as a new user meets them (issue 2, point 8)."""

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
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
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
