"""An OpenAPI 3.1 description of the SCIM API one app serves, built from its catalog and config.

Every request and response schema is generated from the same `Attribute` definitions that drive
`/Schemas`, validation and projection, so the description cannot drift from the server:

- types map to JSON Schema types (dateTime and binary carry the patterns the server checks);
- `multiValued` becomes an array, complex attributes objects of their sub-attributes;
- `mutability: readOnly` becomes `readOnly: true`, `writeOnly` becomes `writeOnly: true`;
- `returned: never` attributes are absent from response schemas;
- `required` attributes are required in request bodies only: responses may be narrowed with
  `attributes` / `excludedAttributes`, so a response is only guaranteed `schemas` and `id`.

Request schemas describe the canonical form a client should send. Attribute names match in any
case (RFC 7643 §2.1) and null clears a value; the few other forms real clients send (booleans
as strings, for one) are accepted only in the lenient compatibility mode, whose table is in
docs/compatibility.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .config import ConfigKeys
from .protocol.messages import BULK_REQUEST, BULK_RESPONSE, ERROR, LIST_RESPONSE, PATCH_OP, SCIM_JSON, SEARCH_REQUEST
from .schema.catalog import (
    BINARY,
    BOOLEAN,
    COMPLEX,
    DATETIME,
    DECIMAL,
    INTEGER,
    NEVER,
    READ_ONLY,
    WRITE_ONLY,
    Attribute,
    Catalog,
    ResourceType,
)

OPENAPI_VERSION = "3.1.0"
OPENAPI_PATH = "/openapi.json"


# The xsd:dateTime and base64 forms `scimflask.schema.coerce` accepts.
DATETIME_PATTERN = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
                    r"(Z|[+-][0-9]{2}:[0-9]{2})?$")
BASE64_PATTERN = r"^[A-Za-z0-9+/]*={0,2}$"
INT64 = {"minimum": -(2**63), "maximum": 2**63 - 1}

# Every error status the server answers with a SCIM Error body (RFC 7644 §3.12); 5xx other than
# 501 and 503 are never intended, so they are not described (a fuzzer that meets one fails).
ERROR_STATUSES = {
    "400": "The request is malformed or does not fit the schema (see scimType).",
    "401": "Missing, malformed or unknown bearer token.",
    "403": "The operation is not permitted.",
    "404": "No such resource or endpoint.",
    "405": "The endpoint does not support this method.",
    "409": "Uniqueness conflict.",
    "412": "If-Match did not match the current version.",
    "413": "Request body or Bulk request too large.",
    "414": "Request URI too long; send long filters with POST /.search.",
    "415": "Unsupported Content-Type.",
    "431": "Request header fields too large.",
    "501": "Not implemented for this credential or server.",
    "503": "Storage temporarily unavailable; retry later.",
}
_BODY_ERRORS = ("400", "401", "403", "404", "409", "412", "413", "414", "415", "431", "501", "503")
_READ_ERRORS = ("400", "401", "403", "404", "414", "431", "501", "503")


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _scim_content(schema: dict) -> dict:
    return {SCIM_JSON: {"schema": schema}}


def _request_body(schema: dict, description: str) -> dict:
    return {"required": True, "description": description,
            "content": {SCIM_JSON: {"schema": schema}, "application/json": {"schema": schema}}}


# -- attribute definitions -> JSON Schema -----------------------------------------------------

def _simple_schema(attribute: Attribute, for_request: bool) -> dict:
    if attribute.type == BOOLEAN:
        return {"type": "boolean"}
    if attribute.type == INTEGER:
        return {"type": "integer", **INT64}
    if attribute.type == DECIMAL:
        return {"type": "number"}
    if attribute.type == DATETIME:
        return {"type": "string", "pattern": DATETIME_PATTERN} if for_request else {
            "type": "string", "format": "date-time"}
    if attribute.type == BINARY:
        return {"type": "string", "contentEncoding": "base64", "pattern": BASE64_PATTERN}
    schema: dict = {"type": "string"}
    if for_request:
        # NUL characters are refused (`coerce._string`); JSON Schema cannot say so, a pattern can.
        schema["pattern"] = "^[^\\u0000]*$"
    return schema


def attribute_schema(attribute: Attribute, *, for_request: bool) -> dict:
    """The JSON Schema of one attribute (with its sub-attributes) for requests or responses."""
    if attribute.type == COMPLEX:
        value: dict = complex_schema(attribute.sub_attributes, for_request=for_request)
    else:
        value = _simple_schema(attribute, for_request)
    if attribute.multi_valued:
        value = {"type": "array", "items": value}
    if attribute.description:
        value["description"] = attribute.description
    if attribute.mutability == READ_ONLY:
        value["readOnly"] = True
    elif attribute.mutability == WRITE_ONLY:
        value["writeOnly"] = True
    return value


def _returned(attribute: Attribute, for_request: bool) -> bool:
    if for_request:
        return True
    return attribute.returned != NEVER and attribute.mutability != WRITE_ONLY


def complex_schema(attributes: tuple[Attribute, ...], *, for_request: bool,
                   required: tuple[str, ...] = ()) -> dict:
    """An object of `attributes`; `required` names are required (requests only)."""
    properties = {a.name: attribute_schema(a, for_request=for_request)
                  for a in attributes if _returned(a, for_request)}
    schema: dict = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


def resource_schema(catalog: Catalog, rt: ResourceType, *, for_request: bool) -> dict:
    """A resource document: `schemas`, the core attributes (with id, externalId, meta) and one
    object per schema extension, keyed by its URN."""
    core = catalog.attributes(rt, rt.schema)
    required = tuple(a.name for a in core if a.required and a.mutability != READ_ONLY)
    schema = complex_schema(core, for_request=for_request, required=required if for_request else ())
    schemas_property: dict = {"type": "array", "items": {"type": "string"}, "minItems": 1,
                              "contains": {"const": rt.schema},
                              "description": "Schema URNs; always include the core schema."}
    schema["properties"] = {"schemas": schemas_property, **schema["properties"]}
    for urn, ext_required in rt.extensions:
        extension = catalog.schema_of(urn)
        ext_schema = complex_schema(extension.attributes, for_request=for_request)
        ext_schema["description"] = extension.description
        schema["properties"][urn] = ext_schema
        if ext_required and for_request:
            required = (*required, urn)
    schema["required"] = ["schemas", *(required if for_request else ("id",))]
    schema["description"] = (f"{rt.description} ({'request' if for_request else 'response'}). "
                             + ("Attribute names match case-insensitively; booleans and integers may "
                                "also be sent as strings; null or an empty string clears a value."
                                if for_request else
                                "Only schemas and id are always present; attributes and "
                                "excludedAttributes narrow the rest."))
    return schema


# -- protocol messages ------------------------------------------------------------------------

def _schemas_with(urn: str) -> dict:
    return {"type": "array", "items": {"type": "string"}, "contains": {"const": urn}}


def _case_insensitive(*words: str) -> str:
    alternatives = "|".join("".join(f"[{c.lower()}{c.upper()}]" for c in word) for word in words)
    return f"^({alternatives})$"


def message_schemas(catalog: Catalog) -> dict[str, dict]:
    """Error, the resources with their list responses, PatchOp, SearchRequest, Bulk, discovery."""
    return {
        "Error": _error_schema(),
        **_resource_schemas(catalog),
        "PatchOp": _patch_op_schema(),
        "SearchRequest": _search_request_schema(),
        "BulkRequest": _bulk_request_schema(),
        "BulkResponse": _bulk_response_schema(),
        **_discovery_schemas(),
    }


def _error_schema() -> dict:
    return {
        "type": "object",
        "required": ["schemas", "status"],
        "properties": {
            "schemas": {"type": "array", "items": {"const": ERROR}, "minItems": 1, "maxItems": 1},
            "status": {"type": "string", "pattern": "^[1-5][0-9]{2}$"},
            "scimType": {"type": "string"},
            "detail": {"type": "string"},
        },
        "additionalProperties": False,
        "description": "RFC 7644 §3.12 error body.",
    }


def _resource_schemas(catalog: Catalog) -> dict[str, dict]:
    """Per resource type its response, request and list-response schema, then the list
    response of /.search, whose resources may be of any type."""
    schemas: dict[str, dict] = {}
    for rt in catalog.resource_types:
        schemas[rt.name] = resource_schema(catalog, rt, for_request=False)
        schemas[f"{rt.name}Request"] = resource_schema(catalog, rt, for_request=True)
        schemas[f"{rt.name}ListResponse"] = _list_response(_ref(rt.name))
    schemas["ListResponse"] = _list_response({"oneOf": [_ref(rt.name) for rt in catalog.resource_types]})
    return schemas


def _list_response(items: dict) -> dict:
    return {
        "type": "object",
        "required": ["schemas", "totalResults", "Resources"],
        "properties": {
            "schemas": {"type": "array", "items": {"const": LIST_RESPONSE}},
            "totalResults": {"type": "integer", "minimum": 0},
            "itemsPerPage": {"type": "integer", "minimum": 0},
            "startIndex": {"type": "integer", "minimum": 1},
            "nextCursor": {"type": "string"},
            "Resources": {"type": "array", "items": items},
        },
        "additionalProperties": False,
    }


def _patch_op_schema() -> dict:
    return {
        "type": "object",
        "required": ["schemas", "Operations"],
        "properties": {
            "schemas": _schemas_with(PATCH_OP),
            "Operations": {"type": "array", "minItems": 1, "items": {
                "type": "object",
                "required": ["op"],
                "properties": {
                    "op": {"type": "string", "pattern": _case_insensitive("add", "remove", "replace")},
                    "path": {"type": "string", "description": "An attribute path (RFC 7644 §3.5.2)."},
                    "value": {},
                },
            }},
        },
        "description": "RFC 7644 §3.5.2 PATCH request.",
    }


def _search_request_schema() -> dict:
    paging = {
        "startIndex": {"type": "integer", "description": "1-based index; values below 1 mean 1."},
        "count": {"type": "integer", "description": "Page size; negative means 0, larger than the "
                                                     "maximum is lowered to it."},
        "cursor": {"type": "string", "description": "RFC 9865 cursor; empty for the first page."},
    }
    return {
        "type": "object",
        "required": ["schemas"],
        "properties": {
            "schemas": _schemas_with(SEARCH_REQUEST),
            "attributes": {"type": "array", "items": {"type": "string"}},
            "excludedAttributes": {"type": "array", "items": {"type": "string"}},
            "filter": {"type": "string"},
            "sortBy": {"type": "string"},
            "sortOrder": {"type": "string", "enum": ["ascending", "descending"]},
            **paging,
        },
        "additionalProperties": False,
        "description": "RFC 7644 §3.4.3 search request; use it for filters too long for a URL.",
    }


def _bulk_request_schema() -> dict:
    return {
        "type": "object",
        "required": ["schemas", "Operations"],
        "properties": {
            "schemas": _schemas_with(BULK_REQUEST),
            "failOnErrors": {"type": "integer", "minimum": 1},
            "Operations": {"type": "array", "minItems": 1, "items": {
                "type": "object",
                "required": ["method", "path"],
                "properties": {
                    "method": {"type": "string", "enum": ["POST", "PUT", "PATCH", "DELETE"]},
                    "path": {"type": "string", "pattern": "^/"},
                    "bulkId": {"type": "string", "minLength": 1},
                    "version": {"type": "string"},
                    "data": {"type": "object"},
                },
            }},
        },
        "description": "RFC 7644 §3.7 bulk request; POST operations need a bulkId.",
    }


def _bulk_response_schema() -> dict:
    return {
        "type": "object",
        "required": ["schemas", "Operations"],
        "properties": {
            "schemas": {"type": "array", "items": {"const": BULK_RESPONSE}},
            "Operations": {"type": "array", "items": {
                "type": "object",
                "required": ["method", "status"],
                "properties": {
                    "method": {"type": "string"},
                    "bulkId": {"type": "string"},
                    "version": {"type": "string"},
                    "location": {"type": "string"},
                    "status": {"type": "string", "pattern": "^[1-5][0-9]{2}$"},
                    "response": _ref("Error"),
                },
                "additionalProperties": False,
            }},
        },
    }


def _discovery_schemas() -> dict[str, dict]:
    """The discovery documents (RFC 7644 §4), described by their required members only."""
    schemas: dict[str, dict] = {
        "ServiceProviderConfig": {
            "type": "object",
            "required": ["schemas", "patch", "bulk", "filter", "changePassword", "sort", "etag",
                         "authenticationSchemes"],
        },
        "ResourceType": {"type": "object", "required": ["schemas", "id", "name", "endpoint", "schema"]},
        "Schema": {"type": "object", "required": ["schemas", "id", "attributes"]},
    }
    for name in ("ResourceType", "Schema"):
        schemas[f"{name}ListResponse"] = _list_response(_ref(name))
    return schemas


# -- paths ------------------------------------------------------------------------------------

def _query(name: str, description: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}


_PROJECTION = [
    _query("attributes", "Comma-separated attributes to return (RFC 7644 §3.9)."),
    _query("excludedAttributes", "Comma-separated attributes to leave out (RFC 7644 §3.9)."),
]
_LISTING = [
    _query("filter", "RFC 7644 §3.4.2.2 filter; send long ones with POST .search."),
    _query("sortBy", "Attribute to sort by."),
    _query("sortOrder", "ascending or descending.", {"type": "string", "enum": ["ascending", "descending"]}),
    _query("startIndex", "1-based index of the first result.", {"type": "integer"}),
    _query("count", "Page size.", {"type": "integer"}),
    _query("cursor", "RFC 9865 cursor; empty for the first page."),
    *_PROJECTION,
]
_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
# RFC 9110 §13.1.1: "*" or a list of entity tags; a malformed list matches nothing.
_ETAG_LIST = {"type": "string", "pattern": r'^(\*|(W/)?"[^"]*"( *, *(W/)?"[^"]*")*)$'}
_IF_MATCH = {"name": "If-Match", "in": "header", "required": False, "schema": _ETAG_LIST,
             "description": "Entity tags the resource must still have (RFC 7644 §3.14); else 412."}
_IF_NONE_MATCH = {"name": "If-None-Match", "in": "header", "required": False, "schema": _ETAG_LIST,
                  "description": "Answer 304 when one of these entity tags is current."}


def _errors(statuses: tuple[str, ...]) -> dict:
    return {status: {"$ref": f"#/components/responses/Error{status}"} for status in statuses}


def _ok(schema: dict, description: str, *, etag: bool = False, location: bool = False) -> dict:
    response: dict = {"description": description, "content": _scim_content(schema)}
    headers = {}
    if etag:
        headers["ETag"] = {"required": True, "schema": {"type": "string"}}
    if location:
        headers["Location"] = {"required": True, "schema": {"type": "string"}}
    if headers:
        response["headers"] = headers
    return response


def _operation(summary: str, operation_id: str, tag: str, responses: dict, *, parameters=(),
               body: dict | None = None) -> dict:
    operation: dict = {"summary": summary, "operationId": operation_id, "tags": [tag],
                       "responses": responses}
    if parameters:
        operation["parameters"] = list(parameters)
    if body is not None:
        operation["requestBody"] = body
    return operation


def _resource_paths(rt: ResourceType) -> dict[str, dict]:
    name, tag = rt.name, rt.name
    resource, listing = _ref(name), _ref(f"{name}ListResponse")
    list_ops = {
        "get": _operation(f"List or filter {rt.endpoint}", f"list{name}s", tag,
                          {"200": _ok(listing, "A page of resources."), **_errors(_READ_ERRORS)},
                          parameters=_LISTING),
        "post": _operation(f"Create a {name}", f"create{name}", tag,
                           {"201": _ok(resource, "Created.", etag=True, location=True),
                            **_errors(_BODY_ERRORS)},
                           parameters=_PROJECTION,
                           body=_request_body(_ref(f"{name}Request"), f"The new {name}.")),
    }
    item_ops = {
        "get": _operation(f"Get a {name}", f"get{name}", tag,
                          {"200": _ok(resource, "The resource.", etag=True),
                           "304": {"description": "Not modified (If-None-Match matched)."},
                           **_errors(_READ_ERRORS)},
                          parameters=[_ID, *_PROJECTION, _IF_NONE_MATCH]),
        "put": _operation(f"Replace a {name}", f"replace{name}", tag,
                          {"200": _ok(resource, "The replaced resource.", etag=True),
                           **_errors(_BODY_ERRORS)},
                          parameters=[_ID, *_PROJECTION, _IF_MATCH],
                          body=_request_body(_ref(f"{name}Request"), f"The whole {name}.")),
        "patch": _operation(f"Modify a {name}", f"patch{name}", tag,
                            {"200": _ok(resource, "The modified resource.", etag=True),
                             "204": {"description": "Modified; the resource is not returned."},
                             **_errors(_BODY_ERRORS)},
                            parameters=[_ID, *_PROJECTION, _IF_MATCH],
                            body=_request_body(_ref("PatchOp"), "RFC 7644 §3.5.2 operations.")),
        "delete": _operation(f"Delete a {name}", f"delete{name}", tag,
                             {"204": {"description": "Deleted."}, **_errors(_BODY_ERRORS)},
                             parameters=[_ID, _IF_MATCH]),
    }
    search = {"post": _operation(f"Search {rt.endpoint}", f"search{name}s", tag,
                                 {"200": _ok(listing, "A page of resources."), **_errors(_BODY_ERRORS)},
                                 body=_request_body(_ref("SearchRequest"), "The search."))}
    return {rt.endpoint: list_ops, f"{rt.endpoint}/{{id}}": item_ops, f"{rt.endpoint}/.search": search}


def _discovery_paths() -> dict[str, dict]:
    def get(summary: str, operation_id: str, schema: dict, parameters=()) -> dict:
        return {"get": _operation(summary, operation_id, "Discovery",
                                  {"200": _ok(schema, summary + "."), **_errors(_READ_ERRORS)},
                                  parameters=parameters)}

    schema_id = {**_ID, "description": "A schema URN."}
    return {
        "/ServiceProviderConfig": get("Service provider configuration", "getServiceProviderConfig",
                                      _ref("ServiceProviderConfig")),
        "/ResourceTypes": get("Resource types", "listResourceTypes", _ref("ResourceTypeListResponse")),
        "/ResourceTypes/{id}": get("One resource type", "getResourceType", _ref("ResourceType"), [_ID]),
        "/Schemas": get("Schemas", "listSchemas", _ref("SchemaListResponse")),
        "/Schemas/{id}": get("One schema", "getSchema", _ref("Schema"), [schema_id]),
        OPENAPI_PATH: {"get": _operation("This OpenAPI description", "getOpenApi", "Discovery", {
            "200": {"description": "OpenAPI 3.1 document.",
                    "content": {"application/json": {"schema": {"type": "object"}}}},
            **_errors(_READ_ERRORS)})},
    }


def _other_paths(catalog: Catalog) -> dict[str, dict]:
    user_ops: dict = {}
    if any(rt.name == "User" for rt in catalog.resource_types):
        me_responses = {"200": _ok(_ref("User"), "The authenticated User.", etag=True)}
        user_ops = {"/Me": {
            method: _operation(f"{method.upper()} the User this credential belongs to", f"{method}Me", "Me",
                               {**me_responses, **_errors(_BODY_ERRORS)},
                               body=_request_body(_ref("PatchOp" if method == "patch" else "UserRequest"),
                                                  "As for /Users/{id}.") if method in ("put", "patch") else None)
            for method in ("get", "put", "patch", "delete")
        }}
        user_ops["/Me"]["delete"]["responses"] = {"204": {"description": "Deleted."}, **_errors(_BODY_ERRORS)}
    return {
        "/.search": {"post": _operation("Search every resource type", "searchAll", "Search",
                                        {"200": _ok(_ref("ListResponse"), "A page of resources."),
                                         **_errors(_BODY_ERRORS)},
                                        body=_request_body(_ref("SearchRequest"), "The search."))},
        "/Bulk": {"post": _operation("Several operations in one request", "bulk", "Bulk",
                                     {"200": _ok(_ref("BulkResponse"), "One result per operation."),
                                      **_errors(_BODY_ERRORS)},
                                     body=_request_body(_ref("BulkRequest"), "The operations."))},
        **user_ops,
    }


def build_openapi(catalog: Catalog, config: Mapping[str, Any], version: str = "") -> dict:
    """The OpenAPI 3.1 document for an app with this catalog and (validated) configuration."""
    paths: dict[str, dict] = {}
    for rt in catalog.resource_types:
        paths.update(_resource_paths(rt))
    paths.update(_other_paths(catalog))
    paths.update(_discovery_paths())
    responses = {
        f"Error{status}": {"description": description, "content": _scim_content(_ref("Error"))}
        for status, description in ERROR_STATUSES.items()
    }
    for status in ("401",):
        responses[f"Error{status}"]["headers"] = {
            "WWW-Authenticate": {"required": True, "schema": {"type": "string"}}}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "SCIM 2.0 service provider (scimflask)",
            "version": version or "0",
            "description": (
                "RFC 7643/7644 SCIM API with RFC 9865 cursor paging. Bodies are application/scim+json; "
                f"bodies over {config[ConfigKeys.MAX_PAYLOAD_BYTES]} bytes, pages over "
                f"{config[ConfigKeys.MAX_PAGE_SIZE]} resources and Bulk requests over "
                f"{config[ConfigKeys.BULK_MAX_OPERATIONS]} operations are refused or clamped."),
        },
        "servers": [{"url": config[ConfigKeys.URL_PREFIX] or "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "A scimflask token (RFC 6750)."}},
            "schemas": message_schemas(catalog),
            "responses": responses,
        },
    }
