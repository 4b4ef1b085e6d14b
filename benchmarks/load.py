"""The load generator: client processes with keep-alive HTTP connections, one per thread.

A workload is a *script* `script(slot, client)` that each of `concurrency` client threads runs;
`slot` (0 .. concurrency-1) lets scripts split work without sharing state, and the script stops
when `client.expired()` says its time is up. Clients run in forked processes, apart from the
runner, so the client's GIL is not the server's ceiling and the runner stays responsive.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

SCIM_JSON = "application/scim+json"


class Client:
    """One keep-alive connection that times every request under a label."""

    def __init__(self, port: int, token: str, deadline: float, timeout: float) -> None:
        self.port = port
        self.deadline = deadline
        self.timeout = timeout
        self.headers = {"Authorization": f"Bearer {token}", "Accept": SCIM_JSON}
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.error_samples: list[str] = []
        self.connection = self._connect()

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline

    def send(self, label: str, method: str, path: str, body: object = None,
             ok: tuple[int, ...] = (200,)) -> tuple[int, bytes]:
        """Send one request; record its latency (and an error if the status is not in `ok`)."""
        payload = None if body is None else json.dumps(body).encode()
        headers = dict(self.headers)
        if payload is not None:
            headers["Content-Type"] = SCIM_JSON
        for attempt in (1, 2):
            started = time.perf_counter()
            try:
                self.connection.request(method, path, body=payload, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
                break
            except (http.client.HTTPException, OSError) as exc:
                self.connection.close()
                self.connection = self._connect()
                if isinstance(exc, TimeoutError):
                    # The server is stuck on this request: give up on the workload, not the run.
                    self.deadline = 0.0
                    self._error(label, f"{method} {path[:80]}: no answer within {self.timeout:g}s")
                    return 0, b""
                if attempt == 2:
                    self._error(label, f"{method} {path[:80]}: {exc!r}")
                    return 0, b""
        self.latencies[label].append(time.perf_counter() - started)
        if response.status not in ok:
            self._error(label, f"{method} {path[:80]} -> {response.status} {data[:200]!r}")
        return response.status, data

    def _error(self, label: str, message: str) -> None:
        self.errors[label] += 1
        if len(self.error_samples) < 3:
            self.error_samples.append(message)


@dataclass
class LoadResult:
    """Latencies per label (seconds), error counts, and the wall time of the whole run."""

    elapsed: float
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)

    def count(self, label: str | None = None) -> int:
        if label is None:
            return sum(len(v) for v in self.latencies.values())
        return len(self.latencies.get(label, ()))

    def rate(self, label: str | None = None) -> float:
        return self.count(label) / self.elapsed if self.elapsed > 0 else 0.0

    def percentile(self, label: str, q: float) -> float | None:
        values = sorted(self.latencies.get(label, ()))
        if not values:
            return None
        return values[min(len(values) - 1, int(q * len(values)))]

    def total_errors(self) -> int:
        return sum(self.errors.values())


Script = Callable[[int, Client], None]


def _client_process(port: int, token: str, script: Script, slots: list[int], start_at: float,
                    duration: float, timeout: float, results) -> None:
    deadline = start_at + duration
    clients = [Client(port, token, deadline, timeout) for _ in slots]
    while time.monotonic() < start_at:
        time.sleep(0.001)
    threads = [threading.Thread(target=script, args=(slot, client)) for slot, client in zip(slots, clients, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    finished = time.monotonic()
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    samples: list[str] = []
    for client in clients:
        for label, values in client.latencies.items():
            latencies[label].extend(values)
        for label, n in client.errors.items():
            errors[label] += n
        samples.extend(client.error_samples)
        client.connection.close()
    results.put((finished - start_at, dict(latencies), dict(errors), samples[:3]))


def run_load(port: int, token: str, script: Script, *, concurrency: int, duration: float,
             processes: int = 2, timeout: float = 60.0) -> LoadResult:
    """Run `script` on `concurrency` threads spread over client processes for at most `duration`
    seconds (a script may finish earlier); a request unanswered after `timeout` seconds ends
    its thread's part of the run. Return the merged measurements."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    processes = max(1, min(processes, concurrency))
    start_at = time.monotonic() + 0.15
    workers = []
    for p in range(processes):
        slots = list(range(p, concurrency, processes))
        worker = context.Process(target=_client_process,
                                 args=(port, token, script, slots, start_at, duration, timeout, results))
        worker.start()
        workers.append(worker)
    merged = LoadResult(elapsed=0.0)
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    for _ in workers:
        elapsed, part, part_errors, samples = results.get()
        merged.elapsed = max(merged.elapsed, elapsed)
        for label, values in part.items():
            latencies[label].extend(values)
        for label, n in part_errors.items():
            errors[label] += n
        merged.error_samples.extend(samples)
    for worker in workers:
        worker.join()
    merged.latencies, merged.errors = dict(latencies), dict(errors)
    return merged
