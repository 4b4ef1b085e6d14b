"""gunicorn settings for a standalone scimflask server; every value can come from the environment.

    set -a; . examples/standalone/postgresql.env; set +a
    gunicorn -c examples/standalone/gunicorn.conf.py 'scimflask:create_app()'

`scimflask:create_app()` reads every `SCIM_*` variable (storage URL, tokens, limits, proxies).
Each worker builds its own app and connection pool after the fork (no `preload_app`), and all
workers must sign RFC 9865 cursors with one key, so `SCIM_SECRET_KEY` is required here.

These are the settings `scimflask serve` uses itself: the app writes one access line per
request (gunicorn's access log is off), every line goes to stdout as text or JSON, and the
Prometheus metrics of all workers add up in one private multiprocess directory.
"""

import contextlib
import os

from scimflask.ops.metrics import multiprocess_metrics, process_exited
from scimflask.server.logging_config import logging_config

bind = os.environ.get("SCIMFLASK_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("SCIMFLASK_WORKERS", "2"))
# gthread (threads serve several requests per worker while one waits on the database), with
# gunicorn's own refusals (over-long request line or headers) answered as SCIM JSON.
worker_class = "scimflask.server.worker.ScimThreadWorker"
threads = int(os.environ.get("SCIMFLASK_THREADS", "4"))
timeout = 30
graceful_timeout = 10
accesslog = None
logger_class = "scimflask.server.gunicorn_app.ScimGunicornLogger"
logconfig_dict = logging_config(os.environ.get("SCIMFLASK_LOG_FORMAT", "text"),
                                quiet=os.environ.get("SCIMFLASK_QUIET", "").lower() in ("1", "true", "yes", "on"))

_metrics = contextlib.ExitStack()


def on_starting(server):
    if not os.environ.get("SCIM_SECRET_KEY"):
        raise SystemExit("SCIM_SECRET_KEY is not set: every worker must sign cursors with the same key "
                         "(generate one with: python -c 'import secrets; print(secrets.token_hex(32))')")
    # Before any worker imports prometheus_client: it picks multiprocess mode on first import.
    _metrics.enter_context(multiprocess_metrics())


def child_exit(server, worker):
    process_exited(worker.pid)


def on_exit(server):
    _metrics.close()
