"""The SCIM blueprint: routing, authentication and error translation (HTTP concerns only).

Error handlers are blueprint-scoped, so the host app's own error pages stay as they are. The
routing errors Flask raises before a blueprint is chosen (an unknown path or method under the
SCIM prefix) are answered by `install_routing_errors`, which defers to the host's handlers for
every other path.
"""

from __future__ import annotations

import logging
import time
from typing import cast

from flask import Blueprint, Response, current_app, g, request
from flask.sansio.app import App
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from .auth import Principal, authenticate_bearer
from .config import ConfigKeys
from .errors import ScimError, ServiceUnavailable, Unauthorized
from .model import RequestContext, utcnow
from .ops.log_identity import identity_policy
from .ops.provisioning_log import RequestRecord
from .server.access_log import identify
from .server.limits import under
from .server.request_id import ENVIRON_KEY as REQUEST_ID_KEY
from .state import ScimState, current_scim
from .storage.capabilities import CounterSupport
from .storage.errors import StorageUnavailable
from .views.http import ALL_METHODS, error_response, method_not_allowed, scim_route

log = logging.getLogger("scimflask")

# Set on every SCIM response: nothing here is a page to render, cache or refer from.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'",
    "Referrer-Policy": "no-referrer",
}


def _handle_scim_error(error: ScimError) -> Response:
    return error_response(error)


def _handle_storage_unavailable(error: StorageUnavailable) -> Response:
    metrics = current_scim().metrics
    if metrics is not None:
        metrics.storage_errors.inc()
    log.error("storage unavailable: %s", error, exc_info=error.__cause__ or error)
    return error_response(ServiceUnavailable("The storage backend is unavailable; retry later.",
                                             headers={"Retry-After": "5"}))


def _handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    if isinstance(error, MethodNotAllowed):
        return error_response(method_not_allowed(_allowed_here()))
    detail = {404: "No such endpoint.", 413: "Request body too large.",
              414: "Request URI too long; send long filters with POST /.search."}.get(
        status, error.description or error.name)
    scim_type = "invalidSyntax" if status == 400 else None
    return error_response(ScimError(detail, status=status, scim_type=scim_type))


