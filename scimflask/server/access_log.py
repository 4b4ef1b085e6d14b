"""One access line per request on the `scimflask.access` logger, with the request's id.

The lines are written by the app itself (a WSGI middleware mounted with the SCIM endpoints),
so they look the same under gunicorn, werkzeug's server or any other WSGI server; the servers'
own access logs are switched off by `scimflask serve`. A line names the request id, method,
target, status, duration, tenant, token id and client address. It never holds a secret: no
header is printed (so no Authorization), and the values of token-like query parameters are
replaced with `[redacted]`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from urllib.parse import unquote_plus

from .limits import request_target, under
from .request_id import ENVIRON_KEY, HEADER, accept_or_new

access = logging.getLogger("scimflask.access")

# Where authentication leaves (tenant, token id) for the access line.
IDENTITY_KEY = "scimflask.identity"
# Longest request target written in full; longer ones are cut (their requests are refused anyway).
MAX_LOGGED_TARGET = 2048
REDACTED = "[redacted]"
_SECRET_PARAMETER = re.compile(r"token|secret|passw|pwd|api[-_]?key|auth|credential|signature", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def identify(environ: dict, tenant: str, token_id: str | None) -> None:
    """Name the tenant and token of an authenticated request in its access line."""
    environ[IDENTITY_KEY] = (tenant, token_id)


def scrub_query(query: str) -> str:
    """The query string as sent, except the values of token-like parameters."""
    parts = []
    for part in query.split("&"):
        name, equals, _ = part.partition("=")
        parts.append(f"{name}={REDACTED}" if equals and _SECRET_PARAMETER.search(unquote_plus(name)) else part)
    return "&".join(parts)


def loggable_target(target: str) -> str:
    """A request target fit for one log line: secrets redacted, control characters escaped, bounded."""
    path, question, query = target.partition("?")
    text = path + question + scrub_query(query) if question else path
    text = _CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", text)
    return text if len(text) <= MAX_LOGGED_TARGET else text[:MAX_LOGGED_TARGET] + "..."


def write_line(request_id: str, *, client: str | None, method: str | None, target: str | None,
               status: int | str, seconds: float | None, tenant: str | None = None,
               token_id: str | None = None) -> None:
    """Log one access line (the message for text logs, `fields` for JSON logs)."""
    status_code = int(status) if str(status).isdigit() else None
    duration_ms = round(seconds * 1000, 1) if seconds is not None else None
    fields = {"requestId": request_id, "method": method, "path": target, "status": status_code,
              "durationMs": duration_ms, "tenant": tenant, "tokenId": token_id, "client": client}
    duration = f"{duration_ms}ms" if duration_ms is not None else "-"
    access.info("%s %s %s %s %s tenant=%s token=%s client=%s", request_id, method or "-", target or "-",
                status, duration, tenant or "-", token_id or "-", client or "-", extra={"fields": fields})


def log_refusal(status: int, *, client: str | None, method: str | None = None,
                target: str | None = None) -> str:
    """The access line of a request the HTTP server refused before the app saw it; its new id."""
    request_id = accept_or_new(None)
    if access.isEnabledFor(logging.INFO):
        write_line(request_id, client=client, method=method,
                   target=loggable_target(target) if target else None, status=status, seconds=None)
    return request_id


class AccessLog:
    """WSGI middleware: each request under one of `prefixes` (every request when None) gets a
    request id, an `X-Request-Id` response header and, once its body is handed to the server,
    an access line."""

    def __init__(self, app: Callable, *, prefixes: tuple[str, ...] | None = None) -> None:
        self.app = app
        self.prefixes = prefixes

    def covers(self, environ: dict) -> bool:
        if self.prefixes is None:
            return True
        path = environ.get("PATH_INFO", "")
        return any(under(path, prefix) for prefix in self.prefixes)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if not self.covers(environ):
            return self.app(environ, start_response)
        request_id = accept_or_new(environ.get("HTTP_X_REQUEST_ID"))
        environ[ENVIRON_KEY] = request_id
        started = time.perf_counter()
        status = ["500"]  # what the line says when the app raises before starting a response

        def start(status_line: str, headers: list, exc_info=None):
            status[0] = status_line.split(" ", 1)[0]
            headers = [(name, value) for name, value in headers if name.lower() != HEADER.lower()]
            headers.append((HEADER, request_id))
            return start_response(status_line, headers, exc_info)

        def finished() -> None:
            tenant, token_id = environ.get(IDENTITY_KEY, (None, None))
            write_line(request_id, client=environ.get("REMOTE_ADDR"), method=environ.get("REQUEST_METHOD"),
                       target=loggable_target(request_target(environ)), status=status[0],
                       seconds=time.perf_counter() - started, tenant=tenant, token_id=token_id)

        if not access.isEnabledFor(logging.INFO):  # no line to write: only the header is owed
            return self.app(environ, start)
        try:
            body = self.app(environ, start)
        except BaseException:
            finished()
            raise
        return _Finished(body, finished)


class _Finished:
    """A response body that calls `done` once: when the server has taken its last chunk, or
    closes it early."""

    def __init__(self, body: Iterable[bytes], done: Callable[[], None]) -> None:
        self._body = body
        self._chunks: Iterator[bytes] = iter(body)
        self._done: Callable[[], None] | None = done

    def __iter__(self) -> _Finished:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._chunks)
        except StopIteration:
            self._finish()
            raise

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._finish()

    def _finish(self) -> None:
        done, self._done = self._done, None
        if done is not None:
            done()
