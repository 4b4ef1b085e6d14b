"""scimflask under gunicorn (4 gthread workers) in a subprocess of its own session.

The server is always stopped with its whole process group, and every wait is bounded, so a
failing test never leaves a gunicorn behind.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

START_TIMEOUT = 45.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def child_pids(parent: int) -> list[int]:
    """Processes whose parent is `parent` (Linux /proc): the gunicorn workers of a master."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid_text, rest = stat.read_text().split(" ", 1)
            fields = rest.rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        if int(fields[1]) == parent and fields[0] != "Z":
            found.append(int(pid_text))
    return sorted(found)


class GunicornServer:
    """`gunicorn -w WORKERS -k gthread 'scimflask:create_app()'` on a free 127.0.0.1 port.

    `tenant` is a fresh name per server, so a run sees only its own rows on a shared database.
    """

    def __init__(self, storage_uri: str, log_path: Path, *, workers: int = 4, threads: int = 4,
                 tenant: str | None = None, token: str | None = None, secret: str | None = None,
                 env: dict[str, str] | None = None, timeout: int = 30) -> None:
        self.storage_uri = storage_uri
        self.log_path = log_path
        self.workers = workers
        self.threads = threads
        self.tenant = tenant or "load-" + uuid.uuid4().hex[:12]
        self.token = token or "load-" + uuid.uuid4().hex
        self.secret = secret or uuid.uuid4().hex
        self.extra_env = dict(env or {})
        self.timeout = timeout  # gunicorn's worker timeout (seconds)
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/scim/v2"
        self.process: subprocess.Popen | None = None
        self._log = None

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCIM_")}
        env.update({
            "SCIM_STORAGE_URI": self.storage_uri,
            "SCIM_BEARER_TOKENS": self.token,
            "SCIM_DEFAULT_TENANT": self.tenant,
            "SCIM_SECRET_KEY": self.secret,
            **self.extra_env,
        })
        return env

    def start(self) -> None:
        args = [sys.executable, "-m", "gunicorn", "-w", str(self.workers), "-k", "gthread",
                "--threads", str(self.threads), "-b", f"127.0.0.1:{self.port}",
                "--timeout", str(self.timeout), "--graceful-timeout", "5", "scimflask:create_app()"]
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(args, env=self.environment(), stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_until_up()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until_up(self) -> None:
        """Until the master has all its workers and one of them answers an authenticated GET."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{self.output()[-3000:]}")
            try:
                answer = requests.get(f"{self.base_url}/ServiceProviderConfig",
                                      headers={"Authorization": f"Bearer {self.token}"}, timeout=5)
                if answer.status_code == 200 and len(self.worker_pids()) == self.workers:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass  # not listening yet
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn not up after {START_TIMEOUT}s:\n{self.output()[-3000:]}")

    def worker_timeouts(self) -> int:
        """How many workers gunicorn killed for not answering within its timeout."""
        return self.output().count("WORKER TIMEOUT")

    def worker_pids(self) -> list[int]:
        return child_pids(self.process.pid) if self.process else []

    def stop(self) -> None:
        """SIGKILL the whole group: by now no client waits for an answer, and every write the
        clients were told about is committed (the worker drill shows a kill loses nothing)."""
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=10)
        finally:
            if self._log is not None:
                self._log.close()

    def __enter__(self) -> GunicornServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
