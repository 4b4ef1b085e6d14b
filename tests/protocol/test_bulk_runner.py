"""The Bulk scheduler without HTTP (RFC 7644 §3.7): a fake executor records what runs, in which
order and with which resolved references."""

from __future__ import annotations

import pytest

from scimflask.bulk import BulkOperation, Outcome, Written, parse_bulk_request, resolve, run_bulk
from scimflask.errors import InvalidSyntax, InvalidValue, PayloadTooLarge

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


class FakeExecutor:
    """Gives every POST the id "id-<bulkId>"; fails the bulkIds in `failing` with a 400."""

    def __init__(self, *failing: str) -> None:
        self.failing = set(failing)
        self.calls: list[tuple[str, str, object]] = []

    def __call__(self, op: BulkOperation, path: str, data: object) -> Written:
        self.calls.append((op.bulk_id or f"#{op.index}", path, data))
        if op.bulk_id in self.failing:
            raise InvalidValue(f"{op.bulk_id} is refused")
        id = f"id-{op.bulk_id}" if op.method == "POST" else path.rsplit("/", 1)[1]
        return Written(id, f"https://scim.example{path}", 1, 201 if op.method == "POST" else 200)

    def order(self) -> list[str]:
        return [name for name, _, _ in self.calls]


def post(bulk_id: str, *refs: str, path: str = "/Groups") -> dict:
    return {"method": "POST", "path": path, "bulkId": bulk_id,
            "data": {"displayName": bulk_id, "members": [{"value": f"bulkId:{r}"} for r in refs]}}


def run(*operations: dict, fail_on_errors: int | None = None, failing: tuple[str, ...] = ()):
    body: dict = {"schemas": [BULK], "Operations": list(operations)}
    if fail_on_errors is not None:
        body["failOnErrors"] = fail_on_errors
    execute = FakeExecutor(*failing)
    outcomes = run_bulk(parse_bulk_request(body, 1000), execute)
    return outcomes, execute


def statuses(outcomes: list[Outcome]) -> dict[str, int]:
    return {o.operation.bulk_id or f"#{o.operation.index}":
            o.error.status if o.error is not None else o.written.status for o in outcomes}  # type: ignore[union-attr]


def test_independent_operations_run_in_request_order():
    outcomes, execute = run(post("a"), post("b"), post("c"))
    assert execute.order() == ["a", "b", "c"]
    assert [o.operation.index for o in outcomes] == [0, 1, 2]
    assert [o.written.id for o in outcomes] == ["id-a", "id-b", "id-c"]  # type: ignore[union-attr]


def test_a_dependency_runs_before_the_operation_that_references_it():
    outcomes, execute = run(post("g", "u1", "u2"), post("u1", path="/Users"), post("u2", path="/Users"))
    assert execute.order() == ["u1", "u2", "g"]
    assert execute.calls[2][2] == {"displayName": "g", "members": [{"value": "id-u1"}, {"value": "id-u2"}]}
    # The outcomes keep the request's order, whatever order the operations ran in.
    assert [o.operation.bulk_id for o in outcomes] == ["g", "u1", "u2"]
    assert statuses(outcomes) == {"g": 201, "u1": 201, "u2": 201}


def test_chains_of_forward_references_resolve_over_several_passes():
    outcomes, execute = run(post("a", "b"), post("b", "c"), post("c"))
    assert execute.order() == ["c", "b", "a"]
    assert execute.calls[1][2]["members"] == [{"value": "id-c"}]  # type: ignore[index]
    assert execute.calls[2][2]["members"] == [{"value": "id-b"}]  # type: ignore[index]


def test_a_forward_reference_in_the_path_is_resolved():
    patch = {"method": "PATCH", "path": "/Users/bulkId:u", "data": {"Operations": []}}
    delete = {"method": "DELETE", "path": "/Users/bulkId:u"}
    outcomes, execute = run(patch, post("u", path="/Users"), delete)
    # The DELETE after the POST resolves in the first pass; the PATCH before it waits for the second.
    assert execute.calls == [("u", "/Users", {"displayName": "u", "members": []}),
                             ("#2", "/Users/id-u", None),
                             ("#0", "/Users/id-u", {"Operations": []})]
    # The executor gets the operation as sent, so errors can quote the client's path.
    assert outcomes[0].operation.path == "/Users/bulkId:u"


def test_bulk_ids_inside_nested_values_are_resolved_and_nothing_else_changes():
    created = {"u": "id-u", "g": "id-g"}
    value = {"members": [{"value": "bulkId:u", "display": "bulkId:"}],
             "urn:ext": {"manager": {"value": "bulkId:g"}, "list": [["bulkId:u"], 5, None, True]},
             "bulkId:u": "kept as a key", "text": "see bulkId:u"}
    assert resolve(value, created) == {
        "members": [{"value": "id-u", "display": "bulkId:"}],
        "urn:ext": {"manager": {"value": "id-g"}, "list": [["id-u"], 5, None, True]},
        "bulkId:u": "kept as a key", "text": "see bulkId:u"}

    deep = {"method": "PUT", "path": "/Users/bulkId:u",
            "data": {"urn:ext": {"manager": {"value": "bulkId:m"}}, "emails": [{"value": "bulkId:u"}]}}
    _, execute = run(deep, post("u", path="/Users"), post("m", path="/Users"))
    assert execute.order() == ["u", "m", "#0"]
    assert execute.calls[2][2] == {"urn:ext": {"manager": {"value": "id-m"}}, "emails": [{"value": "id-u"}]}


