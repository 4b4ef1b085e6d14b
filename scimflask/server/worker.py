"""gunicorn's gthread worker with SCIM error answers for the requests gunicorn refuses itself."""

from __future__ import annotations

import functools
import logging
from typing import Any

from .access_log import log_refusal
from .errors import raw_http_error

log = logging.getLogger("scimflask")

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
        # gunicorn decides the status and logs the error; we replace the page and write the
        # access line (gunicorn's own access log is off under `scimflask serve`).
        super().handle_error(req, captured, addr, exc)  # type: ignore[misc]
        status = captured.status()
        if status is None:
            return
        request_id = log_refusal(status, client=addr[0] if isinstance(addr, tuple) and addr else None,
                                 method=getattr(req, "method", None), target=getattr(req, "uri", None))
        try:
            client.sendall(raw_http_error(status, request_id=request_id))
        except OSError:
            log.debug("could not send the error answer to the client")


@functools.cache
def _thread_worker() -> type:
    from gunicorn.workers.gthread import ThreadWorker

    return type("ScimThreadWorker", (ScimErrorsMixin, ThreadWorker), {
        "__module__": __name__, "__doc__": "gunicorn's gthread worker with SCIM error answers."})


def __getattr__(name: str) -> type:
    # gunicorn is an optional dependency: the worker class is built only when asked for
    # (gunicorn -k scimflask.server.worker.ScimThreadWorker).
    if name == "ScimThreadWorker":
        return _thread_worker()
    raise AttributeError(name)
