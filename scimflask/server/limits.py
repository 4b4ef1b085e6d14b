"""A WSGI middleware refusing over-long request targets (414) and headers (431) as SCIM errors.

Its limits sit below gunicorn's own ceilings, so in the normal case the app refuses first and
the client gets a body it can parse (see `scimflask.server.errors`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from urllib.parse import quote

from ..protocol.messages import SCIM_JSON
from .errors import REASONS, error_body

# Below gunicorn's hard ceiling of 8190 bytes for the whole request line ("GET <target> HTTP/1.1").
MAX_URI_LENGTH = 8000
# Below gunicorn's ceiling of 8190 bytes per header field.
MAX_HEADER_FIELD_LENGTH = 8000
MAX_HEADER_BYTES = 64 * 1024


def under(path: str, prefix: str) -> bool:
    """True when `path` is `prefix` or below it (every path is below the empty prefix)."""
    return not prefix or path == prefix or path.startswith(prefix + "/")


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
        refused = self.refusal(environ) if under(environ.get("PATH_INFO", ""), self.prefix) else None
        if refused is None:
            return self.app(environ, start_response)
        status, detail = refused
        body = error_body(status, detail)
        start_response(f"{status} {REASONS[status]}", [
            ("Content-Type", SCIM_JSON), ("Content-Length", str(len(body))), ("Connection", "close")])
        return [body]
