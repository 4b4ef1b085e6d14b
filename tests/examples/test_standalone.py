"""examples/standalone: the server under gunicorn with two workers, per backend, over HTTP.

Every server is started in its own process group on a free port and always killed; each
waits a bounded time. Shared databases get a tenant of their own per run.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from scimflask.config import DEFAULTS

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "standalone"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
START_TIMEOUT = 45
POSTGRES_URL = os.environ.get("SCIMFLASK_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("SCIMFLASK_TEST_REDIS_URL")


def _needs(url: str | None, variable: str):
    return pytest.mark.skipif(not url, reason=f"{variable} is not set (CI sets it; see .ci/run)")


def read_env_file(name: str) -> dict[str, str]:
    """`KEY=value` lines of an example env file (comments and blank lines skipped)."""
    values = {}
    for line in (EXAMPLE / name).read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def worker_count(master_pid: int) -> int:
    """Processes whose parent is the gunicorn master (Linux /proc)."""
    count = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        count += int(fields[1]) == master_pid
    return count


class Server:
    """A server subprocess in its own session, killed with its whole process group."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.handle = open(log, "wb")
        self.process = subprocess.Popen(args, env=env, stdout=self.handle, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_until_up(self, url: str, token: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"server exited with {self.process.returncode}:\n{self.output()[-3000:]}")
            try:
                if requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or busy starting
                pass
            time.sleep(0.2)
        pytest.fail(f"server not up after {START_TIMEOUT}s:\n{self.output()[-3000:]}")

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
        finally:
            self.handle.close()


def base_env(env_file: str, storage_uri: str) -> dict[str, str]:
    values = read_env_file(env_file)
    unknown = [k for k in values if k not in DEFAULTS and not k.startswith("SCIMFLASK_")]
    assert unknown == [], f"{env_file} sets keys scimflask does not know: {unknown}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCIM_", "SCIMFLASK_"))}
    env.update(values)
    env.update({
        "SCIM_STORAGE_URI": storage_uri,
        "SCIM_SECRET_KEY": uuid.uuid4().hex,
        "SCIM_DEFAULT_TENANT": "standalone-" + uuid.uuid4().hex[:12],
        "SCIMFLASK_WORKERS": "2",
    })
    env.pop("SCIMFLASK_PUBLIC_URL", None)
    return env


def create_token(env: dict[str, str]) -> str:
    result = subprocess.run([sys.executable, "-m", "scimflask", "token", "create", "--description", "test"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return re.search(r"Secret Token: (\S+)", result.stdout).group(1)


def provision_and_read_back(base_url: str, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    user_name = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    created = requests.post(f"{base_url}/Users", json={"schemas": [USER_SCHEMA], "userName": user_name},
                            headers=headers, timeout=10)
    assert created.status_code == 201, created.text
    id = created.json()["id"]
    # Several reads, so both workers are likely to answer one: the data is in the backend.
    for _ in range(6):
        fetched = requests.get(f"{base_url}/Users/{id}", headers=headers, timeout=10)
        assert (fetched.status_code, fetched.json()["userName"]) == (200, user_name)
    found = requests.get(f"{base_url}/Users", params={"filter": f'userName eq "{user_name.upper()}"'},
                         headers=headers, timeout=10)
    assert [r["id"] for r in found.json()["Resources"]] == [id]


@pytest.mark.parametrize("env_file, storage", [
    pytest.param("sqlite.env", None, id="sqlite"),
    pytest.param("postgresql.env", POSTGRES_URL, id="postgres",
                 marks=[pytest.mark.postgres, _needs(POSTGRES_URL, "SCIMFLASK_TEST_POSTGRES_URL")]),
    pytest.param("redis.env", REDIS_URL, id="redis",
                 marks=[pytest.mark.redis, _needs(REDIS_URL, "SCIMFLASK_TEST_REDIS_URL")]),
])
def test_gunicorn_with_two_workers(tmp_path, env_file, storage):
    env = base_env(env_file, storage or f"sqlite:///{tmp_path / 'scim.db'}")
    port = free_port()
    env["SCIMFLASK_BIND"] = f"127.0.0.1:{port}"
    token = create_token(env)
    server = Server([sys.executable, "-m", "gunicorn", "-c", str(EXAMPLE / "gunicorn.conf.py"),
                     "scimflask:create_app()"], env, tmp_path / "gunicorn.log")
    try:
        base_url = f"http://127.0.0.1:{port}/scim/v2"
        server.wait_until_up(f"{base_url}/ServiceProviderConfig", token)
        assert worker_count(server.process.pid) == 2
        provision_and_read_back(base_url, token)
    finally:
        server.stop()


def test_gunicorn_config_refuses_to_start_without_a_shared_secret(tmp_path):
    env = base_env("sqlite.env", f"sqlite:///{tmp_path / 'scim.db'}")
    del env["SCIM_SECRET_KEY"]
    env["SCIMFLASK_BIND"] = f"127.0.0.1:{free_port()}"
    result = subprocess.run([sys.executable, "-m", "gunicorn", "-c", str(EXAMPLE / "gunicorn.conf.py"),
                             "scimflask:create_app()"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "SCIM_SECRET_KEY is not set" in result.stdout + result.stderr


def test_scimflask_serve_with_two_workers_on_sqlite(tmp_path):
    env = base_env("sqlite.env", f"sqlite:///{tmp_path / 'scim.db'}")
    del env["SCIM_SECRET_KEY"]  # serve generates one shared by its workers
    port = free_port()
    server = Server([sys.executable, "-m", "scimflask", "serve", "--workers", "2", "--port", str(port)],
                    env, tmp_path / "serve.log")
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not (found := re.search(r"Secret Token: (\S+)", server.output())):
            assert time.monotonic() < deadline and server.process.poll() is None, server.output()
            time.sleep(0.1)
        token = found.group(1)
        base_url = f"http://127.0.0.1:{port}/scim/v2"
        assert f"Tenant URL:   {base_url}" in server.output()
        server.wait_until_up(f"{base_url}/ServiceProviderConfig", token)
        provision_and_read_back(base_url, token)
    finally:
        server.stop()
