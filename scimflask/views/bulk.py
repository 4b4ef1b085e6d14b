"""`POST /Bulk` (RFC 7644 §3.7).

Each operation runs through the same `Operations` as its single-request twin and is atomic on
its own. `bulkId:` references (in data and in paths) are resolved to the ids created earlier in
the request; operations are run in request order, except that one whose references are not yet
resolvable waits until they are. Operations left waiting when nothing else can run reference each
other (or themselves) in a cycle, or reference a failed operation, and get 409 (RFC 7644 §3.7.1
allows stopping there).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import cast

from flask import Blueprint

from ..config import ConfigKeys
from ..errors import InvalidSyntax, InvalidValue, NotFoundError, PayloadTooLarge, ScimError
from ..model import Resource
from ..operations import Operations
from ..protocol.etag import etag_for, expected_version
from ..protocol.messages import BULK_REQUEST, BULK_RESPONSE
from ..state import ScimState
from .http import json_object, request_context, scim_response, scim_route

_REFERENCE = re.compile(r"^bulkId:(.+)$")
_METHODS = ("POST", "PUT", "PATCH", "DELETE")


@dataclass
class BulkOperation:
    index: int
    method: str
    path: str
    bulk_id: str | None
    version: str | None
    data: object


class Unresolved(Exception):
    """The operation references a bulkId whose operation has not (successfully) run yet."""

    def __init__(self, bulk_id: str) -> None:
        super().__init__(bulk_id)
        self.bulk_id = bulk_id


def _parse(body: dict, max_operations: int) -> tuple[list[BulkOperation], int | None]:
    schemas = body.get("schemas")
    if not isinstance(schemas, list) or BULK_REQUEST.lower() not in [
            s.lower() for s in schemas if isinstance(s, str)]:
        raise InvalidSyntax(f"a BulkRequest must list {BULK_REQUEST!r} in schemas")
    operations = body.get("Operations")
    if not isinstance(operations, list) or not operations:
        raise InvalidSyntax("a BulkRequest needs a non-empty 'Operations' list")
    if len(operations) > max_operations:
        raise PayloadTooLarge(f"the BulkRequest has {len(operations)} operations; maxOperations is {max_operations}")
    fail_on_errors = body.get("failOnErrors")
    if fail_on_errors is not None and (not isinstance(fail_on_errors, int) or isinstance(fail_on_errors, bool)
                                       or fail_on_errors < 1):
        raise InvalidValue("failOnErrors must be a positive integer")
    parsed, seen = [], set()
    for index, op in enumerate(operations):
        if not isinstance(op, dict):
            raise InvalidSyntax(f"Operations[{index}] must be an object")
        method = op.get("method")
        path = op.get("path")
        bulk_id = op.get("bulkId")
        if not isinstance(method, str) or method.upper() not in _METHODS:
            raise InvalidSyntax(f"Operations[{index}].method must be one of {', '.join(_METHODS)}")
        if not isinstance(path, str) or not path.startswith("/"):
            raise InvalidSyntax(f"Operations[{index}].path must be a resource path such as '/Users'")
        if bulk_id is not None and (not isinstance(bulk_id, str) or not bulk_id):
            raise InvalidSyntax(f"Operations[{index}].bulkId must be a non-empty string")
        if method.upper() == "POST" and bulk_id is None:
            raise InvalidSyntax(f"Operations[{index}]: POST operations require a bulkId")
        if bulk_id is not None:
            if bulk_id in seen:
                raise InvalidSyntax(f"bulkId {bulk_id!r} is used by more than one operation")
            seen.add(bulk_id)
        version = op.get("version")
        if version is not None and not isinstance(version, str):
            raise InvalidSyntax(f"Operations[{index}].version must be a string")
        data = op.get("data")
        if method.upper() in ("POST", "PUT", "PATCH") and not isinstance(data, dict):
            raise InvalidSyntax(f"Operations[{index}].data must be an object")
        parsed.append(BulkOperation(index, method.upper(), path, bulk_id, version, data))
    return parsed, fail_on_errors


def _resolve(value: object, created: dict[str, str], failed: set[str]) -> object:
    """Replace every "bulkId:x" string with x's new id; raise Unresolved when x is not done."""
    if isinstance(value, str):
        match = _REFERENCE.match(value)
        if match is None:
            return value
        bulk_id = match.group(1)
        if bulk_id in created:
            return created[bulk_id]
        raise Unresolved(bulk_id)
    if isinstance(value, list):
        return [_resolve(v, created, failed) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, created, failed) for k, v in value.items()}
    return value


