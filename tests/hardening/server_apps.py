"""Apps and servers wired the way `scimflask serve` wires them (see scimflask.server).

Started by test_server_limits.py in subprocesses:
`python -m tests.hardening.server_apps PORT` runs werkzeug with `ScimRequestHandler`, and
`gunicorn -k scimflask.server.worker.ScimThreadWorker 'tests.hardening.server_apps:limited_app()'`
runs gunicorn. Both apps read `SCIM_*` from the environment; `create_app` mounts `RequestLimits`
(and the request ids outside it) itself.
"""

from __future__ import annotations

import sys

from flask import Flask

from scimflask import create_app
from scimflask.server.devserver import serve_werkzeug
from scimflask.server.limits import RequestLimits


def limited_app() -> Flask:
    app = create_app()
    assert any(isinstance(layer, RequestLimits) for layer in _layers(app.wsgi_app)), "create_app mounts the limits"
    return app


def _layers(wsgi_app):
    while wsgi_app is not None:
        yield wsgi_app
        wsgi_app = getattr(wsgi_app, "app", None)


if __name__ == "__main__":
    serve_werkzeug(limited_app(), "127.0.0.1", int(sys.argv[1]), reload=False)
