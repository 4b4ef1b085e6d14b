"""Request ids: the `X-Request-Id` a client or proxy sent when it is sane, otherwise a new one.

One id follows a request through the response header, the access line and the audit line,
so an operator can join what an identity provider reports with what the server logged.
"""

from __future__ import annotations

import itertools
import os
import re
import uuid

from flask import has_request_context, request

HEADER = "X-Request-Id"
# Where the id of the current request is kept in the WSGI environ.
ENVIRON_KEY = "scimflask.request_id"
MAX_LENGTH = 128
# Characters that cannot break a header, a log line or a JSON string.
_SANE = re.compile(r"[A-Za-z0-9._:@+=/-]{1,%d}" % MAX_LENGTH)


# A random prefix per import, then the process id and a counter: unique across the workers of a
# server (each has its own pid) and, by the prefix, across servers, without drawing from the
# operating system's random source on every request (that cost more than the rest of the id).
_PREFIX = uuid.uuid4().hex[:12]
_COUNTER = itertools.count(1)


def new_request_id() -> str:
    return f"{_PREFIX}{os.getpid():x}-{next(_COUNTER):x}"


def accept_or_new(sent: str | None) -> str:
    """`sent` when it is a bounded run of safe characters, else a fresh id."""
    if sent and _SANE.fullmatch(sent):
        return sent
    return new_request_id()


def current_request_id() -> str | None:
    """The id of the request being served, or None outside a request."""
    if not has_request_context():
        return None
    return request.environ.get(ENVIRON_KEY)