def test_cycles_and_self_references_get_409_and_never_run():
    outcomes, execute = run(post("x", "y"), post("y", "x"), post("self", "self"), post("fine"))
    assert execute.order() == ["fine"]
    assert statuses(outcomes) == {"x": 409, "y": 409, "self": 409, "fine": 201}
    assert all("circular" in o.error.detail for o in outcomes if o.error is not None)


def test_an_operation_waiting_on_a_cycle_is_part_of_it():
    outcomes, execute = run(post("a", "b"), post("b", "c"), post("c", "b"), post("d"))
    assert execute.order() == ["d"]
    assert statuses(outcomes) == {"a": 409, "b": 409, "c": 409, "d": 201}


def test_references_to_unknown_or_failed_operations_get_409_without_running():
    outcomes, execute = run(post("bad"), post("g", "bad"), post("h", "nowhere"), post("late", "bad2"),
                            post("bad2"), failing=("bad", "bad2"))
    assert execute.order() == ["bad", "bad2"]
    assert statuses(outcomes) == {"bad": 400, "g": 409, "h": 409, "late": 409, "bad2": 400}
    by_id = {o.operation.bulk_id: o for o in outcomes}
    assert by_id["h"].error.detail == "bulkId 'nowhere' names no operation that succeeded"  # type: ignore[union-attr]
    assert by_id["late"].error.detail == "bulkId 'bad2' names no operation that succeeded"  # type: ignore[union-attr]


def test_a_failure_propagates_along_a_chain_of_references():
    outcomes, execute = run(post("a", "b"), post("b", "c"), post("c"), failing=("c",))
    assert execute.order() == ["c"]
    assert statuses(outcomes) == {"a": 409, "b": 409, "c": 400}


def test_fail_on_errors_stops_once_reached():
    outcomes, execute = run(post("a"), post("b"), post("c"), post("d"), fail_on_errors=2, failing=("a", "c"))
    assert execute.order() == ["a", "b", "c"]
    assert statuses(outcomes) == {"a": 400, "b": 201, "c": 400}


def test_fail_on_errors_counts_reference_errors_and_stops_waiting_operations():
    outcomes, execute = run(post("waits", "later"), post("h", "nowhere"), post("later"), fail_on_errors=1)
    assert execute.order() == []
    assert statuses(outcomes) == {"h": 409}


def test_without_fail_on_errors_every_operation_runs():
    outcomes, execute = run(post("a"), post("b"), post("c"), failing=("a", "b", "c"))
    assert execute.order() == ["a", "b", "c"]
    assert statuses(outcomes) == {"a": 400, "b": 400, "c": 400}


def test_errors_other_than_scim_errors_propagate():
    def broken(op, path, data):
        raise RuntimeError("storage down")

    with pytest.raises(RuntimeError):
        run_bulk(parse_bulk_request({"schemas": [BULK], "Operations": [post("a")]}, 10), broken)


@pytest.mark.parametrize("body, error", [
    ({"Operations": [post("a")]}, InvalidSyntax),
    ({"schemas": [BULK], "Operations": []}, InvalidSyntax),
    ({"schemas": [BULK], "Operations": [post("a"), post("a")]}, InvalidSyntax),
    ({"schemas": [BULK], "Operations": [{"method": "POST", "path": "/Users", "data": {}}]}, InvalidSyntax),
    ({"schemas": [BULK], "Operations": [{"method": "GET", "path": "/Users"}]}, InvalidSyntax),
    ({"schemas": [BULK], "Operations": [{"method": "PUT", "path": "Users/1", "data": {}}]}, InvalidSyntax),
    ({"schemas": [BULK], "Operations": [{"method": "PATCH", "path": "/Users/1"}]}, InvalidSyntax),
    ({"schemas": [BULK], "Operations": [{"method": "DELETE", "path": "/Users/1", "version": 3}]}, InvalidSyntax),
    ({"schemas": [BULK], "failOnErrors": 0, "Operations": [post("a")]}, InvalidValue),
    ({"schemas": [BULK], "failOnErrors": True, "Operations": [post("a")]}, InvalidValue),
    ({"schemas": [BULK], "Operations": [post(str(i)) for i in range(4)]}, PayloadTooLarge),
])
def test_malformed_requests_are_refused_before_anything_runs(body, error):
    with pytest.raises(error):
        parse_bulk_request(body, 3)


def test_parsing_normalises_the_method_and_keeps_the_rest():
    request = parse_bulk_request({"schemas": [BULK.upper()], "failOnErrors": 2, "Operations": [
        {"method": "delete", "path": "/Users/1", "bulkId": "d", "version": 'W/"3"'}]}, 10)
    assert request.fail_on_errors == 2
    assert request.operations == [BulkOperation(0, "DELETE", "/Users/1", "d", 'W/"3"', None)]
