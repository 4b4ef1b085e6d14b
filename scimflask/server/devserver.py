"""werkzeug's development server with SCIM error answers (`scimflask serve --dev`, and the
fallback where gunicorn cannot run)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flask import Flask
from werkzeug.serving import WSGIRequestHandler, is_running_from_reloader, run_simple

from ..protocol.messages import SCIM_JSON
from .access_log import log_refusal
from .errors import error_body
from .request_id import HEADER


class ScimRequestHandler(WSGIRequestHandler):
    """werkzeug's handler, except that errors it answers itself carry a SCIM body, and that it
    writes no access lines of its own (the app writes them, see scimflask.server.access_log).

    Pass it as `run_simple(..., request_handler=ScimRequestHandler)`.
    """

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        self.log_error("code %d, message %s", code, message)
        if self.request_version == "HTTP/0.9":
            # A request line too broken to name a version leaves http.server's HTTP/0.9
            # default, which would send the body without a status line or headers.
            self.request_version = "HTTP/1.1"
        request_id = log_refusal(code, client=self.client_address[0] if self.client_address else None,
                                 method=getattr(self, "command", None), target=getattr(self, "path", None))
        body = error_body(code)
        self.send_response(code, message)
        self.send_header("Connection", "close")
        self.send_header(HEADER, request_id)
        if code >= 200 and code not in (204, 304):
            self.send_header("Content-Type", SCIM_JSON)
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)


def serves_here(reload: bool) -> bool:
    """False in the reloader's watcher process, which only restarts the process that serves."""
    return not reload or is_running_from_reloader()


def _watcher_placeholder(environ: dict, start_response: Callable) -> Iterable[bytes]:
    raise RuntimeError("the reloader's watcher process serves no requests")


def serve_werkzeug(app: Flask | None, host: str, port: int, *, reload: bool) -> None:
    """Run werkzeug's server; with `reload`, restart on code changes. `app` is None in the
    watcher process (see `serves_here`)."""
    run_simple(host, port, app or _watcher_placeholder, threaded=True, use_reloader=reload,
               request_handler=ScimRequestHandler)
