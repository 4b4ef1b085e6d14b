"""The verifier itself: it passes a faithful store and catches each kind of damage it claims to.

Runs on the in-process memory backend (no services), with the facts built by hand the way a
client builds them, then the store is changed behind the clients' backs.
"""

from __future__ import annotations

import time

import pytest

from scimflask import Change, Resource, create_app
from scimflask.model import utcnow

from .ledger import Exchange, Fact, Ledger, UserPlan
from .verify import StoreReader, Verifier
from .workload import GROUP_SCHEMA, PATCH_SCHEMA, user_document

TOKEN = "verifier-token"
TENANT = "verifier"


@pytest.fixture
def store():
    app = create_app({"SCIM_STORAGE_URI": "memory://", "SCIM_BEARER_TOKENS": (TOKEN,),
                      "SCIM_DEFAULT_TENANT": TENANT, "SCIM_SECRET_KEY": "x", "TESTING": True})
    client = app.test_client()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    body, values = user_document("u1")
    user_id = client.post("/scim/v2/Users", json=body, headers=headers).get_json()["id"]
    group_id = client.post("/scim/v2/Groups", json={"schemas": [GROUP_SCHEMA], "displayName": "g"},
                           headers=headers).get_json()["id"]
    added = client.patch(f"/scim/v2/Groups/{group_id}", headers=headers, json={
        "schemas": [PATCH_SCHEMA], "Operations": [{"op": "Add", "path": "members", "value": [{"value": user_id}]}]})
    assert added.status_code in (200, 204)

    plan = UserPlan("u1", 0, Fact(False), {path: Fact(value) for path, value in values.items()}, id=user_id,
                    user_names={values["userName"]})
    plan.exists.acknowledge(True)
    plan.membership(group_id).acknowledge(True)
    ledger = Ledger()
    for action, status in (("create", 201), ("patch-members", 200)):
        ledger.add(Exchange(0, action, "X", "/", time.monotonic(), status=status))
    state = app.extensions["scim"]
    reader = StoreReader(state.storage, state.catalog, TENANT)
    return reader, ledger, plan, group_id


def verify(store):
    reader, ledger, plan, group_id = store
    return Verifier(reader, ledger, [plan], [group_id]).run()


def test_a_faithful_store_passes(store):
    figures = verify(store)
    assert (figures.problems, figures.lost, figures.acknowledged_writes, figures.verified_writes) == ([], 0, 2, 2)


def test_a_lost_attribute_write_is_counted(store):
    reader, _, plan, _ = store
    plan.attributes["title"].acknowledge("Boss")  # the client was told this PATCH succeeded
    figures = verify(store)
    assert figures.lost == 1 and "title='Tester'" in figures.problems[0]


def test_an_unacknowledged_write_may_or_may_not_have_happened(store):
    reader, _, plan, _ = store
    plan.attributes["title"].unacknowledged("Boss")
    assert verify(store).problems == []
    current = reader.storage.get(reader.ctx, "User", plan.id)
    reader.storage.update(reader.ctx, "User", plan.id, Change(data={**current.data, "title": "Boss"}), now=utcnow())
    assert verify(store).problems == []
    reader.storage.update(reader.ctx, "User", plan.id, Change(data={**current.data, "title": "Never sent"}),
                          now=utcnow())
    assert "Never sent" in verify(store).problems[0]


def test_a_lost_membership_and_a_lost_user_are_counted(store):
    reader, _, plan, group_id = store
    reader.storage.update(reader.ctx, "Group", group_id, Change(remove_members=[plan.id]), now=utcnow())
    figures = verify(store)
    assert figures.lost == 1 and f"group {group_id}" in figures.problems[0]
    reader.storage.delete(reader.ctx, "User", plan.id)
    figures = verify(store)
    assert figures.lost == 1 and "acknowledged create is missing" in figures.problems[0]


def test_an_undone_delete_and_a_stray_user_are_problems(store):
    reader, _, plan, group_id = store
    plan.exists.acknowledge(False)
    plan.membership(group_id).acknowledge(False)
    figures = verify(store)
    assert figures.lost == 2  # the user is back, and so is its membership
    assert any("acknowledged delete was undone" in p for p in figures.problems)


def test_two_acknowledged_creates_of_one_contested_name_break_uniqueness(store):
    reader, ledger, _, _ = store
    for id in ("a", "b"):
        ledger.add(Exchange(1, "contest", "POST", "/Users", time.monotonic(), status=201, resource_id=id,
                            subject="contested-x@load.example"))
    problems = verify(store).problems
    assert any("2 creates of 'contested-x@load.example' were acknowledged" in p for p in problems)


def test_a_user_nobody_created_is_reported(store):
    reader, _, _, _ = store
    body, _ = user_document("stray")
    now = utcnow()
    data = {k: v for k, v in body.items() if k not in ("schemas", "meta")}
    reader.storage.create(reader.ctx, Resource("User", "stray-id", data, now, now))
    assert any("stray-id" in p and "no client's plan" in p for p in verify(store).problems)
