"""The provisioning log's background writer: requests only queue a snapshot, the writer builds
and stores the entries in batches, a lone entry is stored within the flush delay, reading the
log and exiting store what waits, a closed log stores nothing, and no failure reaches a request."""

from __future__ import annotations

import gc
import json
import logging
import subprocess
import sys
import textwrap
import time

import pytest

from scimflask.ops import provisioning_log
from scimflask.ops.log_identity import Identity
from scimflask.ops.provisioning_log import FLUSH_SECONDS, ProvisioningLog, entry_to_dict
from scimflask.storage.capabilities import LogQuery
from tests.conftest import ScimClient

from .conftest import require_operations

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
OKTA = "Okta SCIM Client 1.0.0"
# How long a stored entry may take beyond the flush delay on a busy test machine.
SLACK = 5.0


def patch(*operations: dict) -> dict:
    return {"schemas": [PATCH], "Operations": list(operations)}


def user(name: str, **more) -> dict:
    return {"schemas": [CORE], "userName": name, **more}


def stored(app, tenant: str) -> list:
    """The tenant's entries as stored, newest first (read past the log, so nothing is flushed)."""
    return app.extensions["scim"].storage.query_log(tenant, LogQuery(limit=100))


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture
def held(monkeypatch):
    """The writer is never woken: entries wait until something flushes them, all in one batch."""
    monkeypatch.setattr(ProvisioningLog, "_wake_writer", lambda self: None)


def log_app(make_app, tenant: str, **config):
    app = make_app(SCIM_DEFAULT_TENANT=tenant, **config)
    require_operations(app)
    return app


def test_a_lone_write_is_stored_within_the_flush_delay(make_app, tenant):
    app = log_app(make_app, tenant)
    client = ScimClient(app)
    for round_number in range(2):  # the second one after the writer's first batch: it is woken again
        assert client.post("/Users", json=user(f"lone{round_number}")).status_code == 201
        # Read from the store itself: nothing asks for a flush, the writer stores it on its own.
        assert wait_for(lambda count=round_number + 1: len(stored(app, tenant)) == count, FLUSH_SECONDS + SLACK)
    assert [e.user_name for e in stored(app, tenant)] == ["lone1", "lone0"]


def sequence(client: ScimClient) -> list:
    """Five writes of one user, each with a request id of its own; the responses."""
    def headers(number: int) -> dict:
        return {"User-Agent": OKTA, "X-Request-Id": f"req-{number}"}

    answers = [client.post("/Users", json=user("ada@example.com", displayName="Ada", externalId="e-ada"),
                           headers=headers(1))]
    user_id = answers[0].get_json()["id"]
    answers.append(client.post("/Users", json=user("ada@example.com", displayName="Other"), headers=headers(2)))
    answers.append(client.patch(f"/Users/{user_id}", json=patch(
        {"op": "replace", "path": "displayName", "value": "Ada L."}), headers=headers(3)))
    answers.append(client.patch(f"/Users/{user_id}", json=patch({"op": "frobnicate", "path": "title"}),
                                headers=headers(4)))
    answers.append(client.delete(f"/Users/{user_id}", headers=headers(5)))
    assert [answer.status_code for answer in answers] == [201, 409, 200, 400, 204]
    return answers


def test_entries_are_the_same_whether_built_by_the_writer_or_in_the_request(make_app, tenant, held):
    background = log_app(make_app, tenant + "-bg")
    inline = log_app(make_app, tenant + "-in", SCIM_LOG_BACKGROUND=False)
    before = time.time()
    sequence(ScimClient(background))
    sequence(ScimClient(inline))
    assert stored(background, tenant + "-bg") == []  # all five wait for one batch
    found = {name: [entry_to_dict(e) for e in reversed(app.extensions["scim"].log.query(name))]
             for name, app in ((tenant + "-bg", background), (tenant + "-in", inline))}

    def comparable(entry: dict) -> dict:
        return {key: value for key, value in entry.items() if key not in ("id", "tenant", "time", "durationMs",
                                                                          "tokenId", "resourceId", "path")}

    assert [comparable(e) for e in found[tenant + "-bg"]] == [comparable(e) for e in found[tenant + "-in"]]
    entries = found[tenant + "-bg"]
    assert [(e["method"], e["status"], e["outcome"]) for e in entries] == [
        ("POST", 201, "success"), ("POST", 409, "failure"), ("PATCH", 200, "success"),
        ("PATCH", 400, "failure"), ("DELETE", 204, "success")]
    # Who: as sent, from the failed body, and for the failed PATCH and the DELETE from the latest
    # entry before them in the same batch (the rename).
    assert [(e["userName"], e["displayName"], e["externalId"]) for e in entries] == [
        ("ada@example.com", "Ada", "e-ada"), ("ada@example.com", "Other", None),
        ("ada@example.com", "Ada L.", "e-ada"), ("ada@example.com", "Ada L.", "e-ada"),
        ("ada@example.com", "Ada L.", "e-ada")]
    assert entries[1]["scimType"] == "uniqueness" and entries[1]["detail"]
    assert entries[3]["detail"] and entries[2]["changed"] == ["displayName"]
    assert [e["requestId"] for e in entries] == [f"req-{n}" for n in range(1, 6)]
    assert all((e["client"], e["userAgent"]) == ("okta", OKTA) for e in entries)
    assert all(isinstance(e["durationMs"], int) and e["durationMs"] >= 0 for e in entries)
    ids = [e["id"] for e in entries]
    assert ids == sorted(ids) and len(set(ids)) == 5
    # The time is the request's, not the writer's: taken before the batch was stored.
    times = [e.time.timestamp() for e in reversed(stored(background, tenant + "-bg"))]
    assert before <= times[0] <= times[-1] <= time.time()