def _allowed_here() -> tuple[str, ...]:
    """The methods the view at this URL accepts (for a method routing knows nothing of)."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    for method in ALL_METHODS:
        try:
            endpoint, _ = adapter.match(method=method)
        except HTTPException:
            continue
        view = current_app.view_functions.get(endpoint)
        return getattr(view, "allowed_methods", ALL_METHODS)
    return ALL_METHODS


def _handle_unexpected(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        return _handle_http_exception(error)
    log.exception("unhandled error in SCIM request %s %s", request.method, request.path)
    return error_response(ScimError("Internal server error.", status=500))


def _authenticate(state: ScimState) -> None:
    found = state.pm.hook.scimflask_authenticate(request=request, config=state.config)
    if found is None:
        found = authenticate_bearer(request.headers.get("Authorization"), state.storage,
                                    state.static_token_hashes, state.config[ConfigKeys.DEFAULT_TENANT])
    if not isinstance(found, Principal):
        raise Unauthorized("Authentication failed.")
    g.scim_principal = found
    identify(request.environ, found.tenant, found.token_id)
    g.scim_context = RequestContext(tenant=found.tenant, base_url=_base_url(state),
                                    token_id=found.token_id)
    state.tenant_status.check(state.storage, found.tenant)
    now = utcnow()
    if state.rate_limit is not None:
        # _rate_limit() only builds a limit for storages with CounterSupport.
        state.rate_limit.check(cast(CounterSupport, state.storage), f"{found.tenant}:{found.token_id}", now)
    state.token_usage.used(state.storage, found.token_id, now)


def _base_url(state: ScimState) -> str:
    """The SCIM base URL of locations, `Location` headers and `$ref`s: SCIM_PUBLIC_BASE_URL when
    set, else the URL this request came in at (as ProxyFix saw it, behind trusted proxies)."""
    prefix = state.config[ConfigKeys.URL_PREFIX]
    public = state.config[ConfigKeys.PUBLIC_BASE_URL]
    if public:
        return public + prefix
    # Built from the parts rather than `request.root_url`, which IRI-decodes the whole URL.
    return f"{request.scheme}://{request.host}{request.script_root}{prefix}"


def _finish(state: ScimState, response: Response) -> Response:
    """Security headers, the provisioning log and metrics, once the status is known."""
    headers = response.headers
    present = {name.lower() for name in headers.keys()}
    headers.extend([(name, value) for name, value in SECURITY_HEADERS.items() if name.lower() not in present])
    context = g.get("scim_context")
    prefix = state.config[ConfigKeys.URL_PREFIX]
    path = request.path[len(prefix):] or "/"
    if context is not None and state.log.wants(request.method, path):
        state.log.record(_request_record(state, context, path, response))
    if state.metrics is not None:
        state.metrics.finish(response)
    return response


def _started() -> None:
    """When the request began: its duration goes to the provisioning log and the metrics."""
    g.scim_started = time.perf_counter()


def _request_record(state: ScimState, context: RequestContext, path: str, response: Response) -> RequestRecord:
    """What the provisioning log needs of a finished request: the SCIM error of a failure
    (scimType and detail), of a failed write its body, read only for the target's identity, and
    of a Bulk request its failed operations. Only a snapshot: the log builds entries later."""
    # Every request pays for this: the context-local proxies are resolved once, not per
    # attribute, and the request id and User-Agent are read from the WSGI environ directly.
    req, scope = request._get_current_object(), g._get_current_object()  # type: ignore[attr-defined]
    environ = req.environ
    failed = response.status_code >= 400
    error = response.get_json(silent=True) if failed else None
    error = error if isinstance(error, dict) else {}
    started = scope.get("scim_started")
    return RequestRecord(
        context=context, method=req.method, path=path, status=response.status_code,
        error_type=_text(error.get("scimType")), error_detail=_text(error.get("detail")),
        events=list(scope.get("scim_log_events", ())), request_id=environ.get(REQUEST_ID_KEY),
        duration_ms=None if started is None else round((time.perf_counter() - started) * 1000),
        user_agent=environ.get("HTTP_USER_AGENT"), body=scope.get("scim_body") if failed else None,
        identities=identity_policy(state.config), failures=scope.get("scim_bulk_failures", []))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def make_blueprint(state: ScimState) -> Blueprint:
    """A blueprint serving every resource type in `state.catalog` plus discovery, Bulk, /Me."""
    from .views import bulk, discovery, me, openapi, resources, search

    bp = Blueprint("scim", __name__)
    bp.register_error_handler(ScimError, _handle_scim_error)
    bp.register_error_handler(StorageUnavailable, _handle_storage_unavailable)
    bp.register_error_handler(HTTPException, _handle_http_exception)
    bp.register_error_handler(Exception, _handle_unexpected)
    bp.before_request(_started)
    bp.before_request(lambda: _authenticate(state))
    bp.after_request(lambda response: _finish(state, response))

    resources.register(bp, state)
    search.register(bp, state)
    discovery.register(bp, state)
    bulk.register(bp, state)
    me.register(bp, state)
    openapi.register(bp, state)

    @scim_route(bp, "/<path:unknown>", ALL_METHODS)
    def unknown_endpoint(unknown: str):
        raise ScimError(f"no SCIM endpoint at /{unknown[:200]}", status=404)

    bp.record_once(lambda setup: install_routing_errors(setup.app, state.config[ConfigKeys.URL_PREFIX]))
    return bp


def install_routing_errors(app: App, prefix: str) -> None:
    """Answer 404/405 raised by routing under `prefix` as SCIM errors; defer elsewhere."""
    for exc_class in (NotFound, MethodNotAllowed):
        code = exc_class.code
        previous = app.error_handler_spec.get(None, {}).get(code, {}).get(exc_class)

        def handler(error: HTTPException, previous=previous):
            if under(request.path, prefix):
                response = _handle_http_exception(error)
                response.headers.update(SECURITY_HEADERS)
                return response
            if previous is not None:
                return previous(error)
            return error

        app.register_error_handler(exc_class, handler)
