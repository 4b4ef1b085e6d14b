"""gunicorn settings for a standalone scimflask server; every value can come from the environment.

    set -a; . examples/standalone/postgresql.env; set +a
    gunicorn -c examples/standalone/gunicorn.conf.py 'scimflask:create_app()'

`scimflask:create_app()` reads every `SCIM_*` variable (storage URL, tokens, limits). Each
worker builds its own app and connection pool after the fork (no `preload_app`), and all
workers must sign RFC 9865 cursors with one key, so `SCIM_SECRET_KEY` is required here.
"""

import os

bind = os.environ.get("SCIMFLASK_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("SCIMFLASK_WORKERS", "2"))
# Threads serve several requests per worker while one waits on the database.
worker_class = "gthread"
threads = int(os.environ.get("SCIMFLASK_THREADS", "4"))
timeout = 30
graceful_timeout = 10
accesslog = os.environ.get("SCIMFLASK_ACCESS_LOG", "-")


def on_starting(server):
    if not os.environ.get("SCIM_SECRET_KEY"):
        raise SystemExit("SCIM_SECRET_KEY is not set: every worker must sign cursors with the same key "
                         "(generate one with: python -c 'import secrets; print(secrets.token_hex(32))')")
