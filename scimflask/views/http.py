"""Small HTTP helpers every view shares: SCIM JSON responses and the request's context."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, g, request

from ..errors import ScimError
from ..model import RequestContext
from ..protocol.media import SCIM_JSON

ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def scim_response(body: Any = None, status: int = 200, headers: dict | None = None) -> Response:
    """`body` as application/scim+json (or an empty response when None)."""
    if body is None:
        return Response(status=status, headers=headers)
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(payload, status=status, headers=headers, mimetype=SCIM_JSON)


def error_response(error: ScimError) -> Response:
    return scim_response(error.to_dict(), error.status, error.headers)


def method_not_allowed(allowed: tuple[str, ...]) -> ScimError:
    return ScimError(f"method {request.method} is not supported here; allowed: {', '.join(allowed)}",
                     status=405, headers={"Allow": ", ".join(allowed)})


def request_context() -> RequestContext:
    """The current request's context, set by authentication."""
    return g.scim_context


def principal():
    """The authenticated `scimflask.auth.Principal` of the current request."""
    return g.scim_principal
