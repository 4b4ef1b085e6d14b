"""`POST /.search` on a resource type and at the root (RFC 7644 §3.4.3).

The SearchRequest body feeds the same `Operations.search` as GET, so both paths share scoping,
paging and projection. At the root, `Operations.search_all` queries each resource type in
catalog order and stitches the pages together by index; each resource is rendered with its
own type's projection.
"""

from __future__ import annotations

from flask import Blueprint

from ..config import ConfigKeys
from ..errors import InvalidSyntax, InvalidValue
from ..operations import Operations
from ..protocol.messages import SEARCH_REQUEST
from ..state import ScimState
from .http import json_object, request_context, scim_response, scim_route
from .resources import Renderer, list_body, search_params

_FIELDS = {"schemas", "attributes", "excludedattributes", "filter", "sortby", "sortorder",
           "startindex", "count", "cursor"}
_CANONICAL = {name.lower(): name for name in ("schemas", "attributes", "excludedAttributes", "filter",
                                              "sortBy", "sortOrder", "startIndex", "count", "cursor")}


def search_request(state: ScimState) -> dict:
    """The SearchRequest body with canonical key names, checked for shape."""
    body = json_object(state.config[ConfigKeys.MAX_PAYLOAD_BYTES])
    source = {}
    for key, value in body.items():
        lowered = key.lower()
        if lowered not in _FIELDS:
            raise InvalidSyntax(f"unknown SearchRequest attribute {key!r}")
        source[_CANONICAL[lowered]] = value
    schemas = source.pop("schemas", None)
    if not isinstance(schemas, list) or SEARCH_REQUEST.lower() not in [
            s.lower() for s in schemas if isinstance(s, str)]:
        raise InvalidSyntax(f"a SearchRequest must list {SEARCH_REQUEST!r} in schemas")
    return source


def register(bp: Blueprint, state: ScimState) -> None:
    ops = Operations(state)
    renderers = {rt.name: Renderer(state, rt) for rt in state.catalog.resource_types}

    def make_view(renderer: Renderer):
        def view():
            params, (attrs, excl) = search_params(state, renderer, search_request(state))
            ctx = request_context()
            result = ops.search(ctx, renderer.rt.name, params)
            return scim_response(renderer.list_response(result, ctx.base_url, attrs, excl))

        return view

    for rt in state.catalog.resource_types:
        scim_route(bp, f"{rt.endpoint}/.search", ("POST",), make_view(renderers[rt.name]),
                   endpoint=f"{rt.name.lower()}s_search")

    @scim_route(bp, "/.search", ("POST",))
    def root_search():
        source = search_request(state)
        if source.get("sortBy") or source.get("cursor") is not None:
            raise InvalidValue("sortBy and cursor are supported on a resource type's /.search, "
                               "not across resource types")
        searches = {name: search_params(state, renderer, source) for name, renderer in renderers.items()}
        ctx = request_context()
        result = ops.search_all(ctx, [(name, params) for name, (params, _) in searches.items()])
        documents = []
        for resource in result.resources:
            name = state.catalog.resource_type(resource.resource_type).name
            attrs, excl = searches[name][1]
            documents.append(renderers[name].document(resource, ctx.base_url, attrs, excl))
        return scim_response(list_body(result, documents))
