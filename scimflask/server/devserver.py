"""werkzeug's development server with SCIM error answers (`scimflask serve --dev`)."""

from __future__ import annotations

from werkzeug.serving import WSGIRequestHandler

from ..protocol.messages import SCIM_JSON
from .errors import error_body


class ScimRequestHandler(WSGIRequestHandler):
    """werkzeug's handler, except that errors it answers itself carry a SCIM body.

    Pass it as `run_simple(..., request_handler=ScimRequestHandler)`.
    """

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        self.log_error("code %d, message %s", code, message)
        if self.request_version == "HTTP/0.9":
            # A request line too broken to name a version leaves http.server's HTTP/0.9
            # default, which would send the body without a status line or headers.
            self.request_version = "HTTP/1.1"
        body = error_body(code)
        self.send_response(code, message)
        self.send_header("Connection", "close")
        if code >= 200 and code not in (204, 304):
            self.send_header("Content-Type", SCIM_JSON)
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)
