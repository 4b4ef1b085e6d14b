"""SCIM protocol errors (RFC 7644 §3.12) and scimflask's own configuration error."""

from __future__ import annotations

from .protocol.messages import ERROR


class ConfigurationError(Exception):
    """scimflask was configured wrongly (raised at start-up, never per request)."""


class ScimError(Exception):
    """An error answered to the client as an RFC 7644 §3.12 body.

    Subclasses are named after their `scimType`; `headers` are added to the response.
    """

    status: int = 400
    scim_type: str | None = None

    def __init__(self, detail: str, *, status: int | None = None, scim_type: str | None = None,
                 headers: dict | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = int(status)  # an HTTPStatus would print as its name on Python 3.10
        if scim_type is not None:
            self.scim_type = scim_type
        self.headers = headers or {}

    def to_dict(self) -> dict:
        body: dict = {"schemas": [ERROR], "status": str(self.status)}
        if self.scim_type:
            body["scimType"] = self.scim_type
        body["detail"] = self.detail
        return body


class InvalidFilter(ScimError):
    scim_type = "invalidFilter"


class TooMany(ScimError):
    scim_type = "tooMany"


class Uniqueness(ScimError):
    status = 409
    scim_type = "uniqueness"


class Mutability(ScimError):
    scim_type = "mutability"


class InvalidSyntax(ScimError):
    scim_type = "invalidSyntax"


class InvalidPath(ScimError):
    scim_type = "invalidPath"


class NoTarget(ScimError):
    scim_type = "noTarget"


class InvalidValue(ScimError):
    scim_type = "invalidValue"


class InvalidVersion(ScimError):
    scim_type = "invalidVers"


class Sensitive(ScimError):
    """RFC 7644 §3.12: sensitive information in a request URI (403)."""

    status = 403
    scim_type = "sensitive"


class InvalidCursor(ScimError):
    """RFC 9865 §3: the cursor is malformed or unknown."""

    scim_type = "invalidCursor"


class ExpiredCursor(ScimError):
    """RFC 9865 §3: the cursor has expired."""

    scim_type = "expiredCursor"


class InvalidCount(ScimError):
    """RFC 9865 §3: the count is not acceptable for cursor paging."""

    scim_type = "invalidCount"


class NotFoundError(ScimError):
    status = 404


class PreconditionFailedError(ScimError):
    status = 412


class Unauthorized(ScimError):
    status = 401

    def __init__(self, detail: str = "Authentication required.") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="scim"'})


class Forbidden(ScimError):
    status = 403


class PayloadTooLarge(ScimError):
    status = 413


class ServiceUnavailable(ScimError):
    status = 503
