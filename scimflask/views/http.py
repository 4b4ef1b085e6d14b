"""Small HTTP helpers every view shares: SCIM JSON responses and the request's context."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, g, request

from ..errors import InvalidSyntax, PayloadTooLarge, ScimError
from ..model import RequestContext
from ..protocol.media import check_media_type, parse_json
from ..protocol.messages import SCIM_JSON

ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def scim_response(body: Any = None, status: int = 200, headers: dict | None = None) -> Response:
    """`body` as application/scim+json (or an empty response when None)."""
    if body is None:
        return Response(status=status, headers=headers)
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(payload, status=status, headers=headers, content_type=SCIM_JSON)  # as is: no charset lookup


def json_body(max_bytes: int) -> object:
    """The current request's body as JSON; reads at most `max_bytes` + 1 bytes (413 beyond)."""
    check_media_type(request.mimetype)
    length = request.content_length
    if length is not None and length > max_bytes:
        raise PayloadTooLarge(f"request body exceeds {max_bytes} bytes")
    raw = request.stream.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"request body exceeds {max_bytes} bytes")
    body = parse_json(raw)
    # Kept for the request only: the provisioning log names a failed write's target from it.
    g.scim_body = body
    return body


def json_object(max_bytes: int) -> dict:
    """The current request's body, which must be a JSON object."""
    body = json_body(max_bytes)
    if not isinstance(body, dict):
        raise InvalidSyntax("request body must be a JSON object")
    return body


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


def scim_route(bp: Blueprint, rule: str, allowed: tuple[str, ...], view: Callable | None = None,
               **options: Any):
    """Register `view` for `rule` under every method, answering the ones not in `allowed` with a
    SCIM 405 (RFC 7644 §3.12) instead of Flask's HTML one. Usable as a decorator.

    `allowed_methods` is kept on the view so routing-level 405s (a method Flask was never told
    about) can name the right `Allow` header too.
    """
    def register(view: Callable) -> Callable:
        accepted = set(allowed) | ({"HEAD"} if "GET" in allowed else set())

        @functools.wraps(view)
        def guarded(**kwargs):
            if request.method not in accepted:
                raise method_not_allowed(allowed)
            return view(**kwargs)

        guarded.allowed_methods = allowed  # type: ignore[attr-defined]
        bp.add_url_rule(rule, view_func=guarded, methods=ALL_METHODS, provide_automatic_options=False,
                        **options)
        return guarded

    return register if view is None else register(view)