def register(bp: Blueprint, state: ScimState) -> None:
    ops = Operations(state)
    by_endpoint = {rt.endpoint.lower(): rt for rt in state.catalog.resource_types}

    def run(op: BulkOperation, created: dict[str, str], failed: set[str]) -> dict:
        ctx = request_context()
        path = "/".join(str(_resolve(part, created, failed)) for part in op.path.split("/"))
        # _parse checked that POST, PUT and PATCH carry an object; DELETE ignores data.
        data = cast(dict, _resolve(op.data, created, failed))
        parts = path.strip("/").split("/")
        rt = by_endpoint.get("/" + parts[0].lower()) if parts else None
        if rt is None or len(parts) > 2:
            raise NotFoundError(f"no resource endpoint at {op.path!r}")
        if op.method == "POST":
            if len(parts) != 1:
                raise ScimError(f"POST goes to a resource type endpoint, not {op.path!r}", status=405)
            resource = ops.create(ctx, rt.name, data)
            return _result(op, resource, 201, rt.location(ctx.base_url, resource.id))
        if len(parts) != 2:
            raise ScimError(f"{op.method} needs a resource id in its path", status=405)
        id = parts[1]
        version = expected_version(op.version)
        if op.method == "PUT":
            return _result(op, ops.replace(ctx, rt.name, id, data, version), 200, rt.location(ctx.base_url, id))
        if op.method == "PATCH":
            resource, _ = ops.patch(ctx, rt.name, id, data, version)
            return _result(op, resource, 200, rt.location(ctx.base_url, id))
        ops.delete(ctx, rt.name, id, version)
        out = {"method": op.method, "location": rt.location(ctx.base_url, id), "status": "204"}
        if op.bulk_id:
            out["bulkId"] = op.bulk_id
        return out

    @scim_route(bp, "/Bulk", ("POST",))
    def bulk_view():
        config = state.config
        body = json_object(config[ConfigKeys.MAX_PAYLOAD_BYTES])
        operations, fail_on_errors = _parse(body, config[ConfigKeys.BULK_MAX_OPERATIONS])
        created: dict[str, str] = {}
        failed: set[str] = set()
        results: dict[int, dict] = {}
        errors = 0
        pending = list(operations)
        while pending and (fail_on_errors is None or errors < fail_on_errors):
            progressed = False
            waiting = []
            for op in pending:
                if fail_on_errors is not None and errors >= fail_on_errors:
                    break
                try:
                    results[op.index] = run(op, created, failed)
                    if op.method == "POST" and op.bulk_id:
                        created[op.bulk_id] = results[op.index]["location"].rsplit("/", 1)[1]
                    progressed = True
                except Unresolved as exc:
                    if exc.bulk_id in failed or exc.bulk_id not in {o.bulk_id for o in operations}:
                        results[op.index] = _error(op, ScimError(
                            f"bulkId {exc.bulk_id!r} names no operation that succeeded", status=409))
                        errors += 1
                        if op.bulk_id:
                            failed.add(op.bulk_id)
                        progressed = True
                    else:
                        waiting.append(op)
                except ScimError as exc:
                    results[op.index] = _error(op, exc)
                    errors += 1
                    if op.bulk_id:
                        failed.add(op.bulk_id)
                    progressed = True
            pending = [op for op in waiting if op.index not in results]
            if not progressed:
                for op in pending:
                    results[op.index] = _error(op, ScimError(
                        "circular bulkId reference could not be resolved", status=409))
                    errors += 1
                break
        body = {"schemas": [BULK_RESPONSE], "Operations": [results[i] for i in sorted(results)]}
        return scim_response(body, 200)


def _result(op: BulkOperation, resource: Resource, status: int, location: str) -> dict:
    out = {"method": op.method, "location": location,
           "version": etag_for(resource.version), "status": str(status)}
    if op.bulk_id:
        out["bulkId"] = op.bulk_id
    return out


def _error(op: BulkOperation, error: ScimError) -> dict:
    out = {"method": op.method, "status": str(error.status), "response": error.to_dict()}
    if op.bulk_id:
        out["bulkId"] = op.bulk_id
    return out
