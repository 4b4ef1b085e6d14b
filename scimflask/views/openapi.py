"""`GET {prefix}/openapi.json`: the OpenAPI 3.1 description of this SCIM API.

It needs the same bearer token as every other SCIM endpoint. The description reveals nothing
`/Schemas` does not, but the blueprint authenticates every request before routing, and one rule
for the whole prefix is easier to reason about than exceptions; tools that load it
(schemathesis, client generators) can all send a header.
"""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version

from flask import Blueprint, Response

from ..openapi import OPENAPI_PATH, build_openapi
from ..state import ScimState
from .http import scim_route


def _package_version() -> str:
    try:
        return version("scimflask")
    except PackageNotFoundError:
        return "0"


def register(bp: Blueprint, state: ScimState) -> None:
    # Catalog and configuration are frozen after init_app, so the document is built once.
    document = json.dumps(build_openapi(state.catalog, state.config, _package_version()),
                          ensure_ascii=False, separators=(",", ":"))

    @scim_route(bp, OPENAPI_PATH, ("GET",))
    def openapi_view():
        return Response(document, mimetype="application/json")
