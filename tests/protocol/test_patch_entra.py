"""PATCH bodies exactly as Microsoft Entra ID and Okta send them (Microsoft's provisioning
documentation and validators, Okta's SCIM 2.0 guide), and the resource each must produce."""

from __future__ import annotations

import copy
from datetime import datetime

import pytest

from scimflask.errors import InvalidPath, InvalidValue
from scimflask.model import Member, Resource
from scimflask.protocol.patch import apply_patch, parse_patch_request
from scimflask.schema import ENTERPRISE_USER, GROUP_TYPE, USER_TYPE, default_catalog

CATALOG = default_catalog()
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
NOW = datetime.fromisoformat("2024-01-01T00:00:00+00:00")
USER_ID = "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"
GROUP_ID = "40734ae655284ad3abcc"
CUSTOM = "urn:ietf:params:scim:schemas:extension:custom:2.0:User"

ENTRA_USER = {
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
    "active": True,
    "emails": [{"primary": True, "type": "work",
                "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"}],
    "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
}


def user(data: dict = ENTRA_USER) -> Resource:
    return Resource("User", USER_ID, copy.deepcopy(data), NOW, NOW)


def group(members: list[Member] | None = None) -> Resource:
    return Resource("Group", GROUP_ID, {"displayName": "displayName"}, NOW, NOW, members=members)


def patch(resource: Resource, *operations: dict):
    resource_type = USER_TYPE if resource.resource_type == "User" else GROUP_TYPE
    body = {"schemas": [PATCH_OP], "Operations": list(operations)}
    return apply_patch(resource, parse_patch_request(body, CATALOG, resource_type), CATALOG, resource_type)


# -- users, default mode (capitalised ops) --------------------------------------------------

def test_replace_work_email_and_family_name():
    result = patch(
        user(),
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
    )

    assert result.data["emails"] == [{"primary": True, "type": "work", "value": "updatedEmail@microsoft.com"}]
    assert result.data["name"] == {"formatted": "givenName familyName", "familyName": "updatedFamilyName",
                                   "givenName": "givenName"}
    assert result.changed == ("emails", "name")


def test_replace_user_name():
    result = patch(user(), {"op": "Replace", "path": "userName",
                            "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"})

    assert result.data["userName"] == "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"


@pytest.mark.parametrize("value, expected", [("False", False), ("True", True), (False, False),
                                             (True, True), ("false", False)])
def test_active_as_string_or_boolean(value, expected):
    result = patch(user(), {"op": "Replace", "path": "active", "value": value})

    assert result.data["active"] is expected
    assert result.changed == (() if expected else ("active",))


def test_add_nick_name():
    result = patch(user(), {"op": "Add", "path": "nickName", "value": "Babs"})

    assert result.data == {**ENTRA_USER, "nickName": "Babs"}


