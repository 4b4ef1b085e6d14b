"""examples/embed_existing_app: SCIM provisioning lands in the host app's own Account table,
and the host app's pages, login and error pages keep working."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("flask_sqlalchemy", reason="the embed example needs flask-sqlalchemy (test extra)")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "embed_existing_app"
TOKEN = "acme-scim-token-0123456789"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCIM = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/scim+json; charset=utf-8"}

# What Entra ID sends to create a user: core and enterprise attributes, as sent.
ENTRA_CREATE = {
    "schemas": [USER_SCHEMA, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    "userName": "Test_User_ab6490ee@contoso.com",
    "active": True,
    "emails": [{"primary": True, "type": "work", "value": "test.user@contoso.com"}],
    "meta": {"resourceType": "User"},
    "name": {"formatted": "Ada Lovelace", "familyName": "Lovelace", "givenName": "Ada"},
    "roles": [],
}


@pytest.fixture
def hostapp(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    import hostapp

    yield hostapp
    for name in [n for n in sys.modules if n == "hostapp" or n.startswith("hostapp.")]:
        del sys.modules[name]


@pytest.fixture
def app(hostapp, tmp_path):
    app = hostapp.create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'acme.db'}",
        "SCIM_BEARER_TOKENS": [TOKEN],
        "TESTING": True,
    })
    with app.app_context():
        admin = hostapp.Account(email="admin@acme.test", first_name="Ada", is_active=True)
        admin.set_password("s3cret")
        hostapp.db.session.add(admin)
        hostapp.db.session.commit()
    return app


def scim(client, method: str, path: str, body: dict | None = None):
    return client.open("/scim/v2" + path, method=method, headers=SCIM,
                       data=None if body is None else json.dumps(body))


def account(hostapp, app, **where):
    with app.app_context():
        return hostapp.db.session.query(hostapp.Account).filter_by(**where).one_or_none()


def patch(client, id: str, *operations: dict):
    return scim(client, "PATCH", f"/Users/{id}", {"schemas": [PATCH_SCHEMA], "Operations": list(operations)})


def test_provisioned_user_becomes_an_account_row(hostapp, app):
    client = app.test_client()
    created = scim(client, "POST", "/Users", ENTRA_CREATE)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    row = account(hostapp, app, public_id=body["id"])
    assert (row.email, row.first_name, row.last_name, row.is_active, row.external_ref, row.work_email) == (
        "Test_User_ab6490ee@contoso.com", "Ada", "Lovelace", True, ENTRA_CREATE["externalId"],
        "test.user@contoso.com")
    assert body["emails"] == [{"value": "test.user@contoso.com", "type": "work", "primary": True}]
    again = scim(client, "POST", "/Users", {**ENTRA_CREATE, "userName": "test_user_AB6490EE@contoso.com"})
    assert again.status_code == 409 and again.get_json()["scimType"] == "uniqueness"


def test_entra_patch_updates_the_row(hostapp, app):
    client = app.test_client()
    id = scim(client, "POST", "/Users", ENTRA_CREATE).get_json()["id"]
    answer = patch(client, id,
                   {"op": "Replace", "path": "displayName", "value": "Countess"},
                   {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "ada@contoso.com"},
                   {"op": "Replace", "path": "name.givenName", "value": "Augusta"},
                   {"op": "Replace", "path": "name.familyName", "value": "King"},
                   {"op": "Replace", "path": "externalId", "value": "Eqpj"},
                   {"op": "Replace", "path": "userName", "value": "augusta@contoso.com"})
    assert answer.status_code in (200, 204), answer.get_data(as_text=True)
    row = account(hostapp, app, public_id=id)
    assert (row.display_name, row.work_email, row.first_name, row.last_name, row.external_ref, row.email) == (
        "Countess", "ada@contoso.com", "Augusta", "King", "Eqpj", "augusta@contoso.com")
    assert row.version == 2
    fetched = scim(client, "GET", f"/Users/{id}").get_json()
    assert fetched["name"] == {"givenName": "Augusta", "familyName": "King"}


@pytest.mark.parametrize("value", ["False", False])
def test_active_false_deactivates_the_account(hostapp, app, value):
    client = app.test_client()
    id = scim(client, "POST", "/Users", ENTRA_CREATE).get_json()["id"]
    assert patch(client, id, {"op": "Replace", "path": "active", "value": value}).status_code in (200, 204)
    assert account(hostapp, app, public_id=id).is_active is False
    assert scim(client, "GET", f"/Users/{id}").get_json()["active"] is False
    found = scim(client, "GET", '/Users?filter=active eq false').get_json()
    assert [r["id"] for r in found["Resources"]] == [id]


def test_deactivating_an_existing_account_stops_its_login(hostapp, app):
    """The identity provider finds a pre-existing account by userName and disables it."""
    browser = app.test_client()
    assert browser.post("/login", data={"email": "admin@acme.test", "password": "s3cret"}).status_code == 302
    assert browser.get("/accounts").status_code == 200
    idp = app.test_client()
    found = scim(idp, "GET", '/Users?filter=userName eq "ADMIN@acme.test"').get_json()
    assert found["totalResults"] == 1
    (admin,) = found["Resources"]
    assert patch(idp, admin["id"], {"op": "Replace", "path": "active", "value": "False"}).status_code in (200, 204)
    assert browser.get("/accounts").status_code == 302  # the session no longer counts
    refused = browser.post("/login", data={"email": "admin@acme.test", "password": "s3cret"})
    assert refused.status_code == 401


def test_supported_filters_run_in_sql(app):
    client = app.test_client()
    ada = scim(client, "POST", "/Users", ENTRA_CREATE).get_json()["id"]
    bob = scim(client, "POST", "/Users", {"schemas": [USER_SCHEMA], "userName": "bob@contoso.com",
                                          "externalId": "b-2", "active": False}).get_json()["id"]
    cases = {
        'userName eq "test_user_AB6490EE@contoso.com"': [ada],
        'externalId eq "b-2"': [bob],
        'externalId eq "B-2"': [],  # externalId is caseExact
        'emails[type eq "work"].value eq "TEST.USER@contoso.com"': [ada],
        'emails[type eq "work" and value eq "test.user@contoso.com"]': [ada],
        'userName eq "bob@contoso.com" or externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"': [ada, bob],
        'userName sw "bob" and active eq false': [bob],
        'not (emails pr) and userName ne "admin@acme.test"': [bob],
        f'id eq "{bob}"': [bob],
    }
    for text, expected in cases.items():
        answer = client.get("/scim/v2/Users", query_string={"filter": text, "sortBy": "userName"}, headers=SCIM)
        assert answer.status_code == 200, (text, answer.get_json())
        ids = [r["id"] for r in answer.get_json()["Resources"]]
        assert sorted(ids) == sorted(expected), text


@pytest.mark.parametrize("text", ['title eq "Engineer"', 'userName gt "a"', 'externalId co "b"',
                                  'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "x"',
                                  'meta.created gt "2020-01-01T00:00:00Z"'])
def test_filters_it_cannot_run_are_invalid_not_empty(app, text):
    answer = app.test_client().get("/scim/v2/Users", query_string={"filter": text}, headers=SCIM)
    assert answer.status_code == 400
    assert answer.get_json()["scimType"] == "invalidFilter"
    assert "cannot" in answer.get_json()["detail"]


def test_groups_are_refused_clearly(app):
    client = app.test_client()
    for method, path, body in (("GET", "/Groups", None),
                               ("POST", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                                    "displayName": "Staff"})):
        answer = scim(client, method, path, body)
        assert answer.status_code == 501
        assert "does not support Groups" in answer.get_json()["detail"]


def test_delete_removes_the_account(hostapp, app):
    client = app.test_client()
    id = scim(client, "POST", "/Users", ENTRA_CREATE).get_json()["id"]
    assert scim(client, "DELETE", f"/Users/{id}").status_code == 204
    assert account(hostapp, app, public_id=id) is None
    assert scim(client, "GET", f"/Users/{id}").status_code == 404


def test_host_pages_and_errors_are_untouched(app):
    client = app.test_client()
    assert "Log in" in client.get("/").get_data(as_text=True)
    assert client.get("/accounts").status_code == 302  # login required
    missing = client.get("/no-such-page")
    assert missing.status_code == 404 and "No such page at Acme" in missing.get_data(as_text=True)
    scim_missing = client.get("/scim/v2/NoSuchThing", headers=SCIM)
    assert scim_missing.status_code == 404
    assert scim_missing.get_json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert client.get("/scim/v2/Users").status_code == 401  # no token


def test_a_password_set_over_scim_is_the_hosts_login_password(hostapp, app):
    """scimflask stores werkzeug.security's hash, which the host's own login checks."""
    from werkzeug.security import check_password_hash

    idp = app.test_client()
    created = scim(idp, "POST", "/Users", {**ENTRA_CREATE, "password": "Entra-Set-1"})
    assert created.status_code == 201, created.get_json()
    assert "password" not in created.get_json()
    row = account(hostapp, app, public_id=created.get_json()["id"])
    assert check_password_hash(row.password_hash, "Entra-Set-1")
    browser = app.test_client()
    login = {"email": ENTRA_CREATE["userName"], "password": "Entra-Set-1"}
    assert browser.post("/login", data=login).status_code == 302
    replaced = scim(idp, "PUT", f"/Users/{row.public_id}", {**ENTRA_CREATE, "displayName": "Ada"})
    assert replaced.status_code == 200  # no password in the PUT: the stored one is kept
    assert app.test_client().post("/login", data=login).status_code == 302


def test_flask_scim_token_create_issues_a_stored_token(hostapp, app):
    """`flask --app hostapp scim token create`: the token is a row of scim_token, and the
    SCIM endpoint accepts it."""
    result = app.test_cli_runner().invoke(args=["scim", "token", "create", "--description", "entra"])
    assert result.exit_code == 0, result.output
    secret = result.output.split("Secret Token:")[1].split()[0]
    with app.app_context():
        (row,) = hostapp.db.session.query(hostapp.models.ScimToken).all()
        assert row.description == "entra" and secret not in row.secret_hash
    answer = app.test_client().get("/scim/v2/Users", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 200
    revoked = app.test_cli_runner().invoke(args=["scim", "token", "revoke", row.id])
    assert revoked.exit_code == 0, revoked.output
    assert app.test_client().get("/scim/v2/Users", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
