"""`scimflask serve` under gunicorn: the settings, the logger and the hooks it runs with.

Imports gunicorn at once; `scimflask serve` imports this module only when gunicorn can run.
Each worker builds its own app, storage and connection pool after the fork (`app_factory`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from ..ops.metrics import process_exited
from .logging_config import logging_config

THREADS_PER_WORKER = 4
# gunicorn's own ceilings (its maximum), above RequestLimits' MAX_URI_LENGTH and
# MAX_HEADER_FIELD_LENGTH: the app refuses first, with a detailed SCIM error.
GUNICORN_LIMIT = 8190
# Settings older gunicorn releases do not have (and do not need).
NEWER_SETTINGS = frozenset({"control_socket_disable"})


class ScimGunicornLogger(Logger):
    """gunicorn's logger without its access log: the app writes one line per request itself
    (scimflask.server.access_log), the same under every server."""

    access_log_enabled = False  # type: ignore[assignment]

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        return None


def _child_exit(server: Any, worker: Any) -> None:
    process_exited(worker.pid)


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def gunicorn_settings(*, host: str, port: int, workers: int, timeout: int, log_format: str,
                      quiet: bool) -> dict[str, Any]:
    return {
        "bind": bind_address(host, port),
        "workers": workers,
        # A request still running after `timeout` seconds gets its worker restarted.
        "timeout": timeout,
        # gthread, answering gunicorn's own refusals (over-long request line, headers) as SCIM JSON.
        "worker_class": "scimflask.server.worker.ScimThreadWorker",
        "threads": THREADS_PER_WORKER,
        "limit_request_line": GUNICORN_LIMIT,
        "limit_request_field_size": GUNICORN_LIMIT,
        "proc_name": "scimflask",
        "accesslog": None,
        "logger_class": ScimGunicornLogger,
        # gunicorn applies the serve logging configuration in the master; workers inherit it.
        "logconfig_dict": logging_config(log_format, quiet),
        "child_exit": _child_exit,
        # gunicorn 25.1+: no control socket at a fixed per-user path, which two servers would share.
        "control_socket_disable": True,
    }


class ScimGunicorn(BaseApplication):
    """gunicorn running the apps `app_factory` builds, one per worker."""

    def __init__(self, app_factory: Callable[[], Flask], settings: dict[str, Any]) -> None:
        self.app_factory = app_factory
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.settings.items():
            if key in self.cfg.settings or key not in NEWER_SETTINGS:
                self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.app_factory()
