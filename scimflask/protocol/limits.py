"""Over-long URLs and headers answered as SCIM errors, whichever layer refuses them.

Three layers can refuse a request before a view runs, and each must answer with an RFC 7644
§3.12 body (the issue's rule: never an HTML page a SCIM client cannot parse):

- `RequestLimits`, a WSGI middleware with limits *below* the servers' own, so that in the
  normal case the app refuses first: 414 for a long request target (a long filter belongs in
  `POST /.search`), 431 for a long header field or too many header bytes.
- werkzeug's development server (`scimflask serve`), built on `http.server`: it refuses request
  lines over 64 KiB (414), header lines over 64 KiB or more than 100 headers (431) and bad
  request lines (400) itself. `ScimRequestHandler` makes those answers SCIM JSON.
- gunicorn: request lines over `limit_request_line` (at most 8190 bytes), header fields over
  `limit_request_field_size` (at most 8190), more than `limit_request_fields` headers, and
  malformed requests. `ScimThreadWorker` keeps gunicorn's choice of status and writes a SCIM
  body instead of gunicorn's HTML.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

from werkzeug.serving import WSGIRequestHandler

from ..errors import ScimError
from .media import SCIM_JSON

log = logging.getLogger("scimflask")

# Below gunicorn's hard ceiling of 8190 bytes for the whole request line ("GET <target> HTTP/1.1").
MAX_URI_LENGTH = 8000
# Below gunicorn's ceiling of 8190 bytes per header field.
MAX_HEADER_FIELD_LENGTH = 8000
MAX_HEADER_BYTES = 64 * 1024

REASONS = {400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
           413: "Payload Too Large", 414: "URI Too Long", 417: "Expectation Failed",
           431: "Request Header Fields Too Large", 500: "Internal Server Error",
           501: "Not Implemented", 505: "HTTP Version Not Supported"}
DETAILS = {
    400: "Malformed HTTP request.",
    414: "Request URI too long; send long filters with POST /.search.",
    431: "Request header fields too large.",
    500: "Internal server error.",
    501: "The server does not support this request.",
    505: "HTTP version not supported.",
}


def error_body(status: int, detail: str | None = None) -> bytes:
    """The SCIM Error JSON for a refusal made outside Flask."""
    scim_type = "invalidSyntax" if status == 400 else None
    error = ScimError(detail or DETAILS.get(status) or REASONS.get(status, "Error"),
                      status=status, scim_type=scim_type)
    return json.dumps(error.to_dict(), separators=(",", ":")).encode("utf-8")


def raw_http_error(status: int, detail: str | None = None) -> bytes:
    """A complete HTTP/1.1 response (connection closing) carrying a SCIM error."""
    body = error_body(status, detail)
    head = (f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n"
            f"Connection: close\r\nContent-Type: {SCIM_JSON}\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


# -- in the app: the WSGI middleware ---------------------------------------------------------

def request_target(environ: dict) -> str:
    """The request target as the client sent it (as close as WSGI lets us know it)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        return raw
    path = quote(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""), safe="/;=,:@!$&'()*+")
    query = environ.get("QUERY_STRING", "")
    return f"{path}?{query}" if query else path


class RequestLimits:
    """WSGI middleware refusing over-long request targets (414) and headers (431) under
    `prefix` with SCIM errors; other paths of a host app pass through untouched."""

    def __init__(self, app: Callable, *, prefix: str = "", max_uri_length: int = MAX_URI_LENGTH,
                 max_header_field_length: int = MAX_HEADER_FIELD_LENGTH,
                 max_header_bytes: int = MAX_HEADER_BYTES) -> None:
        self.app = app
        self.prefix = prefix
        self.max_uri_length = max_uri_length
        self.max_header_field_length = max_header_field_length
        self.max_header_bytes = max_header_bytes

    def _covers(self, environ: dict) -> bool:
        path = environ.get("PATH_INFO", "")
        return not self.prefix or path == self.prefix or path.startswith(self.prefix + "/")

    def refusal(self, environ: dict) -> tuple[int, str] | None:
        """(status, detail) when the request is over a limit, else None."""
        if len(request_target(environ)) > self.max_uri_length:
            return 414, (f"Request URI longer than {self.max_uri_length} characters; "
                         "send long filters with POST /.search.")
        total = 0
        for key, value in environ.items():
            if not (key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH")):
                continue
            field = len(key) + 2 + len(str(value))
            if field > self.max_header_field_length:
                name = key[5:] if key.startswith("HTTP_") else key
                return 431, (f"Header {name.replace('_', '-').title()} is longer than "
                             f"{self.max_header_field_length} bytes.")
            total += field
        if total > self.max_header_bytes:
            return 431, f"Request headers exceed {self.max_header_bytes} bytes in total."
        return None

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        refused = self.refusal(environ) if self._covers(environ) else None
        if refused is None:
            return self.app(environ, start_response)
        status, detail = refused
        body = error_body(status, detail)
        start_response(f"{status} {REASONS[status]}", [
            ("Content-Type", SCIM_JSON), ("Content-Length", str(len(body))), ("Connection", "close")])
        return [body]


# -- under `scimflask serve`: werkzeug's request handler --------------------------------------

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


# -- under gunicorn: the worker class ---------------------------------------------------------

class _CapturedError:
    """Stands in for the client socket while gunicorn writes its HTML error page."""

    def __init__(self) -> None:
        self.data = b""

    def gettimeout(self) -> float:
        return 0.0

    def sendall(self, data: bytes) -> None:
        self.data += data

    def status(self) -> int | None:
        parts = self.data.split(b"\r\n", 1)[0].split(b" ", 2)
        return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None


class ScimErrorsMixin:
    """Mix into a gunicorn worker class: its own error answers become SCIM JSON."""

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        captured = _CapturedError()
        # gunicorn decides the status, logs and writes the access log; we only replace the page.
        super().handle_error(req, captured, addr, exc)  # type: ignore[misc]
        status = captured.status()
        if status is None:
            return
        try:
            client.sendall(raw_http_error(status))
        except OSError:
            log.debug("could not send the error answer to the client")


@functools.cache
def _thread_worker() -> type:
    from gunicorn.workers.gthread import ThreadWorker

    return type("ScimThreadWorker", (ScimErrorsMixin, ThreadWorker), {
        "__module__": __name__, "__doc__": "gunicorn's gthread worker with SCIM error answers."})


def __getattr__(name: str) -> type:
    # gunicorn is an optional dependency: the worker class is built only when asked for
    # (gunicorn -k scimflask.protocol.limits.ScimThreadWorker).
    if name == "ScimThreadWorker":
        return _thread_worker()
    raise AttributeError(name)
