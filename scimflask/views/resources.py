"""`/Users`, `/Groups` and any registered resource type: one view class serves them all."""

from __future__ import annotations

import re

from flask import Blueprint, Response, request
from flask.views import MethodView

from ..config import ConfigKeys
from ..errors import ScimError, Sensitive
from ..model import Resource
from ..operations import Operations, SearchParams, SearchResult
from ..protocol.etag import etag_for, expected_version, not_modified
from ..protocol.messages import LIST_RESPONSE
from ..protocol.paging import parse_paging
from ..protocol.projection import loads, parse_attribute_list, project
from ..schema.catalog import ResourceType
from ..schema.validate import schemas_for
from ..state import ScimState
from .http import json_object, request_context, scim_response, scim_route


class Renderer:
    """Turns stored resources into projected SCIM JSON for one resource type."""

    def __init__(self, state: ScimState, rt: ResourceType) -> None:
        self.state = state
        self.rt = rt

    def projection(self, attributes: str | list | None, excluded: str | list | None):
        attrs = parse_attribute_list(_as_text(attributes), self.state.catalog, self.rt) if attributes else None
        excl = parse_attribute_list(_as_text(excluded), self.state.catalog, self.rt) if excluded else None
        with_members, with_groups = loads(self.state.catalog, self.rt, attributes=attrs, excluded=excl)
        return attrs, excl, with_members, with_groups

    def document(self, resource: Resource, base_url: str, attrs, excl) -> dict:
        document = resource.document(self.state.catalog.locator(base_url))
        document["schemas"] = schemas_for(resource.data, self.rt)
        return project(document, self.state.catalog, self.rt, attributes=attrs, excluded=excl)

    def list_response(self, result: SearchResult, base_url: str, attrs, excl) -> dict:
        return list_body(result, [self.document(r, base_url, attrs, excl) for r in result.resources])


def list_body(result: SearchResult, documents: list[dict]) -> dict:
    """A ListResponse (RFC 7644 §3.4.2) of `result`, whose resources are already rendered."""
    body: dict = {
        "schemas": [LIST_RESPONSE],
        "totalResults": result.total,
        "itemsPerPage": len(documents),
    }
    if result.start_index is not None:
        body["startIndex"] = result.start_index
    if result.next_cursor is not None:
        body["nextCursor"] = result.next_cursor
    body["Resources"] = documents
    return body


def _as_text(value: str | list | None) -> str | None:
    """`attributes` arrive comma-separated in a query string and as a list in a SearchRequest."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    raise ScimError("attributes must be a list of attribute names", scim_type="invalidValue")


def search_params(state: ScimState, renderer: Renderer, source: dict) -> tuple[SearchParams, tuple]:
    """Query parameters or a SearchRequest body → SearchParams and the projection."""
    config = state.config
    for key in ("filter", "sortBy", "sortOrder"):
        if source.get(key) is not None and not isinstance(source.get(key), str):
            raise ScimError(f"{key} must be a string", scim_type="invalidValue")
    paging = parse_paging(source.get("startIndex"), source.get("count"), source.get("cursor"),
                          default_count=config[ConfigKeys.DEFAULT_PAGE_SIZE],
                          max_count=config[ConfigKeys.MAX_PAGE_SIZE])
    attrs, excl, with_members, with_groups = renderer.projection(
        source.get("attributes"), source.get("excludedAttributes"))
    params = SearchParams(filter=source.get("filter"), sort_by=source.get("sortBy"),
                          sort_order=source.get("sortOrder"), paging=paging,
                          with_members=with_members, with_groups=with_groups)
    return params, (attrs, excl)


def query_source() -> dict:
    """Query parameters as a dict; a repeated SCIM parameter is ambiguous and refused, and so is a
    filter or sort naming `password` (RFC 7644 §7.5.2: a URL ends up in logs and caches, so
    secrets may only travel in a POST /.search body, where the filter is then refused as such)."""
    source: dict = {}
    for key in request.args:
        values = request.args.getlist(key)
        if len(values) > 1 and key in _SCIM_PARAMS:
            raise ScimError(f"query parameter {key!r} is given more than once", scim_type="invalidValue")
        source[key] = values[0]
    for key in ("filter", "sortBy"):
        if names_password(source.get(key)):
            raise Sensitive(f"{key} names the password attribute; passwords must never appear in a URL")
    return source


_STRING_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"')
_PASSWORD = re.compile(r"(?<![\w$-])password(?![\w$-])", re.IGNORECASE)


def names_password(text: str | None) -> bool:
    """Whether a filter or attribute path names `password` (outside its string literals)."""
    return bool(text) and bool(_PASSWORD.search(_STRING_LITERAL.sub('""', text)))


_SCIM_PARAMS = {"filter", "sortBy", "sortOrder", "startIndex", "count", "cursor", "attributes",
                "excludedAttributes"}


def resource_response(renderer: Renderer, resource: Resource, status: int, attrs=None, excl=None) -> Response:
    ctx = request_context()
    body = renderer.document(resource, ctx.base_url, attrs, excl)
    headers = {"ETag": etag_for(resource.version)}
    if status == 201:
        headers["Location"] = renderer.rt.location(ctx.base_url, resource.id)
    return scim_response(body, status, headers)


class _ResourceTypeView(MethodView):
    """A view of one resource type, built once at registration with the app's Operations."""

    init_every_request = False

    def __init__(self, state: ScimState, ops: Operations, renderer: Renderer) -> None:
        self.state = state
        self.ops = ops
        self.renderer = renderer
        self.rt = renderer.rt