def test_identity_comes_from_the_latest_entry_before_not_after(make_app, tenant, held):
    app = log_app(make_app, tenant)
    state = app.extensions["scim"]
    client = ScimClient(app)
    user_id = client.post("/Users", json=user("grace", displayName="Old")).get_json()["id"]
    state.log.flush()  # stored: the next batch finds "Old" in the stored log
    assert client.patch(f"/Users/{user_id}", json=patch({"op": "frobnicate", "path": "title"})).status_code == 400
    assert client.patch(f"/Users/{user_id}", json=patch(
        {"op": "replace", "path": "displayName", "value": "New"})).status_code == 200
    assert client.delete(f"/Users/{user_id}").status_code == 204
    entries = list(reversed(state.log.query(tenant)))
    assert [(e.method, e.status, e.display_name) for e in entries] == [
        ("POST", 201, "Old"), ("PATCH", 400, "Old"), ("PATCH", 200, "New"), ("DELETE", 204, "New")]


def test_the_audit_line_is_emitted_in_the_request_with_its_request_id(make_app, tenant, held, caplog):
    app = log_app(make_app, tenant)
    with caplog.at_level(logging.INFO, logger="scimflask.audit"):
        answer = ScimClient(app).post("/Users", json=user("audited"), headers={"X-Request-Id": "audit-1"})
        lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "scimflask.audit"]
    assert answer.status_code == 201
    assert [(line["requestId"], line["userName"], line["method"]) for line in lines] == [("audit-1", "audited", "POST")]
    assert stored(app, tenant) == []  # the entry itself still waits for the writer
    assert [e.id for e in app.extensions["scim"].log.query(tenant)] == [lines[0]["id"]]


def test_reading_the_log_stores_what_waits(make_app, tenant, held):
    app = log_app(make_app, tenant)
    state = app.extensions["scim"]
    assert ScimClient(app).post("/Users", json=user("waiting")).status_code == 201
    assert stored(app, tenant) == []
    assert [e.user_name for e in state.log.query(tenant)] == ["waiting"]
    assert ScimClient(app).post("/Users", json=user("counted")).status_code == 201
    assert sum(hour.writes for hour in state.log.hours(tenant, state.log.query(tenant)[-1].time)) == 2


def test_the_exit_hook_stores_what_waits(make_app, tenant, held):
    app = log_app(make_app, tenant)
    assert ScimClient(app).post("/Users", json=user("at-exit")).status_code == 201
    assert stored(app, tenant) == []
    provisioning_log._flush_all()
    assert [e.user_name for e in stored(app, tenant)] == ["at-exit"]


