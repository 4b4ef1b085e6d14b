"""The admin API: tenants, tokens, the provisioning log and tenant health over HTTP, as JSON
(and the log as CSV).

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
from flask import Blueprint, Response, jsonify, request, stream_with_context
from werkzeug.exceptions import HTTPException

from ...auth import bearer_secret, hash_secret
from ...errors import ScimError
from ...model import utcnow
from ...storage.capabilities import LogQuery
from ...storage.errors import StorageUnavailable
from ..log_export import csv_lines, logged, started
from ..log_filters import FilterError, query_from_args
from ..log_health import health_to_dict
from ..log_identity import identity_policy
from .service import MAX_EXPORT, MAX_LOG_LIMIT, AdminError, AdminService

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
    """The admin API over `service`, admitting requests by `pm`'s hook or `SCIM_ADMIN_TOKENS`."""
    bp = Blueprint("scim_admin", __name__)
    views = AdminViews(service, config, pm)
    bp.before_request(views.authorize)
    bp.after_request(_security_headers)
    bp.register_error_handler(AdminError, _admin_error)
    bp.register_error_handler(StorageUnavailable, _unavailable)
    bp.register_error_handler(HTTPException, _http_error)
    bp.register_error_handler(Exception, _unexpected)
    bp.get("/tenants")(views.list_tenants)
    bp.put("/tenants/<tenant>/scim")(views.enable_scim)
    bp.post("/tenants/<tenant>/disable")(views.disable)
    bp.post("/tenants/<tenant>/enable")(views.enable)
    bp.delete("/tenants/<tenant>")(views.delete_tenant)
    bp.get("/tenants/<tenant>/tokens")(views.list_tokens)
    bp.post("/tenants/<tenant>/tokens/rotate")(views.rotate)
    bp.delete("/tokens/<token_id>")(views.revoke)
    bp.get("/tenants/<tenant>/log")(views.provisioning_log)
    bp.get("/tenants/<tenant>/log.csv")(views.log_csv)
    bp.get("/tenants/<tenant>/health")(views.health)
    bp.add_url_rule("/<path:unknown>", "unknown_endpoint", _unknown_endpoint,
                    methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    return bp


class AdminViews:
    """The admin API's views over one app's admin service, configuration and plugins."""

    def __init__(self, service: AdminService, config, pm: pluggy.PluginManager) -> None:
        self.service = service
        self.config = config
        self.pm = pm
        self.tokens = config["SCIM_ADMIN_TOKENS"]

    def authorize(self):
        """Admit the request by the first plugin that decides, else by the static admin tokens."""
        verdict = self.pm.hook.scimflask_authorize_admin(request=request, config=self.config)
        if verdict is None:
            verdict = _static_token_matches(request.headers.get("Authorization"), self.tokens)
        if not verdict:
            response, status = _error(401, "Admin credentials required: 'Authorization: Bearer <admin token>'.")
            response.headers["WWW-Authenticate"] = 'Bearer realm="scimflask-admin"'
            return response, status
        return None

    def _public_base_url(self) -> str:
        return self.config["SCIM_PUBLIC_BASE_URL"] or request.host_url

    def list_tenants(self):
        return jsonify(tenants=self.service.list_tenants())

    def enable_scim(self, tenant: str):
        issued = self.service.enable_scim(tenant, self._public_base_url())
        return jsonify(issued.to_dict()), 201 if issued.tenant_created else 200

    def disable(self, tenant: str):
        return jsonify(self.service.set_disabled(tenant, True))

    def enable(self, tenant: str):
        return jsonify(self.service.set_disabled(tenant, False))

    def delete_tenant(self, tenant: str):
        if not self.service.delete_tenant(tenant):
            raise AdminError(f"no tenant {tenant!r}", 404)
        return Response(status=204)

    def list_tokens(self, tenant: str):
        return jsonify(tokens=self.service.list_tokens(tenant))

    def rotate(self, tenant: str):
        issued, deadline = self.service.rotate(tenant, self._public_base_url())
        body = issued.to_dict()
        body["previousTokensExpire"] = deadline.isoformat().replace("+00:00", "Z")
        return jsonify(body), 201

    def revoke(self, token_id: str):
        self.service.revoke(token_id)
        return Response(status=204)

    def _log_query(self, maximum: int, default_limit: int) -> LogQuery:
        try:
            return query_from_args(request.args, identities=identity_policy(self.config), now=utcnow(),
                                   maximum=maximum, default_limit=default_limit)
        except FilterError as error:
            raise AdminError(str(error)) from None

    def provisioning_log(self, tenant: str):
        """Entries newest first; `next` is the `before` of the following page (None at the end)."""
        query = self._log_query(MAX_LOG_LIMIT, 100)
        entries = self.service.query_log(tenant, query)
        more = len(entries) == query.limit
        return jsonify(entries=entries, next=entries[-1]["id"] if more and entries else None)

    def log_csv(self, tenant: str):
        """The matching entries as CSV (up to MAX_EXPORT, or `limit`), newest first."""
        # A bad tenant or an unreachable store is answered before the body (`started`).
        rows = started(self.service.export_log(tenant, self._log_query(MAX_EXPORT, MAX_EXPORT)))
        return Response(stream_with_context(logged(csv_lines(rows), f"{tenant}'s log")), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="scimflask-log-{tenant}.csv"'})

    def health(self, tenant: str):
        return jsonify(health_to_dict(tenant, self.service.health(tenant)))


def _unknown_endpoint(unknown: str):
    raise AdminError("No such admin endpoint.", 404)


def _security_headers(response: Response) -> Response:
    for name, value in ADMIN_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _admin_error(error: AdminError):
    return _error(error.status, error.detail)


def _unavailable(error: StorageUnavailable):
    log.error("admin API: storage unavailable: %s", error)
    return _error(503, "The storage backend is unavailable; retry later.")


def _http_error(error: HTTPException):
    return _error(error.code or 500, error.description or error.name)


def _unexpected(error: Exception):
    if isinstance(error, HTTPException):
        return _http_error(error)
    log.exception("admin API: unhandled error in %s %s", request.method, request.path)
    return _error(500, "Internal server error.")