def test_many_replaces_in_one_request():
    result = patch(
        user(),
        {"op": "Replace", "path": "displayName", "value": "Pvlo"},
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "TestBcwqnm@test.microsoft.com"},
        {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
        {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
        {"op": "Replace", "path": "externalId", "value": "Eqpj"},
        {"op": "Replace", "path": f"{ENTERPRISE_USER}:employeeNumber", "value": "Eqpj"},
    )

    assert result.data == {
        "externalId": "Eqpj",
        "userName": ENTRA_USER["userName"],
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": "TestBcwqnm@test.microsoft.com"}],
        "name": {"formatted": "givenName familyName", "familyName": "Pkqf", "givenName": "Gtfd"},
        "displayName": "Pvlo",
        ENTERPRISE_USER: {"employeeNumber": "Eqpj"},
    }
    assert result.changed == ("displayName", "emails", "name", "externalId", f"{ENTERPRISE_USER}:employeeNumber")


def test_pathless_replace_with_dotted_and_urn_keys():
    """The aadOptscim062020 shape: keys are paths, never literal attribute names."""
    result = patch(
        user(),
        {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "TestMhvaes@test.microsoft.com"},
        {"op": "replace", "value": {"displayName": "Bjfe", "name.givenName": "Kkom", "name.familyName": "Unua",
                                    f"{ENTERPRISE_USER}:employeeNumber": "Aklq"}},
    )

    assert result.data["displayName"] == "Bjfe"
    assert result.data["name"] == {"formatted": "givenName familyName", "familyName": "Unua", "givenName": "Kkom"}
    assert result.data[ENTERPRISE_USER] == {"employeeNumber": "Aklq"}
    assert result.data["emails"][0]["value"] == "TestMhvaes@test.microsoft.com"
    assert "name.givenName" not in result.data


def test_add_work_email_when_it_exists_replaces_it():
    """Real capture (Q&A 1684621): Add on a filtered path must not duplicate the work email."""
    result = patch(
        user(),
        {"op": "Replace", "path": "title", "value": "tester"},
        {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "tester@joe.com"},
    )

    assert result.data["title"] == "tester"
    assert result.data["emails"] == [{"primary": True, "type": "work", "value": "tester@joe.com"}]


@pytest.mark.parametrize("op", ["Add", "Replace"])
def test_work_email_filter_creates_missing_element(op):
    """Entra expects the element to be created; noTarget here breaks provisioning."""
    start = {**ENTRA_USER, "emails": [{"type": "home", "value": "home@example.com"}]}
    result = patch(user(start), {"op": op, "path": "emails[type eq \"work\"].value", "value": "new@joe.com"})

    assert result.data["emails"] == [{"type": "home", "value": "home@example.com"},
                                     {"type": "work", "value": "new@joe.com"}]


def test_work_email_filter_creates_emails_attribute():
    start = {k: v for k, v in ENTRA_USER.items() if k != "emails"}
    result = patch(user(start), {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "a@b.c"})

    assert result.data["emails"] == [{"type": "work", "value": "a@b.c"}]


def test_empty_strings_then_nulls_clear_attributes():
    """Microsoft's SCIM_Null_Update test: PATCH "" and then null; the attributes become empty."""
    start = {**ENTRA_USER, "displayName": "D", "title": "T", ENTERPRISE_USER: {"department": "X"}}
    cleared = patch(
        user(start),
        {"op": "Replace", "path": "displayName", "value": ""},
        {"op": "Replace", "path": "name.givenName", "value": ""},
        {"op": "Replace", "path": f"{ENTERPRISE_USER}:department", "value": ""},
        {"op": "Replace", "path": "title", "value": None},
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": None},
    )

    assert cleared.data == {
        "externalId": ENTRA_USER["externalId"], "userName": ENTRA_USER["userName"], "active": True,
        "name": {"formatted": "givenName familyName", "familyName": "familyName"},
    }
    again = patch(user(cleared.data), {"op": "Replace", "path": "title", "value": ""},
                  {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": ""})
    assert again.changed == ()
    assert again.to_change().data is None


@pytest.mark.parametrize("operation, error", [
    ({"op": "Replace", "path": f"{CUSTOM}:costCode", "value": "42"}, InvalidPath),
    ({"op": "replace", "value": {CUSTOM: {"costCode": "42"}, "title": "Boss"}}, InvalidValue),
])
def test_unregistered_extension_attributes_are_refused(operation, error):
    """A PATCH must not silently drop what it was asked to write: an attribute of a schema
    this server lacks is an error (a POST body's unknown extension object is a tolerance)."""
    with pytest.raises(error):
        patch(user(), operation)


# -- manager ---------------------------------------------------------------------------------

MANAGER = f"{ENTERPRISE_USER}:manager"


@pytest.mark.parametrize("operation", [
    {"op": "add", "path": MANAGER, "value": "2c2f6fb8-2a4b-4d4b-9c7e-1f7f4b0b9d61"},
    {"op": "Add", "path": MANAGER, "value": {"value": "2c2f6fb8-2a4b-4d4b-9c7e-1f7f4b0b9d61"}},
    {"op": "Add", "path": "manager", "value": [{
        "$ref": "http://example.com/Users/2c2f6fb8-2a4b-4d4b-9c7e-1f7f4b0b9d61",
        "value": "2c2f6fb8-2a4b-4d4b-9c7e-1f7f4b0b9d61"}]},
    {"op": "Replace", "value": {ENTERPRISE_USER: {"manager": "2c2f6fb8-2a4b-4d4b-9c7e-1f7f4b0b9d61"}}},
], ids=["bare-id", "value-object", "old-doc-form", "extension-object"])
def test_set_manager(operation):
    result = patch(user(), operation)

    manager = result.data[ENTERPRISE_USER]["manager"]
    assert manager["value"] == "2c2f6fb8-2a4b-4d4b-9c7e-1f7f4b0b9d61"
    assert set(manager) <= {"value", "$ref"}
    assert result.changed == (MANAGER,)


def test_change_manager_drops_reference_of_old_one():
    start = {**ENTRA_USER, ENTERPRISE_USER: {"manager": {"value": "old", "$ref": "http://example.com/Users/old"}}}
    result = patch(user(start), {"op": "Replace", "path": MANAGER, "value": "new"})

    assert result.data[ENTERPRISE_USER] == {"manager": {"value": "new"}}


def test_remove_manager_by_replacing_with_empty_string():
    start = {**ENTRA_USER, ENTERPRISE_USER: {"manager": {"value": "boss"}}}
    result = patch(user(start), {"op": "Replace", "path": MANAGER, "value": ""})

    assert ENTERPRISE_USER not in result.data
    assert result.changed == (MANAGER,)


def test_resent_unchanged_manager_changes_nothing():
    start = {**ENTRA_USER, ENTERPRISE_USER: {"manager": {"value": "boss"}}}
    result = patch(user(start), {"op": "Add", "path": MANAGER, "value": "boss"})

    assert result.changed == ()
    assert result.data == start


# -- groups ----------------------------------------------------------------------------------

def test_rename_group():
    result = patch(group(), {"op": "Replace", "path": "displayName", "value": "1879db59-updatedDisplayName"})

    assert result.data == {"displayName": "1879db59-updatedDisplayName"}
    assert result.to_change().data == {"displayName": "1879db59-updatedDisplayName"}
    assert not result.to_change().touches_members


def test_add_member_batch_without_loading_members():
    result = patch(group(None), {"op": "Add", "path": "members", "value": [
        {"$ref": None, "value": "f648f8d5ea4e4cd38e9c"},
        {"$ref": None, "value": "636823803314257913"},
        {"$ref": None, "value": "f648f8d5ea4e4cd38e9c"},
    ]})

    assert [m.value for m in result.add_members] == ["f648f8d5ea4e4cd38e9c", "636823803314257913"]
    assert result.to_change().data is None


def test_remove_members_by_value_array_removes_only_those():
    """The famous bug: path "members" with a value must not empty the group."""
    body = {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": "f648f8d5ea4e4cd38e9c"}]}
    unloaded = patch(group(None), body)
    loaded = patch(group([Member("f648f8d5ea4e4cd38e9c", "User"), Member("keep-me", "User")]), body)

    for result in (unloaded, loaded):
        assert result.remove_members == ["f648f8d5ea4e4cd38e9c"]
        assert result.replace_members is None
        assert result.add_members == []


def test_remove_member_by_filter_flag_form():
    result = patch(group(None), {"op": "remove", "path": "members[value eq \"7f4bc1a3-9a3e-4f0c-8bd5-1d8d5b2f6c11\"]"})

    assert result.remove_members == ["7f4bc1a3-9a3e-4f0c-8bd5-1d8d5b2f6c11"]


def test_re_adding_existing_member_and_removing_absent_one_are_fine():
    loaded = group([Member("present", "User")])
    result = patch(
        loaded,
        {"op": "Add", "path": "members", "value": [{"$ref": None, "value": "present"}]},
        {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": "absent"}]},
        {"op": "remove", "path": "members[value eq \"also-absent\"]"},
    )

    assert result.add_members == [] and result.remove_members == []
    assert result.changed == ()
    assert not result.to_change().touches_members


def test_several_member_operations_in_one_request():
    result = patch(
        group(None),
        {"op": "Add", "path": "members", "value": [{"$ref": None, "value": "a"}, {"$ref": None, "value": "b"}]},
        {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": "c"}]},
        {"op": "Add", "path": "members", "value": [{"$ref": None, "value": "c"}]},
        {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": "a"}]},
        {"op": "Replace", "path": "displayName", "value": "renamed"},
    )

    assert [m.value for m in result.add_members] == ["b", "c"]
    assert result.remove_members == ["a"]
    assert result.changed == ("members", "displayName")


# -- Okta ------------------------------------------------------------------------------------

def test_okta_deactivate_with_pathless_replace():
    result = patch(user(), {"op": "replace", "value": {"active": False}})

    assert result.data == {**ENTRA_USER, "active": False}


def test_okta_group_rename_restates_its_own_id():
    result = patch(group(), {"op": "replace", "value": {"id": GROUP_ID, "displayName": "Test SCIMv2"}})

    assert result.data == {"displayName": "Test SCIMv2"}


def test_okta_member_add_and_remove():
    result = patch(
        group(None),
        {"op": "add", "path": "members", "value": [{"value": "89bb1940", "display": "user@example.com"}]},
        {"op": "remove", "path": "members[value eq \"19f0a1d3\"]"},
    )

    assert result.add_members == [Member("89bb1940", None, "user@example.com")]
    assert result.remove_members == ["19f0a1d3"]
