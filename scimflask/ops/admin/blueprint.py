"""The admin API: tenants, tokens and the provisioning log over HTTP, as JSON.

It is a blueprint of its own (prefix `SCIM_ADMIN_URL_PREFIX`) with its own credentials, so the
SCIM tokens an identity provider holds can never reach it. It exists only when
`SCIM_ADMIN_TOKENS` is set or a plugin implements `scimflask_authorize_admin`. Errors are
`{"status": …, "detail": …}`; nothing internal ever reaches the client.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterable

import pluggy
from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from ...auth import bearer_secret, hash_secret
from ...errors import ScimError
from ...storage.errors import StorageUnavailable
from .service import AdminError, AdminService

log = logging.getLogger("scimflask")
ADMIN_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'",
    "Referrer-Policy": "no-referrer",
}


def admin_enabled(config, pm: pluggy.PluginManager) -> bool:
    return bool(config["SCIM_ADMIN_TOKENS"]) or bool(pm.hook.scimflask_authorize_admin.get_hookimpls())


def _static_token_matches(header: str | None, tokens: Iterable[str]) -> bool:
    """Compare against every configured token in constant time (no early exit)."""
    try:
        digest = hash_secret(bearer_secret(header))
    except ScimError:
        return False
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(digest, hash_secret(token))
    return matched


def _error(status: int, detail: str) -> tuple[Response, int]:
    return jsonify(status=status, detail=detail), status


def make_admin_blueprint(service: AdminService, config, pm: pluggy.PluginManager) -> Blueprint:
    bp = Blueprint("scim_admin", __name__)
    tokens = config["SCIM_ADMIN_TOKENS"]

    def public_base_url() -> str:
        return config["SCIM_PUBLIC_BASE_URL"] or request.host_url

    @bp.before_request
    def authorize():
        verdict = pm.hook.scimflask_authorize_admin(request=request, config=config)
        if verdict is None:
            verdict = _static_token_matches(request.headers.get("Authorization"), tokens)
        if not verdict:
            response, status = _error(401, "Admin credentials required: 'Authorization: Bearer <admin token>'.")
            response.headers["WWW-Authenticate"] = 'Bearer realm="scimflask-admin"'
            return response, status
        return None

    @bp.after_request
    def headers(response: Response) -> Response:
        for name, value in ADMIN_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @bp.errorhandler(AdminError)
    def admin_error(error: AdminError):
        return _error(error.status, error.detail)

    @bp.errorhandler(StorageUnavailable)
    def unavailable(error: StorageUnavailable):
        log.error("admin API: storage unavailable: %s", error)
        return _error(503, "The storage backend is unavailable; retry later.")

    @bp.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        return _error(error.code or 500, error.description or error.name)

    @bp.errorhandler(Exception)
    def unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return http_error(error)
        log.exception("admin API: unhandled error in %s %s", request.method, request.path)
        return _error(500, "Internal server error.")

    @bp.get("/tenants")
    def list_tenants():
        return jsonify(tenants=service.list_tenants())

    @bp.put("/tenants/<tenant>/scim")
    def enable_scim(tenant: str):
        issued = service.enable_scim(tenant, public_base_url())
        return jsonify(issued.to_dict()), 201 if issued.tenant_created else 200

    @bp.post("/tenants/<tenant>/disable")
    def disable(tenant: str):
        return jsonify(service.set_disabled(tenant, True))

    @bp.post("/tenants/<tenant>/enable")
    def enable(tenant: str):
        return jsonify(service.set_disabled(tenant, False))

    @bp.delete("/tenants/<tenant>")
    def delete_tenant(tenant: str):
        if not service.delete_tenant(tenant):
            raise AdminError(f"no tenant {tenant!r}", 404)
        return Response(status=204)

    @bp.get("/tenants/<tenant>/tokens")
    def list_tokens(tenant: str):
        return jsonify(tokens=service.list_tokens(tenant))

    @bp.post("/tenants/<tenant>/tokens/rotate")
    def rotate(tenant: str):
        issued, deadline = service.rotate(tenant, public_base_url())
        body = issued.to_dict()
        body["previousTokensExpire"] = deadline.isoformat().replace("+00:00", "Z")
        return jsonify(body), 201

    @bp.delete("/tokens/<token_id>")
    def revoke(token_id: str):
        service.revoke(token_id)
        return Response(status=204)

    @bp.get("/tenants/<tenant>/log")
    def provisioning_log(tenant: str):
        limit = request.args.get("limit", "100")
        if not limit.isdigit():
            raise AdminError("limit must be a positive integer")
        before = request.args.get("before") or None
        return jsonify(entries=service.query_log(tenant, int(limit), before))

    @bp.route("/<path:unknown>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def unknown_endpoint(unknown: str):
        raise AdminError("No such admin endpoint.", 404)

    return bp