class ResourceListView(_ResourceTypeView):
    """GET (list/filter) and POST (create) on a resource type's endpoint."""

    def get(self):
        params, (attrs, excl) = search_params(self.state, self.renderer, query_source())
        ctx = request_context()
        result = self.ops.search(ctx, self.rt.name, params)
        return scim_response(self.renderer.list_response(result, ctx.base_url, attrs, excl))

    def post(self):
        body = json_object(self.state.config[ConfigKeys.MAX_PAYLOAD_BYTES])
        attrs, excl, with_members, with_groups = self.renderer.projection(
            request.args.get("attributes"), request.args.get("excludedAttributes"))
        resource = self.ops.create(request_context(), self.rt.name, body)
        return resource_response(self.renderer, resource, 201, attrs, excl)


class ResourceItemView(_ResourceTypeView):
    """GET, PUT, PATCH, DELETE on one resource."""

    def _projection(self):
        if not request.environ.get("QUERY_STRING"):  # the common case: skip parsing the query
            return self.renderer.projection(None, None)
        return self.renderer.projection(request.args.get("attributes"),
                                        request.args.get("excludedAttributes"))

    def _fresh(self, id: str, with_members: bool, with_groups: bool) -> Resource:
        return self.ops.get(request_context(), self.rt.name, id, with_members=with_members,
                            with_groups=with_groups)

    def get(self, id: str):
        attrs, excl, with_members, with_groups = self._projection()
        resource = self._fresh(id, with_members, with_groups)
        if not_modified(request.headers.get("If-None-Match"), resource.version):
            return scim_response(None, 304, {"ETag": etag_for(resource.version)})
        return resource_response(self.renderer, resource, 200, attrs, excl)

    def put(self, id: str):
        body = json_object(self.state.config[ConfigKeys.MAX_PAYLOAD_BYTES])
        attrs, excl, with_members, with_groups = self._projection()
        version = expected_version(request.headers.get("If-Match"))
        updated = self.ops.replace(request_context(), self.rt.name, id, body, version, with_groups=with_groups)
        return resource_response(self.renderer, self._fresh(id, with_members, with_groups) if with_members
                                 else updated, 200, attrs, excl)

    def patch(self, id: str):
        config = self.state.config
        body = json_object(config[ConfigKeys.MAX_PAYLOAD_BYTES])
        attrs, excl, with_members, with_groups = self._projection()
        version = expected_version(request.headers.get("If-Match"))
        ctx = request_context()
        updated, _ = self.ops.patch(ctx, self.rt.name, id, body, version, with_groups=with_groups)
        mode = config[ConfigKeys.PATCH_RESPONSE]
        if mode == "no-content":
            return scim_response(None, 204, {"ETag": etag_for(updated.version)})
        if mode == "auto" and with_members and self.state.catalog.has_members(self.rt):
            limit = config[ConfigKeys.PATCH_RESPONSE_MAX_MEMBERS]
            if self.ops.count_members(ctx, id, up_to=limit) > limit:
                return scim_response(None, 204, {"ETag": etag_for(updated.version)})
        # Members may have changed (and are not returned by the update); groups came with the read.
        resource = self._fresh(id, with_members, with_groups) if with_members else updated
        return resource_response(self.renderer, resource, 200, attrs, excl)

    def delete(self, id: str):
        version = expected_version(request.headers.get("If-Match"))
        self.ops.delete(request_context(), self.rt.name, id, version)
        return scim_response(None, 204)


ITEM_METHODS = ("GET", "PUT", "PATCH", "DELETE")


def register(bp: Blueprint, state: ScimState) -> None:
    ops = Operations(state)
    for rt in state.catalog.resource_types:
        name = rt.name.lower()
        renderer = Renderer(state, rt)
        scim_route(bp, rt.endpoint, ("GET", "POST"), ResourceListView.as_view(name + "s", state, ops, renderer))
        scim_route(bp, f"{rt.endpoint}/<id>", ITEM_METHODS, ResourceItemView.as_view(name, state, ops, renderer))
