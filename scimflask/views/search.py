"""`POST /.search` on a resource type and at the root (RFC 7644 §3.4.3).

The SearchRequest body feeds the same `Operations.search` as GET, so both paths share scoping,
paging and projection. At the root, each resource type is queried in catalog order and the
pages are stitched together by index.
"""

from __future__ import annotations

from flask import Blueprint

from ..config import ConfigKeys
from ..errors import InvalidFilter, InvalidSyntax, InvalidValue, ScimError
from ..operations import Operations, SearchParams
from ..protocol.messages import LIST_RESPONSE, SEARCH_REQUEST
from ..protocol.paging import Paging
from ..state import ScimState
from .http import json_object, request_context, scim_response, scim_route
from .resources import Renderer, search_params

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

    def make_view(rt_name: str):
        renderer = renderers[rt_name]

        def view():
            params, (attrs, excl) = search_params(state, renderer, search_request(state))
            ctx = request_context()
            result = ops.search(ctx, rt_name, params)
            return scim_response(renderer.list_response(result, ctx.base_url, attrs, excl))

        return view

    for rt in state.catalog.resource_types:
        scim_route(bp, f"{rt.endpoint}/.search", ("POST",), make_view(rt.name),
                   endpoint=f"{rt.name.lower()}s_search")

    @scim_route(bp, "/.search", ("POST",))
    def root_search():
        source = search_request(state)
        if source.get("sortBy") or source.get("cursor") is not None:
            raise InvalidValue("sortBy and cursor are supported on a resource type's /.search, "
                               "not across resource types")
        ctx = request_context()
        parts: list[tuple[Renderer, SearchParams, tuple]] = []
        errors: list[ScimError] = []
        start, count = 1, 0
        for renderer in renderers.values():
            params, projection = search_params(state, renderer, source)
            start, count = params.paging.start_index, params.paging.count
            try:
                ops.build_query(renderer.rt, params)
            except InvalidFilter as exc:  # the filter names attributes this type lacks
                errors.append(exc)
                continue
            parts.append((renderer, params, projection))
        if not parts:
            raise errors[0]
        # Totals first, then only the slices that fall into the requested window.
        totals = []
        for renderer, params, _ in parts:
            params.paging = Paging(1, 0, None)
            totals.append(ops.search(ctx, renderer.rt.name, params).total)
        resources: list[dict] = []
        offset = start - 1
        remaining = count
        for (renderer, params, (attrs, excl)), total in zip(parts, totals, strict=True):
            if remaining <= 0:
                break
            if offset >= total:
                offset -= total
                continue
            params.paging = Paging(offset + 1, remaining, None)
            result = ops.search(ctx, renderer.rt.name, params)
            resources.extend(renderer.document(r, ctx.base_url, attrs, excl) for r in result.resources)
            remaining -= len(result.resources)
            offset = 0
        return scim_response({"schemas": [LIST_RESPONSE], "totalResults": sum(totals),
                              "itemsPerPage": len(resources), "startIndex": start, "Resources": resources})
