"""SCIM error answers for requests refused outside Flask: by the WSGI middleware or the HTTP server.

Three layers can refuse a request before a view runs, and each must answer with an RFC 7644
§3.12 body, never an HTML page a SCIM client cannot parse:

- `limits.RequestLimits`, a WSGI middleware with limits *below* the servers' own, so that in
  the normal case the app refuses first: 414 for a long request target (a long filter belongs in
  `POST /.search`), 431 for a long header field or too many header bytes.
- werkzeug's development server, built on `http.server`: it refuses request lines over 64 KiB
  (414), header lines over 64 KiB or more than 100 headers (431) and bad request lines (400)
  itself. `devserver.ScimRequestHandler` makes those answers SCIM JSON.
- gunicorn: request lines over `limit_request_line` (at most 8190 bytes), header fields over
  `limit_request_field_size` (at most 8190), more than `limit_request_fields` headers, and
  malformed requests. `worker.ScimThreadWorker` keeps gunicorn's choice of status and writes a
  SCIM body instead of gunicorn's HTML.
"""

from __future__ import annotations

import json

from ..errors import ScimError
from ..protocol.messages import SCIM_JSON
from .request_id import HEADER

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


def raw_http_error(status: int, detail: str | None = None, *, request_id: str | None = None) -> bytes:
    """A complete HTTP/1.1 response (connection closing) carrying a SCIM error."""
    body = error_body(status, detail)
    request_id_line = f"{HEADER}: {request_id}\r\n" if request_id else ""
    head = (f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n"
            f"Connection: close\r\nContent-Type: {SCIM_JSON}\r\nContent-Length: {len(body)}\r\n"
            f"{request_id_line}\r\n")
    return head.encode("latin-1") + body
