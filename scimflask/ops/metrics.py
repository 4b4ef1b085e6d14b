"""Prometheus metrics of the SCIM endpoints, in a registry of the app's own.

A per-app `CollectorRegistry` (not prometheus_client's global one) lets two apps, or two test
apps, live in one process without "Duplicated timeseries" errors. The endpoint label is Flask's
endpoint name (e.g. `scim.users_item`), never the raw path, so ids cannot explode cardinality.

Under several worker processes each would count only its own requests, and a scrape would see
whichever worker answered it. `scimflask serve` therefore runs its workers inside
`multiprocess_metrics()`: prometheus_client's multiprocess mode, where every process writes its
values to files in one private directory and the endpoint adds up all of them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Blueprint, Response, g, request

from ..errors import ConfigurationError

# prometheus_client's switch to multiprocess mode, read once when it is first imported.
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


def in_multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_DIR))


@contextmanager
def multiprocess_metrics() -> Iterator[str]:
    """A fresh, private PROMETHEUS_MULTIPROC_DIR for this process and the workers it forks.

    Enter it before prometheus_client is imported. The directory is removed on leaving, by the
    process that made it only: forked workers leave through the same code when they exit.
    """
    directory = tempfile.mkdtemp(prefix="scimflask-metrics-")
    owner = os.getpid()
    previous = os.environ.get(MULTIPROC_DIR)
    os.environ[MULTIPROC_DIR] = directory
    try:
        yield directory
    finally:
        if os.getpid() == owner:
            if previous is None:
                os.environ.pop(MULTIPROC_DIR, None)
            else:
                os.environ[MULTIPROC_DIR] = previous
            shutil.rmtree(directory, ignore_errors=True)


def process_exited(pid: int) -> None:
    """Bookkeeping for a dead worker (its live gauges stop counting; its counters stay summed)."""
    if not in_multiprocess_mode():
        return
    try:
        from prometheus_client import multiprocess
    except ImportError:
        return
    multiprocess.mark_process_dead(pid)


class ScimMetrics:
    """Request counts, latencies and storage errors of one app."""

    def __init__(self) -> None:
        try:
            import prometheus_client as prom
        except ImportError:
            raise ConfigurationError(
                "SCIM_METRICS_ENABLED needs prometheus_client: pip install 'scimflask[metrics]'") from None
        self._prom = prom
        self.multiprocess = in_multiprocess_mode()
        self.registry = prom.CollectorRegistry(auto_describe=True)
        self.requests = prom.Counter(
            "scim_requests", "SCIM requests answered", ("endpoint", "method", "status"),
            registry=self.registry)
        self.latency = prom.Histogram(
            "scim_request_duration_seconds", "Time to answer a SCIM request", ("endpoint", "method"),
            registry=self.registry)
        self.storage_errors = prom.Counter(
            "scim_storage_errors", "Requests that failed because the storage was unavailable",
            registry=self.registry)

    def finish(self, response: Response) -> None:
        endpoint = request.endpoint or "none"
        method = request.method
        self.requests.labels(endpoint, method, str(response.status_code)).inc()
        started = g.get("scim_started")  # set by the SCIM blueprint as the request begins
        if started is not None:
            self.latency.labels(endpoint, method).observe(time.perf_counter() - started)

    def exposition(self) -> Response:
        registry = self.registry
        if self.multiprocess:
            from prometheus_client import multiprocess

            # Every worker's values, read from the shared directory at each scrape.
            registry = self._prom.CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        return Response(self._prom.generate_latest(registry), mimetype=self._prom.CONTENT_TYPE_LATEST)

    def blueprint(self, path: str) -> Blueprint:
        bp = Blueprint("scim_metrics", __name__)
        bp.add_url_rule(path, "metrics", self.exposition, methods=["GET"])
        return bp
