"""Start an app under gunicorn in a subprocess, wait until it answers, read its workers' RSS."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
THREADS = 4


class ServerError(RuntimeError):
    """The server did not start; the message carries the tail of its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """`gunicorn -w W -k gthread --threads 4` serving `app_spec` on a free local port."""

    def __init__(self, app_spec: str, workers: int, env: dict[str, str], log_path: Path,
                 ready_path: str, ready_headers: dict[str, str] | None = None) -> None:
        self.app_spec = app_spec
        self.workers = workers
        self.env = env
        self.log_path = log_path
        self.ready_path = ready_path
        self.ready_headers = ready_headers or {}
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Gunicorn:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> None:
        command = [
            sys.executable, "-m", "gunicorn", "-w", str(self.workers), "-k", "gthread",
            "--threads", str(THREADS), "-b", f"127.0.0.1:{self.port}", "--timeout", "300",
            "--keep-alive", "75", "--backlog", "2048", "--log-level", "warning",
            "--chdir", str(REPO), self.app_spec,
        ]
        env = {**os.environ, **self.env, "PYTHONPATH": str(REPO)}
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"gunicorn exited with {self.process.returncode}: {self.log_tail()}")
            if self._answers() and len(self.worker_pids()) >= self.workers:
                return
            time.sleep(0.2)
        self.stop()
        raise ServerError(f"gunicorn did not answer within {timeout:.0f}s: {self.log_tail()}")

    def _answers(self) -> bool:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            connection.request("GET", self.ready_path, headers=self.ready_headers)
            status = connection.getresponse().status
            connection.close()
            return status == 200
        except OSError:
            return False

    def log_tail(self, lines: int = 8) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return " | ".join(text[-lines:])

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def worker_rss_kib(self) -> int:
        """Sum of the workers' resident set sizes (VmRSS), in KiB."""
        total = 0
        for pid in self.worker_pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                continue
        return total

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
        self.log.close()
