"""`/healthz` (the process answers) and `/readyz` (the storage answers), for load balancers.

Both are unauthenticated and say nothing about the data: a status word only. They sit at the
app root (or `SCIM_HEALTH_PREFIX`), outside the SCIM prefix, so they are registered only when
`SCIM_HEALTH_ENABLED` is true: `create_app` turns it on, an embedding host opts in (its own
routes may already be called /healthz).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify

from ..storage.base import Storage

log = logging.getLogger("scimflask")


def make_health_blueprint(storage: Storage) -> Blueprint:
    bp = Blueprint("scim_health", __name__)

    @bp.get("/healthz")
    def healthz() -> Response:
        return _no_store(jsonify(status="ok"))

    @bp.get("/readyz")
    def readyz() -> tuple[Response, int]:
        try:
            storage.ping()
        except Exception as exc:  # any failure means "not ready"; the reason goes to the log only
            log.warning("readiness check failed: %s: %s", type(exc).__name__, exc)
            return _no_store(jsonify(status="unavailable")), 503
        return _no_store(jsonify(status="ok")), 200

    return bp


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response
