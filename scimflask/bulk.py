"""Bulk requests (RFC 7644 §3.7) without HTTP: parsing, bulkId scheduling, failOnErrors.

`run_bulk` decides what runs when; a callable runs one operation (`BulkExecutor` runs it
through the same `Operations` as its single-request twin, so each is atomic on its own).
`bulkId:` references, in data and in paths, are replaced by the ids created earlier in the
request. Operations run in request order, except that one whose references are not yet
resolvable waits for a later pass. Operations still waiting when a pass makes no progress
reference each other (or themselves) in a cycle and get 409 (RFC 7644 §3.7.3); a reference to
an operation that failed or does not exist gets 409 at once. Once `failOnErrors` errors have
been counted, nothing more runs (RFC 7644 §3.7.1).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from .errors import InvalidSyntax, InvalidValue, NotFoundError, PayloadTooLarge, ScimError
from .protocol.etag import expected_version
from .protocol.messages import BULK_REQUEST

if TYPE_CHECKING:
    from .model import RequestContext
    from .operations import Operations

_REFERENCE = re.compile(r"^bulkId:(.+)$")
METHODS = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class BulkOperation:
    """One entry of a BulkRequest's `Operations`, checked for shape."""

    index: int
    method: str
    path: str
    bulk_id: str | None = None
    version: str | None = None
    data: object = None


@dataclass(frozen=True)
class BulkRequest:
    operations: list[BulkOperation]
    fail_on_errors: int | None = None


@dataclass(frozen=True)
class Written:
    """What a successful operation did: the resource's id and location, its version after the
    write (None once deleted) and the HTTP status its single request would have had."""

    id: str
    location: str
    version: int | None
    status: int


@dataclass(frozen=True)
class Outcome:
    """One operation's entry in the BulkResponse: exactly one of `written` and `error` is set.
    `path` is the operation's path with its bulkId references resolved as far as they could be
    (the provisioning log names a failed operation's target by it)."""

    operation: BulkOperation
    written: Written | None = None
    error: ScimError | None = None
    path: str | None = None


# Runs one operation: the operation as sent, then its path and data with references resolved.
Execute = Callable[[BulkOperation, str, object], Written]


def parse_bulk_request(body: dict, max_operations: int) -> BulkRequest:
    """The BulkRequest in `body`; anything malformed is refused before any operation runs."""
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
    seen: set[str] = set()
    return BulkRequest([_parse_operation(index, op, seen) for index, op in enumerate(operations)], fail_on_errors)


def _parse_operation(index: int, op: object, seen: set[str]) -> BulkOperation:
    """Operations[index], checked; `seen` collects the bulkIds so far (each may be used once)."""
    if not isinstance(op, dict):
        raise InvalidSyntax(f"Operations[{index}] must be an object")
    method = op.get("method")
    path = op.get("path")
    bulk_id = op.get("bulkId")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise InvalidSyntax(f"Operations[{index}].method must be one of {', '.join(METHODS)}")
    if not isinstance(path, str) or not path.startswith("/"):
        raise InvalidSyntax(f"Operations[{index}].path must be a resource path such as '/Users'")
    if bulk_id is not None and (not isinstance(bulk_id, str) or not bulk_id):
        raise InvalidSyntax(f"Operations[{index}].bulkId must be a non-empty string")
    method = method.upper()
    if method == "POST" and bulk_id is None:
        raise InvalidSyntax(f"Operations[{index}]: POST operations require a bulkId")
    if bulk_id is not None:
        if bulk_id in seen:
            raise InvalidSyntax(f"bulkId {bulk_id!r} is used by more than one operation")
        seen.add(bulk_id)
    version = op.get("version")
    if version is not None and not isinstance(version, str):
        raise InvalidSyntax(f"Operations[{index}].version must be a string")
    data = op.get("data")
    if method in ("POST", "PUT", "PATCH") and not isinstance(data, dict):
        raise InvalidSyntax(f"Operations[{index}].data must be an object")
    return BulkOperation(index, method, path, bulk_id, version, data)


class Unresolved(Exception):
    """The operation references a bulkId whose operation has not (successfully) run yet."""

    def __init__(self, bulk_id: str) -> None:
        super().__init__(bulk_id)
        self.bulk_id = bulk_id


def resolve(value: object, created: dict[str, str]) -> object:
    """`value` with every "bulkId:x" string, however deeply nested, replaced by x's new id.

    :raises Unresolved: for the first reference whose operation has created nothing yet.
    """
    if isinstance(value, str):
        match = _REFERENCE.match(value)
        if match is None:
            return value
        bulk_id = match.group(1)
        if bulk_id in created:
            return created[bulk_id]
        raise Unresolved(bulk_id)
    if isinstance(value, list):
        return [resolve(v, created) for v in value]
    if isinstance(value, dict):
        return {k: resolve(v, created) for k, v in value.items()}
    return value


