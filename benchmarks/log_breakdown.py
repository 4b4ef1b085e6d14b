"""Where the provisioning log's write cost goes: `python -m benchmarks.logbench --breakdown`.

The write-cost comparison says how much throughput the log takes; this says which of its steps
take it. While the log-on side runs, each step is timed in the thread that runs it, as CPU time
of that thread (`time.thread_time`), so the background writer's steps are counted apart from
the request's:
- the request's snapshot of itself (`blueprint._request_record`) and queueing it (`record`);
- the writer building the entries (`_built`), storing them (`append_logs`), pruning (`prune_log`).

On SQLite, where the requests and the writer share one write lock, it also sums the wall time
the requests' write transactions took to begin (`Connection.begin`, which issues BEGIN
IMMEDIATE), on both sides: the log-on side's excess is the time requests waited for the
writer's transactions.

The process's CPU on − off beside the steps shows how much of the cost they explain; the rest
is the requests' own work done slower beside a second busy thread (the interpreter lock, shared
caches). A store's server-side work (PostgreSQL, Redis) is in neither figure.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from contextlib import contextmanager

from sqlalchemy.engine import Connection

import scimflask.blueprint
from scimflask.ops.provisioning_log import ProvisioningLog

# (column, owner, attribute) of each timed step; the storage's own steps are added per store.
_STEPS = (("snapshot", scimflask.blueprint, "_request_record"), ("queue", ProvisioningLog, "record"),
          ("build", ProvisioningLog, "_built"))
_STORAGE_STEPS = (("store", "append_logs"), ("prune", "prune_log"))
COLUMNS = ("snapshot", "queue", "build", "store", "prune")


class Breakdown:
    """Times the log's steps of the log-on side (see the module docstring); `install` once the
    sides exist, `uninstall` when done; `segment` marks which side is running."""

    def __init__(self) -> None:
        self.cpu: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.begin_wait: Counter[str] = Counter()
        self.active: str | None = None
        self._restore: list[tuple[object, str, object | None]] = []  # None: it was inherited
        self._sqlite: dict[int, str] = {}  # id of a SQLite engine -> the side it serves

    def install(self, sides: dict) -> None:
        storage_type = type(sides["on"].state.storage)
        steps = [*_STEPS, *((column, storage_type, name) for column, name in _STORAGE_STEPS)]
        for column, owner, name in steps:
            original = getattr(owner, name)
            self._restore.append((owner, name, vars(owner).get(name)))
            setattr(owner, name, self._timed(column, original))
        for side in sides.values():
            engine = getattr(side.state.storage, "engine", None)
            if engine is not None and engine.dialect.name == "sqlite":
                self._sqlite[id(engine)] = side.mode
        if self._sqlite:
            self._restore.append((Connection, "begin", Connection.begin))
            Connection.begin = self._timed_begin(Connection.begin)  # type: ignore[method-assign]

    def uninstall(self) -> None:
        for owner, name, original in reversed(self._restore):
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)
        self._restore = []

    @contextmanager
    def segment(self, mode: str, requests: int):
        """Steps timed inside count for `mode`'s `requests`."""
        self.active = mode
        try:
            yield
        finally:
            self.active = None
            self.requests[mode] += requests

    def row(self) -> dict:
        """Milliseconds per log-on request of each step, and the requests' BEGIN IMMEDIATE
        wall time per request on each side (None when not SQLite)."""
        per = {column: self.cpu[column] / max(self.requests["on"], 1) * 1000 for column in COLUMNS}
        waits = {mode: self.begin_wait[mode] / max(self.requests[mode], 1) * 1000 for mode in ("on", "off")}
        return {"steps_ms": per, "log_cpu_ms": sum(per.values()),
                "begin_wait_ms": waits if self._sqlite else None}

    def _timed(self, column: str, original):
        def timed(*args, **kwargs):
            if self.active != "on":
                return original(*args, **kwargs)
            started = time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                self.cpu[column] += time.thread_time() - started
        return timed

    def _timed_begin(self, original):
        main = threading.main_thread()

        def begin(connection):
            started = time.perf_counter()
            try:
                return original(connection)
            finally:
                mode = self._sqlite.get(id(connection.engine))
                if (mode is not None and mode == self.active and threading.current_thread() is main
                        and connection.get_execution_options().get("scim_write")):
                    self.begin_wait[mode] += time.perf_counter() - started
        return begin
