"""The console blueprint: its routes, and what every request goes through.

Each request is first admitted (`Guard.admit`): the host's hook or a signed-in session, else
the sign-in page; every POST must carry the session's CSRF token. Each response then gets the
session cookie when it changed and the security headers: a CSP that allows scripts and styles
from the console's own static files only, no framing, no caching, no referrer.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, g, request, url_for
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from ...state import ScimState
from ...storage.errors import StorageUnavailable
from ..admin.service import AdminError
from .gate import Gate, Visitor
from .log_views import LogViews
from .rendering import TEMPLATE_HELPERS, page, see_other
from .revocation import Revocations
from .session import COOKIE_NAME, SessionCodec
from .signin import SignInViews
from .tenant_views import TenantViews
from .throttle import SignInThrottle

log = logging.getLogger("scimflask")
NAME = "scim_console"
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
# Reachable without being admitted.
PUBLIC_ENDPOINTS = {f"{NAME}.static", f"{NAME}.sign_in_form", f"{NAME}.sign_in"}
# Answered to scripts (the live tail): a 401 instead of a redirect to the sign-in page, and
# the session cookie is left alone.
FRAGMENT_ENDPOINTS = {f"{NAME}.static", f"{NAME}.log_rows"}
# Admitted without asking the storage whether the session was signed out.
UNCHECKED_ENDPOINTS = {f"{NAME}.static", f"{NAME}.sign_out"}


def make_console_blueprint(state: ScimState) -> Blueprint:
    """The console over `state`'s admin service; mount it at SCIM_ADMIN_URL_PREFIX + "/console"."""
    codec = SessionCodec(state.config)
    gate = Gate(codec, state.config, state.pm, Revocations(state.storage, codec.lifetime))
    bp = Blueprint(NAME, __name__, template_folder="templates", static_folder="static",
                   static_url_path="/static")
    guard = Guard(gate, codec)
    bp.before_request(guard.admit)
    bp.after_request(guard.finish)
    bp.context_processor(lambda: {**TEMPLATE_HELPERS, "visitor": g.get("console_visitor")})
    bp.register_error_handler(AdminError, _admin_error)
    bp.register_error_handler(StorageUnavailable, _unavailable)
    bp.register_error_handler(HTTPException, _http_error)
    bp.register_error_handler(Exception, _unexpected)
    _routes(bp, state, gate)
    return bp


def _routes(bp: Blueprint, state: ScimState, gate: Gate) -> None:
    signin = SignInViews(gate, SignInThrottle(counters=state.storage))
    tenants = TenantViews(state)
    logs = LogViews(state)
    routes = [
        ("/", "index", lambda: see_other(".tenants"), "GET"),
        ("/sign-in", "sign_in_form", signin.form, "GET"),
        ("/sign-in", "sign_in", signin.sign_in, "POST"),
        ("/sign-out", "sign_out", signin.sign_out, "POST"),
        ("/tenants", "tenants", tenants.tenants, "GET"),
        ("/tenants", "enable_scim", tenants.enable_scim, "POST"),
        ("/tenants/<tenant>", "tenant", tenants.tenant, "GET"),
        ("/tenants/<tenant>/tokens", "issue", tenants.issue, "POST"),
        ("/tenants/<tenant>/<any(disable, enable, delete, rotate):action>", "confirm", tenants.confirm, "GET"),
        ("/tenants/<tenant>/disable", "disable", tenants.disable, "POST"),
        ("/tenants/<tenant>/enable", "enable", tenants.enable, "POST"),
        ("/tenants/<tenant>/delete", "delete", tenants.delete, "POST"),
        ("/tenants/<tenant>/rotate", "rotate", tenants.rotate, "POST"),
        ("/tenants/<tenant>/tokens/<token_id>/revoke", "confirm_revoke", tenants.confirm_revoke, "GET"),
        ("/tenants/<tenant>/tokens/<token_id>/revoke", "revoke", tenants.revoke, "POST"),
        ("/tenants/<tenant>/log", "log", logs.log, "GET"),
        ("/tenants/<tenant>/log/rows", "log_rows", logs.rows, "GET"),
        ("/tenants/<tenant>/log.<any(csv, json):suffix>", "log_export", logs.export, "GET"),
        ("/tenants/<tenant>/log/<entry_id>", "entry", logs.entry, "GET"),
        ("/tenants/<tenant>/activity", "activity", logs.activity, "GET"),
    ]
    for rule, endpoint, view, method in routes:
        bp.add_url_rule(rule, endpoint, view, methods=[method])
    bp.add_url_rule("/<path:unknown>", "unknown", _unknown, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])


