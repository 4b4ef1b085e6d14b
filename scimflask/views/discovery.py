"""`/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas` (RFC 7644 §4), generated from the
catalog and the configuration so they say only what this server really does.

`/ServiceProviderConfig` offers one extension of ours (RFC 7643 §3: an object keyed by its
URN, the URN listed in `schemas`): `SPC_EXTENSION` says how strictly requests are read --
`compatibility` (SCIM_COMPATIBILITY), the `tolerances` in force (docs/compatibility.md) and
`maxMultiValues` (SCIM_MAX_MULTI_VALUES). It is returned only on request, like an attribute
whose `returned` is "request" (RFC 7643 §2.4): `?attributes=<the URN>` (or one of its
sub-attributes). A client that refuses every member it does not know therefore reads the
default document as plain RFC 7643 §5. It describes server configuration, not resources, so
`/Schemas` does not list it.
"""

from __future__ import annotations

from flask import Blueprint, request

from ..config import ConfigKeys
from ..errors import NotFoundError, ScimError
from ..protocol.messages import LIST_RESPONSE
from ..schema.tolerances import Compatibility
from ..state import ScimState
from .http import request_context, scim_response, scim_route

SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
SPC_EXTENSION = "urn:scimflask:params:scim:schemas:extension:2.0:ServiceProviderConfig"


def service_provider_config(state: ScimState, base_url: str, *, extension: bool = False) -> dict:
    """The configuration document; with `extension`, our compatibility extension too."""
    config = state.config
    document = {
        "schemas": [SPC_SCHEMA],
        "patch": {"supported": True},
        "bulk": {
            "supported": True,
            "maxOperations": config[ConfigKeys.BULK_MAX_OPERATIONS],
            "maxPayloadSize": config[ConfigKeys.MAX_PAYLOAD_BYTES],
        },
        "filter": {"supported": True, "maxResults": config[ConfigKeys.MAX_PAGE_SIZE]},
        "changePassword": {"supported": True},
        "sort": {"supported": True},
        "etag": {"supported": True},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a bearer token in the Authorization header",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": True,
        }],
        # RFC 9865 §4.
        "pagination": {
            "cursor": True,
            "index": True,
            "defaultPaginationMethod": "index",
            "defaultPageSize": config[ConfigKeys.DEFAULT_PAGE_SIZE],
            "maxPageSize": config[ConfigKeys.MAX_PAGE_SIZE],
            "cursorTimeout": config[ConfigKeys.CURSOR_TIMEOUT],
        },
        "meta": {"resourceType": "ServiceProviderConfig", "location": f"{base_url}/ServiceProviderConfig"},
    }
    if extension:
        compatibility = Compatibility(config[ConfigKeys.COMPATIBILITY])
        document["schemas"].append(SPC_EXTENSION)
        document[SPC_EXTENSION] = {
            "compatibility": compatibility.mode,
            "tolerances": list(compatibility.enabled),
            "maxMultiValues": config[ConfigKeys.MAX_MULTI_VALUES],
        }
    return document


def _extension_requested() -> bool:
    """Whether `attributes` names the extension or one of its sub-attributes."""
    prefix = SPC_EXTENSION.lower()
    for name in request.args.get("attributes", "").split(","):
        name = name.strip().lower()
        if name == prefix or name.startswith(prefix + ":"):
            return True
    return False


def _list(resources: list[dict]) -> dict:
    return {"schemas": [LIST_RESPONSE], "totalResults": len(resources), "itemsPerPage": len(resources),
            "startIndex": 1, "Resources": resources}


def _no_filter() -> None:
    # RFC 7644 §4: filtering these endpoints is not supported and must be refused.
    if "filter" in request.args:
        raise ScimError("filtering is not supported on discovery endpoints", status=403)


def register(bp: Blueprint, state: ScimState) -> None:
    catalog = state.catalog

    @scim_route(bp, "/ServiceProviderConfig", ("GET",))
    def service_provider_config_view():
        return scim_response(service_provider_config(state, request_context().base_url,
                                                     extension=_extension_requested()))

    @scim_route(bp, "/ResourceTypes", ("GET",))
    def resource_types_view():
        _no_filter()
        base = request_context().base_url
        return scim_response(_list([rt.to_dict(f"{base}/ResourceTypes/{rt.id}") for rt in catalog.resource_types]))

    @scim_route(bp, "/ResourceTypes/<id>", ("GET",))
    def resource_type_view(id: str):
        base = request_context().base_url
        for rt in catalog.resource_types:
            if rt.id.lower() == id.lower():
                return scim_response(rt.to_dict(f"{base}/ResourceTypes/{rt.id}"))
        raise NotFoundError(f"no resource type {id!r}")

    @scim_route(bp, "/Schemas", ("GET",))
    def schemas_view():
        _no_filter()
        base = request_context().base_url
        return scim_response(_list([s.to_dict(f"{base}/Schemas/{s.id}") for s in catalog.schemas]))

    @scim_route(bp, "/Schemas/<path:id>", ("GET",))
    def schema_view(id: str):
        schema = catalog.schema(id)
        if schema is None:
            raise NotFoundError(f"no schema {id!r}")
        return scim_response(schema.to_dict(f"{request_context().base_url}/Schemas/{schema.id}"))
