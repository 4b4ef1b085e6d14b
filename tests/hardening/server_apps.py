"""Apps and servers wired the way `scimflask serve` should wire them (see scimflask.server).

Started by test_server_limits.py in subprocesses:
`python -m tests.hardening.server_apps PORT` runs werkzeug with `ScimRequestHandler`, and
`gunicorn -k scimflask.server.worker.ScimThreadWorker 'tests.hardening.server_apps:limited_app()'`
runs gunicorn. Both apps read `SCIM_*` from the environment and carry `RequestLimits`.
"""

from __future__ import annotations

import sys

from flask import Flask

from scimflask import create_app
from scimflask.server.devserver import ScimRequestHandler
from scimflask.server.limits import RequestLimits


def limited_app() -> Flask:
    app = create_app()
    app.wsgi_app = RequestLimits(app.wsgi_app, prefix=app.extensions["scim"].config["SCIM_URL_PREFIX"])
    return app


def serve_werkzeug(port: int) -> None:
    from werkzeug.serving import run_simple

    run_simple("127.0.0.1", port, limited_app(), threaded=True, use_reloader=False,
               request_handler=ScimRequestHandler)


if __name__ == "__main__":
    serve_werkzeug(int(sys.argv[1]))
