"""`scimflask serve` in a subprocess, the way an operator starts it.

Each server runs in a session of its own on a free 127.0.0.1 port, writes stdout and stderr to
one file, and is always stopped with its whole process group; every wait is bounded.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

START_TIMEOUT = 45.0
LINE_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def children(parent: int) -> list[int]:
    """Live processes whose parent is `parent` (Linux /proc): a gunicorn master's workers."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, rest = stat.read_text().split(" ", 1)
            fields = rest.rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        if int(fields[1]) == parent and fields[0] != "Z":
            found.append(int(pid))
    return found


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without scimflask's or prometheus_client's settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SCIM_", "SCIMFLASK_")) and k.upper() != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(extra)
    return env


class Serve:
    """`python -m scimflask serve --port PORT ARGS` in `workdir`."""

    def __init__(self, workdir: Path, *args: str, **env: str) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.log = workdir / f"serve-{self.port}.log"
        self._handle = open(self.log, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scimflask", "serve", "--port", str(self.port), *args],
            cwd=workdir, env=clean_env(**env), stdout=self._handle, stderr=subprocess.STDOUT,
            start_new_session=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float = LINE_TIMEOUT) -> re.Match:
        """The first match of `pattern` in the output, once it is there."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.output(), re.MULTILINE)
            if found:
                return found
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"no {pattern!r} in the output (exit code {self.process.poll()}):\n{self.output()[-3000:]}")
            time.sleep(0.05)

    def start(self) -> Serve:
        """Wait until the server prints its Secret Token and answers /healthz."""
        self.token = self.wait_for(r"^Secret Token: (\S+)$", START_TIMEOUT).group(1)
        self.tenant_url = self.wait_for(r"^Tenant URL:\s+(\S+)$").group(1)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if requests.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return self
            except (requests.ConnectionError, requests.Timeout):
                pass
            time.sleep(0.1)
        pytest.fail(f"server not up:\n{self.output()[-3000:]}")

    def worker_count(self, expected: int) -> int:
        """The number of worker processes, once it is `expected` (gunicorn forks them one by
        one) or after a bounded wait."""
        deadline = time.monotonic() + LINE_TIMEOUT
        while len(children(self.process.pid)) != expected and time.monotonic() < deadline:
            time.sleep(0.05)
        return len(children(self.process.pid))

    def scim(self, method: str, path: str, *, request_id: str | None = None, **kwargs) -> requests.Response:
        """A SCIM request on a new connection (so that every worker can get some)."""
        headers = {"Authorization": f"Bearer {self.token}", "Connection": "close",
                   "Content-Type": "application/scim+json", **kwargs.pop("headers", {})}
        if request_id:
            headers["X-Request-Id"] = request_id
        return requests.request(method, self.tenant_url + path, headers=headers, timeout=10, **kwargs)

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=15)
        except ProcessLookupError:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)
        finally:
            self._handle.close()