def run_bulk(request: BulkRequest, execute: Execute) -> list[Outcome]:
    """Run the request's operations through `execute` (see module docstring).

    `execute` receives each operation with its path and data resolved and raises `ScimError`
    for a failure. The outcomes are in request order; operations never run (failOnErrors reached)
    have none.
    """
    return _Schedule(request, execute).run()


class _Schedule:
    """The state of one `run_bulk`: ids created so far, bulkIds that failed, errors counted."""

    def __init__(self, request: BulkRequest, execute: Execute) -> None:
        self.request = request
        self.execute = execute
        self.known = {op.bulk_id for op in request.operations if op.bulk_id is not None}
        self.created: dict[str, str] = {}
        self.failed: set[str] = set()
        self.outcomes: dict[int, Outcome] = {}
        self.errors = 0

    def run(self) -> list[Outcome]:
        pending = list(self.request.operations)
        while pending and not self._stopped():
            waiting = self._pass(pending)
            if len(waiting) == len(pending):  # nothing could run: the rest wait on each other
                for op in waiting:
                    self._fail(op, ScimError("circular bulkId reference could not be resolved", status=409))
                break
            pending = waiting
        return [self.outcomes[i] for i in sorted(self.outcomes)]

    def _stopped(self) -> bool:
        limit = self.request.fail_on_errors
        return limit is not None and self.errors >= limit

    def _pass(self, pending: list[BulkOperation]) -> list[BulkOperation]:
        """Run, in order, every pending operation whose references resolve; return the rest."""
        waiting = []
        for op in pending:
            if self._stopped():
                break
            try:
                path = "/".join(str(resolve(part, self.created)) for part in op.path.split("/"))
                data = resolve(op.data, self.created)
            except Unresolved as exc:
                if exc.bulk_id in self.failed or exc.bulk_id not in self.known:
                    self._fail(op, ScimError(f"bulkId {exc.bulk_id!r} names no operation that succeeded",
                                             status=409))
                else:
                    waiting.append(op)
                continue
            try:
                written = self.execute(op, path, data)
            except ScimError as exc:
                self._fail(op, exc, path)
                continue
            self.outcomes[op.index] = Outcome(op, written=written, path=path)
            if op.method == "POST" and op.bulk_id is not None:
                self.created[op.bulk_id] = written.id
        return waiting

    def _resolved(self, part: str) -> str:
        try:
            return str(resolve(part, self.created))
        except Unresolved:
            return part

    def _fail(self, op: BulkOperation, error: ScimError, path: str | None = None) -> None:
        """Record `op`'s failure; `path` is its resolved path, else the references known so far
        are resolved in it and the others left as sent."""
        if path is None:
            path = "/".join(self._resolved(part) for part in op.path.split("/"))
        self.outcomes[op.index] = Outcome(op, error=error, path=path)
        self.errors += 1
        if op.bulk_id is not None:
            self.failed.add(op.bulk_id)


class BulkExecutor:
    """Runs one resolved operation through `Operations`, as its single request would run."""

    def __init__(self, ops: Operations) -> None:
        self.ops = ops

    def __call__(self, ctx: RequestContext, op: BulkOperation, path: str, body: object) -> Written:
        parts = path.strip("/").split("/")
        rt = self.ops.catalog.resource_type_by_endpoint("/" + parts[0])
        if rt is None or len(parts) > 2:
            raise NotFoundError(f"no resource endpoint at {op.path!r}")
        # parse_bulk_request checked that POST, PUT and PATCH carry an object; DELETE ignores data.
        data = cast(dict, body)
        if op.method == "POST":
            if len(parts) != 1:
                raise ScimError(f"POST goes to a resource type endpoint, not {op.path!r}", status=405)
            resource = self.ops.create(ctx, rt.name, data)
            return Written(resource.id, rt.location(ctx.base_url, resource.id), resource.version, 201)
        if len(parts) != 2:
            raise ScimError(f"{op.method} needs a resource id in its path", status=405)
        id = parts[1]
        location = rt.location(ctx.base_url, id)
        version = expected_version(op.version)
        if op.method == "PUT":
            return Written(id, location, self.ops.replace(ctx, rt.name, id, data, version).version, 200)
        if op.method == "PATCH":
            resource, _ = self.ops.patch(ctx, rt.name, id, data, version)
            return Written(id, location, resource.version, 200)
        self.ops.delete(ctx, rt.name, id, version)
        return Written(id, location, None, 204)