class Guard:
    """Admits each request and finishes each response (cookie and headers)."""

    def __init__(self, gate: Gate, codec: SessionCodec) -> None:
        self.gate = gate
        self.codec = codec

    def admit(self) -> Response | None:
        static = request.endpoint == f"{NAME}.static"
        # Static files show nothing, and signing out a signed-out session again is harmless
        # (and must work while the storage is down): neither asks the storage.
        visitor = self.gate.visitor(request, check_revoked=request.endpoint not in UNCHECKED_ENDPOINTS)
        g.console_visitor = visitor
        if static:
            return None
        if visitor.refused_by_host:
            return page("error.html", 403, title="Not allowed",
                        message="The host application does not allow you to use the console.")
        if not visitor.admitted and request.endpoint not in PUBLIC_ENDPOINTS:
            if request.endpoint in FRAGMENT_ENDPOINTS:
                return Response("sign in again", 401, mimetype="text/plain")
            return see_other(".sign_in_form")
        if request.method == "POST" and not self.gate.csrf_valid(visitor.session, request.form.get("csrf_token")):
            return page("error.html", 403, title="Form expired",
                        message="This form was not sent from the console page you opened (its CSRF token is "
                                "missing or out of date). Go back, reload the page and try again.")
        return None

    def finish(self, response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        visitor: Visitor | None = g.get("console_visitor")
        replaced = g.get("console_new_session")
        session = replaced or (visitor.session if visitor is not None and visitor.fresh else None)
        if session is not None and request.endpoint not in FRAGMENT_ENDPOINTS:
            response.set_cookie(COOKIE_NAME, self.codec.dumps(session), max_age=self.codec.lifetime,
                                path=_cookie_path(), secure=request.is_secure,
                                httponly=True, samesite="Strict")
            response.vary.add("Cookie")
        return response


def _cookie_path() -> str:
    """The console's own path: the cookie is not sent to the rest of the host app."""
    return url_for(f"{NAME}.index")


def _unknown(unknown: str):
    """404 for paths the console does not have; 405 for a console action asked with GET."""
    adapter = current_app.create_url_adapter(request)
    for method in ("GET", "POST"):
        try:
            endpoint, _ = adapter.match(method=method)  # type: ignore[union-attr]
        except (NotFound, MethodNotAllowed, RequestRedirect):
            continue
        if endpoint != f"{NAME}.unknown" and method != request.method:
            raise MethodNotAllowed(valid_methods=[method])
    raise NotFound("The console has no such page.")


def _admin_error(error: AdminError):
    return page("error.html", error.status, title="Cannot do that", message=error.detail)


def _unavailable(error: StorageUnavailable):
    log.error("console: storage unavailable: %s", error)
    return page("error.html", 503, title="Storage unavailable",
                message="The storage backend is unavailable; try again later.")


def _http_error(error: HTTPException):
    response = page("error.html", error.code or 500, title=error.name, message=error.description)
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def _unexpected(error: Exception):
    if isinstance(error, HTTPException):
        return _http_error(error)
    log.exception("console: unhandled error in %s %s", request.method, request.path)
    return page("error.html", 500, title="Internal error", message="Something went wrong; the server log says what.")
