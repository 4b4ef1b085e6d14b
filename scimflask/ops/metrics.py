"""Prometheus metrics of the SCIM endpoints, in a registry of the app's own.

A per-app `CollectorRegistry` (not prometheus_client's global one) lets two apps, or two test
apps, live in one process without "Duplicated timeseries" errors. The endpoint label is Flask's
endpoint name (e.g. `scim.users_item`), never the raw path, so ids cannot explode cardinality.
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, g, request

from ..errors import ConfigurationError


class ScimMetrics:
    """Request counts, latencies and storage errors of one app."""

    def __init__(self) -> None:
        try:
            import prometheus_client as prom
        except ImportError:
            raise ConfigurationError(
                "SCIM_METRICS_ENABLED needs prometheus_client: pip install 'scimflask[metrics]'") from None
        self._prom = prom
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

    def start(self) -> None:
        g.scim_started = time.perf_counter()

    def finish(self, response: Response) -> None:
        endpoint = request.endpoint or "none"
        method = request.method
        self.requests.labels(endpoint, method, str(response.status_code)).inc()
        started = g.get("scim_started")
        if started is not None:
            self.latency.labels(endpoint, method).observe(time.perf_counter() - started)

    def exposition(self) -> Response:
        return Response(self._prom.generate_latest(self.registry), mimetype=self._prom.CONTENT_TYPE_LATEST)

    def blueprint(self, path: str) -> Blueprint:
        bp = Blueprint("scim_metrics", __name__)
        bp.add_url_rule(path, "metrics", self.exposition, methods=["GET"])
        return bp