def test_a_process_that_exits_at_once_keeps_its_entries(tmp_path):
    uri = f"sqlite:///{tmp_path / 'exit.db'}"
    script = textwrap.dedent(f"""
        from scimflask import create_app
        app = create_app({{"SCIM_STORAGE_URI": {uri!r}, "SCIM_BEARER_TOKENS": ("token-0123456789",),
                          "SCIM_DEFAULT_TENANT": "exit"}})
        answer = app.test_client().post("/scim/v2/Users", json={{"schemas": [{CORE!r}], "userName": "bye"}},
                                        headers={{"Authorization": "Bearer token-0123456789"}})
        assert answer.status_code == 201, answer.get_data()
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    from scimflask import create_app

    app = create_app({"SCIM_STORAGE_URI": uri})
    assert [e.user_name for e in stored(app, "exit")] == ["bye"]


def test_a_closed_log_stores_nothing_more(make_app, tenant):
    app = log_app(make_app, tenant)
    state = app.extensions["scim"]
    client = ScimClient(app)
    assert client.post("/Users", json=user("before-close")).status_code == 201
    writer = state.log._writer
    state.log.close()  # stores what waits
    assert [e.user_name for e in stored(app, tenant)] == ["before-close"]
    appended: list = []
    state.storage.append_logs = appended.append
    assert client.post("/Users", json=user("after-close")).status_code == 201
    state.log.flush()
    provisioning_log._flush_all()
    assert appended == []
    writer.join(FLUSH_SECONDS + SLACK)
    assert not writer.is_alive()


def test_the_exit_hook_after_the_log_and_storage_closed_writes_nothing(make_app, tenant, held):
    app = log_app(make_app, tenant)
    state = app.extensions["scim"]
    assert ScimClient(app).post("/Users", json=user("closing")).status_code == 201
    state.log.close()
    state.storage.close()
    state.storage.append_logs = lambda entries: pytest.fail("written to a closed store")
    provisioning_log._flush_all()  # neither raises nor writes


def test_a_failing_store_or_build_never_reaches_a_request_nor_stops_the_writer(make_app, tenant, caplog):
    app = log_app(make_app, tenant)
    state = app.extensions["scim"]
    client = ScimClient(app)
    working = state.storage.append_logs
    failures = [RuntimeError("log store is down")]

    def flaky(entries):
        if failures:
            raise failures.pop()
        working(entries)

    state.storage.append_logs = flaky
    assert client.post("/Users", json=user("lost")).status_code == 201
    assert wait_for(lambda: "could not store 1 entry" in caplog.text, FLUSH_SECONDS + SLACK)
    assert client.post("/Users", json=user("kept")).status_code == 201
    assert wait_for(lambda: [e.user_name for e in stored(app, tenant)] == ["kept"], FLUSH_SECONDS + SLACK)

    def broken(record):
        raise ValueError("cannot build")

    state.log.entries = broken
    assert client.post("/Users", json=user("unbuilt")).status_code == 201
    state.log.flush()
    assert "could not build entries for POST /Users" in caplog.text
    assert [e.user_name for e in stored(app, tenant)] == ["kept"]


def reachable_containers(root: object) -> set[str]:
    """The type names of the objects the garbage collector would walk from `root` (classes
    aside: every object refers to its own)."""
    seen, names, todo = set(), set(), [root]
    while todo:
        item = todo.pop()
        if id(item) in seen or not gc.is_tracked(item) or isinstance(item, type):
            continue
        seen.add(id(item))
        names.add(type(item).__name__)
        todo.extend(gc.get_referents(item))
    return names


def test_a_waiting_snapshot_keeps_no_resource_document(make_app, tenant, held):
    # A snapshot waits up to FLUSH_SECONDS: what it keeps of a write's events must be the
    # target and its identity only, nothing the garbage collector would walk through.
    app = log_app(make_app, tenant)
    client = ScimClient(app)
    assert client.post("/Users", json=user("grace@example.com", displayName="Grace", title="Rear Admiral",
                                           emails=[{"value": "grace@example.com"}])).status_code == 201
    provisioning_log = app.extensions["scim"].log
    (record,) = provisioning_log._pending
    (change,) = record.events
    assert change.identity == Identity("grace@example.com", "Grace", None)
    assert change.action == "created" and change.resource_type == "User"
    assert "title" in change.changed and "emails" in change.changed
    assert reachable_containers(record.events) == {"list", "Change", "Identity", "tuple"}
    assert [e.user_name for e in provisioning_log.query(tenant)] == ["grace@example.com"]


def test_a_log_switched_off_collects_no_events(make_app, tenant, held):
    app = log_app(make_app, tenant, SCIM_LOG_ENABLED=False)
    client = ScimClient(app)
    with app.test_request_context():
        from flask import g

        from scimflask.events import CREATED, ResourceEvent
        from scimflask.model import RequestContext

        event = ResourceEvent(CREATED, "User", "u1", RequestContext(tenant=tenant), {"userName": "x"})
        app.extensions["scim"].pm.hook.scimflask_resource_changed(event=event)
        assert "scim_log_events" not in g
    assert client.post("/Users", json=user("off@example.com")).status_code == 201
    assert app.extensions["scim"].log._pending == []
