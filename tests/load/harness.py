"""Load without loss: scimflask under gunicorn, Entra-like clients, then a check from the database.

    python -m tests.load.harness --backend postgres --seconds 60 --clients 8

`run_load` starts gunicorn (4 workers) on a fresh tenant, creates the shared groups, runs the
clients (workload.py) for a bounded time while an optional `disturb` callback acts on the
server or the network (the failure drills), stops the server, and verifies the backend
directly (verify.py). The database URLs come from SCIMFLASK_TEST_POSTGRES_URL /
SCIMFLASK_TEST_REDIS_URL, or the local defaults below.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .ledger import Ledger, UserPlan
from .proxy import TcpProxy
from .server import GunicornServer
from .verify import Figures, verify
from .workload import Client, create_groups

LOCAL_URLS = {
    "postgres": "postgresql://postgres@127.0.0.1:5432/test",
    "redis": "redis://127.0.0.1:6379/13",
}
URL_VARIABLES = {"postgres": "SCIMFLASK_TEST_POSTGRES_URL", "redis": "SCIMFLASK_TEST_REDIS_URL"}
GROUPS = 4
JOIN_TIMEOUT = 90.0


def backend_url(backend: str) -> str:
    return os.environ.get(URL_VARIABLES[backend]) or LOCAL_URLS[backend]


def through_proxy(storage_uri: str, proxy: TcpProxy) -> str:
    """The same storage URI, pointed at the proxy's port instead of the server's."""
    parts = urlsplit(storage_uri)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@127.0.0.1:{proxy.port}" if credentials else f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def proxy_for(storage_uri: str) -> TcpProxy:
    parts = urlsplit(storage_uri)
    default_port = 6379 if parts.scheme.startswith("redis") else 5432
    return TcpProxy(parts.hostname or "127.0.0.1", parts.port or default_port)


@dataclass
class LoadResult:
    figures: Figures
    ledger: Ledger
    plans: list[UserPlan]
    started: float  # time.monotonic() when the clients started
    server_log: str
    worker_timeouts: int = 0  # workers gunicorn killed for hanging past its timeout


Disturbance = Callable[[GunicornServer, Ledger, float], None]


def run_load(storage_uri: str, *, seconds: float, clients: int = 8, workers: int = 4,
             served_uri: str | None = None, disturb: Disturbance | None = None,
             log_dir: Path | None = None, seed: int = 1, server_env: dict[str, str] | None = None,
             server_timeout: int = 30) -> LoadResult:
    """Drive a gunicorn server for `seconds` and verify the backend at `storage_uri`.

    The server uses `served_uri` (e.g. through a proxy) when given, with `server_env` added to
    its environment. `disturb(server, ledger, started)` runs in this thread while the clients
    run and must return before they end.
    """
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="scimflask-load-"))
    run_id = uuid.uuid4().hex[:8]
    ledger = Ledger()
    with GunicornServer(served_uri or storage_uri, log_dir / "gunicorn.log", workers=workers,
                        env=server_env, timeout=server_timeout) as server:
        group_ids = create_groups(server.base_url, server.token, run_id, GROUPS)
        started = time.monotonic()
        deadline = started + seconds
        team = [Client(n, run_id, server.base_url, server.token, group_ids, ledger, deadline, seed * 1000 + n)
                for n in range(clients)]
        for client in team:
            client.start()
        if disturb is not None:
            disturb(server, ledger, started)
        for client in team:
            client.join(timeout=max(1.0, deadline - time.monotonic()) + JOIN_TIMEOUT)
        stuck = [c.name for c in team if c.is_alive()]
        if stuck:
            raise RuntimeError(f"clients did not finish: {stuck}")
        crashed = [f"{c.name}: {c.crash!r}" for c in team if c.crash is not None]
        if crashed:
            raise RuntimeError("client crashed: " + "; ".join(crashed)) from team[0].crash
        server_log = server.output()
        worker_timeouts = server.worker_timeouts()
    plans = [plan for client in team for plan in client.plans]
    figures = verify(storage_uri, server.tenant, ledger, plans, group_ids)
    return LoadResult(figures, ledger, plans, started, server_log, worker_timeouts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=sorted(LOCAL_URLS), required=True)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    result = run_load(backend_url(args.backend), seconds=args.seconds, clients=args.clients,
                      workers=args.workers, seed=args.seed)
    for problem in result.figures.problems[:50]:
        print("PROBLEM:", problem)
    print(result.figures.line(args.backend))
    return 0 if not result.figures.problems and result.figures.server_errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
