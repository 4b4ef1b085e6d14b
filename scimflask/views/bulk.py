"""`POST /Bulk` (RFC 7644 §3.7): the BulkRequest read from HTTP, run by `scimflask.bulk`, and
its outcomes rendered as a BulkResponse (always 200; each operation carries its own status)."""

from __future__ import annotations

from flask import Blueprint, g

from ..bulk import BulkExecutor, Outcome, parse_bulk_request, run_bulk
from ..config import ConfigKeys
from ..operations import Operations
from ..ops.provisioning_log import FailedOperation
from ..protocol.etag import etag_for
from ..protocol.messages import BULK_RESPONSE
from ..state import ScimState
from .http import json_object, request_context, scim_response, scim_route


def register(bp: Blueprint, state: ScimState) -> None:
    execute = BulkExecutor(Operations(state))

    @scim_route(bp, "/Bulk", ("POST",))
    def bulk_view():
        config = state.config
        body = json_object(config[ConfigKeys.MAX_PAYLOAD_BYTES])
        bulk_request = parse_bulk_request(body, config[ConfigKeys.BULK_MAX_OPERATIONS])
        ctx = request_context()
        outcomes = run_bulk(bulk_request, lambda op, path, data: execute(ctx, op, path, data))
        # The failed operations fire no resource event: the provisioning log takes them from here.
        g.scim_bulk_failures = [
            FailedOperation(o.operation.method, o.path or o.operation.path, o.error.status, o.error.scim_type,
                            o.error.detail, o.operation.data)
            for o in outcomes if o.error is not None]
        return scim_response({"schemas": [BULK_RESPONSE], "Operations": [_entry(o) for o in outcomes]}, 200)


def _entry(outcome: Outcome) -> dict:
    """One operation's BulkResponse entry (RFC 7644 §3.7.3): a location and version on success,
    the SCIM error as `response` on failure."""
    op = outcome.operation
    out: dict = {"method": op.method}
    if outcome.error is not None:
        out["status"] = str(outcome.error.status)
        out["response"] = outcome.error.to_dict()
    elif outcome.written is not None:
        written = outcome.written
        out["location"] = written.location
        if written.version is not None:
            out["version"] = etag_for(written.version)
        out["status"] = str(written.status)
    if op.bulk_id:
        out["bulkId"] = op.bulk_id
    return out
