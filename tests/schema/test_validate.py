"""POST / PUT body validation built from the catalog."""

import pytest
from marshmallow import Schema, ValidationError

from scimflask.errors import InvalidSyntax, InvalidValue
from scimflask.model import Member
from scimflask.passwords import verify_password
from scimflask.schema import (
    CORE_GROUP,
    CORE_USER,
    ENTERPRISE_USER,
    GROUP_TYPE,
    USER_TYPE,
    Attribute,
    default_catalog,
)
from scimflask.schema import (
    Schema as ScimSchemaDefinition,
)
from scimflask.schema.catalog import INTEGER
from scimflask.schema.coerce import ValueRules
from scimflask.schema.tolerances import Compatibility
from scimflask.schema.validate import ResourceValidator, build_schema, schemas_for, scim_error_from

CATALOG = default_catalog()
USERS = ResourceValidator(CATALOG, USER_TYPE)
GROUPS = ResourceValidator(CATALOG, GROUP_TYPE)
STRICT = ValueRules(Compatibility("strict"))
STRICT_USERS = ResourceValidator(CATALOG, USER_TYPE, rules=STRICT)
STRICT_GROUPS = ResourceValidator(CATALOG, GROUP_TYPE, rules=STRICT)


def user(**attributes) -> dict:
    return {"schemas": [CORE_USER], "userName": "bjensen", **attributes}


def load_user(body: dict, mode: str = "create") -> dict:
    data, members = USERS.load(body, mode=mode)
    assert members is None
    return data


# -- Entra ID / Okta bodies, verbatim from Microsoft's provisioning documentation --------

def test_entra_create_user():
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
        "active": True,
        "emails": [{"primary": True, "type": "work",
                    "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": [],
    }
    assert load_user(body) == {
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
        "active": True,
        "emails": [{"primary": True, "type": "work",
                    "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"}],
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
    }


def test_entra_create_group_with_microsoft_schema_urn():
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group",
                    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "displayName",
        "meta": {"resourceType": "Group"},
    }
    assert GROUPS.load(body, mode="create") == (
        {"externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "displayName": "displayName"}, None)


def test_postman_active_as_string():
    assert load_user(user(active="True"))["active"] is True
    assert load_user(user(active="false"))["active"] is False


def test_custom_extension_from_entra_is_ignored():
    body = user(title="scim tester", **{
        "urn:ietf:params:scim:schemas:extension:custom:2.0:User": {"costCentre": "42", "tier": 3}})
    body["schemas"].append("urn:ietf:params:scim:schemas:extension:custom:2.0:User")
    assert load_user(body) == {"userName": "bjensen", "title": "scim tester"}


def test_manager_as_bare_string_in_post():
    body = user(**{ENTERPRISE_USER: {"manager": "2c2f6fb8-0000", "department": "R&D"}})
    assert load_user(body)[ENTERPRISE_USER] == {"manager": {"value": "2c2f6fb8-0000"}, "department": "R&D"}


def test_older_entra_nulls_are_absent():
    body = user(addresses=None, displayName=None, **{ENTERPRISE_USER: {"manager": None}})
    assert load_user(body) == {"userName": "bjensen"}
    assert STRICT_USERS.load(body, mode="create") == ({"userName": "bjensen"}, None)


# -- strict mode: each of the tolerances above is refused --------------------------------

def test_strict_refuses_foreign_schema_uri():
    body = {"schemas": [CORE_GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "displayName": "displayName"}
    with pytest.raises(InvalidSyntax, match="ADSCIM/2.0/Group', which is not a schema of this resource type"):
        STRICT_GROUPS.load(body, mode="create")
    assert STRICT_USERS.load(user(), mode="create") == ({"userName": "bjensen"}, None)
    listed = {"schemas": [CORE_USER, ENTERPRISE_USER], "userName": "b", ENTERPRISE_USER: {"division": "D"}}
    assert STRICT_USERS.load(listed, mode="create")[0] == {"userName": "b", ENTERPRISE_USER: {"division": "D"}}


def test_strict_refuses_unregistered_extension_object():
    custom = "urn:ietf:params:scim:schemas:extension:custom:2.0:User"
    with pytest.raises(InvalidValue, match=f"'{custom}' is not defined for resource type User"):
        STRICT_USERS.load(user(**{custom: {"costCentre": "42"}}), mode="create")


@pytest.mark.parametrize("key, value", [
    ("urn:example:flag", True),
    (f"{CORE_USER}:name", {"givenName": "B"}),
    (f"{ENTERPRISE_USER}:manager", {"value": "m1"}),
])
def test_only_objects_of_unregistered_schemas_are_ignored(key, value):
    with pytest.raises(InvalidValue, match=f"'{key}' is not defined"):
        USERS.load(user(**{key: value}), mode="create")


@pytest.mark.parametrize(("attributes", "words"), [
    ({"active": "True"}, "'active' must be a boolean, got a string"),
    ({ENTERPRISE_USER: {"manager": "2c2f6fb8-0000"}}, f"'{ENTERPRISE_USER}:manager' must be an object"),
    ({"nickName": ["Babs"]}, "'nickName' is single-valued"),
])
def test_strict_refuses_value_tolerances(attributes, words):
    with pytest.raises(InvalidValue, match=words):
        STRICT_USERS.load(user(**attributes), mode="create")


def test_strict_keeps_empty_strings_as_values():
    assert STRICT_USERS.load(user(nickName=""), mode="create")[0] == {"userName": "bjensen", "nickName": ""}
    with pytest.raises(InvalidValue, match="'userName' is required and must not be empty"):
        STRICT_USERS.load(user(userName=""), mode="replace")
    with pytest.raises(InvalidValue, match="'password' must not be empty"):
        STRICT_USERS.load(user(password=""), mode="create")


def test_multi_valued_bound_applies_to_bodies_but_not_to_members():
    rules = ValueRules(max_multi_values=2)
    users = ResourceValidator(CATALOG, USER_TYPE, rules=rules)
    with pytest.raises(InvalidValue, match="'emails' has 3 values; at most 2 are allowed"):
        users.load(user(emails=[{"value": f"{i}@b.c"} for i in range(3)]), mode="create")
    groups = ResourceValidator(CATALOG, GROUP_TYPE, rules=rules)
    body = {"schemas": [CORE_GROUP], "displayName": "A", "members": [{"value": f"u{i}"} for i in range(5)]}
    assert len(groups.load(body, mode="create")[1]) == 5


def test_validator_exposes_its_rules():
    assert STRICT_USERS.rules is STRICT and USERS.rules == ValueRules()


# -- schemas -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("schemas", "words"),
    [(None, "'schemas' is required"), ("urn:ietf:params:scim:schemas:core:2.0:User", "list of schema URN"),
     ([CORE_USER, 7], "list of schema URN"), ([CORE_GROUP], f"must include '{CORE_USER}'"),
     ([], f"must include '{CORE_USER}'")],
)
def test_schemas_must_list_core_urn(schemas, words):
    body = {"userName": "bjensen"} if schemas is None else {"schemas": schemas, "userName": "bjensen"}
    with pytest.raises(InvalidSyntax) as info:
        USERS.load(body, mode="create")
    assert words in info.value.detail
    assert info.value.to_dict()["scimType"] == "invalidSyntax"


def test_schemas_matched_case_insensitively():
    assert load_user({"schemas": [CORE_USER.upper()], "userName": "a"}) == {"userName": "a"}


@pytest.mark.parametrize("body", [[], "user", None, 3])
def test_body_must_be_an_object(body):
    with pytest.raises(InvalidSyntax, match="request body must be a JSON object"):
        USERS.load(body, mode="create")


def test_schemas_for_lists_present_extensions():
    assert schemas_for({"userName": "a"}, USER_TYPE) == [CORE_USER]
    assert schemas_for({"userName": "a", ENTERPRISE_USER: {"department": "x"}}, USER_TYPE) == [
        CORE_USER, ENTERPRISE_USER]


def test_empty_extension_object_is_dropped():
    data = load_user(user(**{ENTERPRISE_USER: {"department": None}}))
    assert ENTERPRISE_USER not in data
    assert schemas_for(data, USER_TYPE) == [CORE_USER]


# -- names ---------------------------------------------------------------------------------

def test_names_and_urns_are_case_insensitive():
    body = {"SCHEMAS": [CORE_USER], "USERNAME": "bjensen", "Name": {"GivenName": "Barbara"},
            "EMAILS": [{"Value": "b@example.com"}],
            "urn:ietf:params:scim:schemas:extension:ENTERPRISE:2.0:user": {"EmployeeNumber": "7"}}
    assert load_user(body) == {"userName": "bjensen", "name": {"givenName": "Barbara"},
                               "emails": [{"value": "b@example.com"}],
                               ENTERPRISE_USER: {"employeeNumber": "7"}}


def test_same_attribute_twice_in_different_case_rejected():
    with pytest.raises(InvalidValue, match="'userName' is given more than once"):
        USERS.load({"schemas": [CORE_USER], "userName": "a", "USERNAME": "b"}, mode="create")
    with pytest.raises(InvalidValue, match=f"'{ENTERPRISE_USER}:division' is given more than once"):
        USERS.load(user(**{ENTERPRISE_USER: {"division": "a", "Division": "b"}}), mode="create")


# -- unknown attributes --------------------------------------------------------------------

def test_unknown_core_attribute_rejected_by_default():
    with pytest.raises(InvalidValue) as info:
        USERS.load(user(favouriteColour="blue"), mode="create")
    assert info.value.detail == "Attribute 'favouriteColour' is not defined for resource type User."


def test_unknown_attribute_in_known_extension_rejected():
    with pytest.raises(InvalidValue, match=f"'{ENTERPRISE_USER}:badge' is not defined"):
        USERS.load(user(**{ENTERPRISE_USER: {"badge": "7"}}), mode="create")


def test_unknown_attributes_rejected_explicitly():
    strict = ResourceValidator(CATALOG, USER_TYPE, unknown="raise")
    with pytest.raises(InvalidValue, match="'favouriteColour' is not defined"):
        strict.load(user(favouriteColour="blue"), mode="create")


def test_unknown_attributes_ignored_when_asked():
    lenient = ResourceValidator(CATALOG, USER_TYPE, unknown="ignore")
    body = user(favouriteColour="blue", **{ENTERPRISE_USER: {"badge": "7", "division": "D"}})
    assert lenient.load(body, mode="create") == (
        {"userName": "bjensen", ENTERPRISE_USER: {"division": "D"}}, None)


def test_unknown_sub_attribute_rejected():
    with pytest.raises(InvalidValue, match="'name' has no sub-attribute 'nick'"):
        USERS.load(user(name={"nick": "B"}), mode="create")


def test_bad_unknown_policy_is_a_programming_error():
    with pytest.raises(ValueError):
        ResourceValidator(CATALOG, USER_TYPE, unknown="sometimes")


def test_bad_mode_is_a_programming_error():
    with pytest.raises(ValueError):
        USERS.load(user(), mode="merge")


# -- readOnly / writeOnly ------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["create", "replace"])
def test_read_only_attributes_ignored(mode):
    body = user(id="client-chosen", meta={"resourceType": "User", "version": 'W/"9"'},
                groups=[{"value": "g1"}])
    assert load_user(body, mode) == {"userName": "bjensen"}


def test_read_only_sub_attribute_ignored():
    body = user(**{ENTERPRISE_USER: {"manager": {"value": "m1", "displayName": "Boss"}}})
    assert load_user(body)[ENTERPRISE_USER] == {"manager": {"value": "m1"}}


def test_password_is_hashed():
    data = load_user(user(password="t1meMa$heen"))
    assert data["password"] != "t1meMa$heen"
    assert verify_password("t1meMa$heen", data["password"])


def test_password_must_be_a_string():
    with pytest.raises(InvalidValue, match="'password' must be a string"):
        USERS.load(user(password=1234), mode="create")


def test_generated_schema_maps_mutability_to_marshmallow():
    schema = build_schema(CATALOG, USER_TYPE)
    assert isinstance(schema, Schema)
    assert schema.fields["id"].dump_only
    assert schema.fields["groups"].dump_only
    assert schema.fields["password"].load_only
    assert schema.fields["userName"].required


# -- required ------------------------------------------------------------------------------

@pytest.mark.parametrize("user_name", [None, ""])
def test_user_name_required(user_name):
    body = {"schemas": [CORE_USER]}
    if user_name is not None:
        body["userName"] = user_name
    with pytest.raises(InvalidValue, match="'userName' is required"):
        USERS.load(body, mode="create")


@pytest.mark.parametrize("user_name", [[], [""], ["bjensen"]])
def test_user_name_as_array_is_invalid(user_name):
    with pytest.raises(InvalidValue, match="'userName' is single-valued and must be a string, got an array"):
        USERS.load({"schemas": [CORE_USER], "userName": user_name}, mode="create")


def test_user_name_null_is_missing():
    with pytest.raises(InvalidValue, match="'userName' is required"):
        USERS.load({"schemas": [CORE_USER], "userName": None}, mode="replace")


def test_group_display_name_required():
    with pytest.raises(InvalidValue, match="'displayName' is required"):
        GROUPS.load({"schemas": [CORE_GROUP], "displayName": ""}, mode="create")


def test_required_extension_enforced():
    catalog = default_catalog()
    badge = ScimSchemaDefinition("urn:example:badge", "Badge", "Badges",
                                 (Attribute("number", type=INTEGER),))
    catalog.add_extension("User", badge, required=True)
    validator = ResourceValidator(catalog, USER_TYPE)  # the catalog's current definition wins
    with pytest.raises(InvalidValue, match="Extension 'urn:example:badge' is required"):
        validator.load(user(), mode="create")
    data, _ = validator.load(user(**{"urn:example:badge": {"number": 12}}), mode="create")
    assert data["urn:example:badge"] == {"number": 12}
    with pytest.raises(InvalidValue, match="'urn:example:badge:number' must be an integer, got a string"):
        validator.load(user(**{"urn:example:badge": {"number": "12"}}), mode="create")


# -- types, primary, errors ----------------------------------------------------------------

@pytest.mark.parametrize(
    ("attributes", "words"),
    [({"active": "yes"}, "'active' must be a boolean, got a string"),
     ({"userName": 42}, "'userName' must be a string, got a number"),
     ({"name": "Barbara"}, "'name' must be an object, got a string"),
     ({"emails": [{"value": 1}]}, "'emails.value' must be a string, got a number"),
     ({"x509Certificates": [{"value": "%%%"}]}, "'x509Certificates.value' must be base64"),
     ({"profileUrl": {"href": "x"}}, "'profileUrl' must be a string, got an object"),
     ({ENTERPRISE_USER: {"employeeNumber": 7}}, f"'{ENTERPRISE_USER}:employeeNumber' must be a string"),
     ({ENTERPRISE_USER: "D"}, f"Extension '{ENTERPRISE_USER}' must be a JSON object")],
)
def test_wrong_types_are_invalid_value(attributes, words):
    with pytest.raises(InvalidValue) as info:
        USERS.load(user(**attributes), mode="create")
    assert words in info.value.detail
    assert info.value.to_dict() == {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                                    "status": "400", "scimType": "invalidValue",
                                    "detail": info.value.detail}


def test_all_errors_reported_together():
    with pytest.raises(InvalidValue) as info:
        USERS.load({"schemas": [CORE_USER], "active": 3, "nickName": False}, mode="create")
    detail = info.value.detail
    assert "'active' must be a boolean" in detail
    assert "'nickName' must be a string" in detail
    assert "'userName' is required" in detail


def test_two_primary_emails_rejected():
    emails = [{"value": "a@example.com", "primary": True}, {"value": "b@example.com", "primary": True}]
    with pytest.raises(InvalidValue, match="'emails' has 2 values with primary true"):
        USERS.load(user(emails=emails), mode="create")


def test_primary_checked_per_attribute():
    data = load_user(user(emails=[{"value": "a@b", "primary": True}],
                          phoneNumbers=[{"value": "+1", "primary": True}]))
    assert data["emails"][0]["primary"] and data["phoneNumbers"][0]["primary"]


@pytest.mark.parametrize("emails", [{"value": "a@b"}, "a@b"])
def test_lone_value_for_multi_valued_is_invalid(emails):
    with pytest.raises(InvalidValue, match="'emails' is multi-valued and must be an array"):
        USERS.load(user(emails=emails), mode="create")


def test_scim_error_from_translates_marshmallow_messages():
    assert isinstance(scim_error_from(ValidationError({"schemas": ["bad"]})), InvalidSyntax)
    error = scim_error_from(ValidationError({"x": ["Attribute '{path}' is odd."]}))
    assert isinstance(error, InvalidValue) and error.detail == "Attribute 'x' is odd."


# -- Group members -------------------------------------------------------------------------

def test_members_become_member_objects():
    body = {"schemas": [CORE_GROUP], "displayName": "Admins", "members": [
        {"$ref": None, "value": "u1"},
        {"value": "u2", "type": "user", "display": "Bob", "$ref": "https://x/Users/u2"},
        {"value": "g1", "Type": "GROUP"}]}
    data, members = GROUPS.load(body, mode="replace")
    assert data == {"displayName": "Admins"}
    assert members == [Member("u1"), Member("u2", "User", "Bob"), Member("g1", "Group")]


def test_empty_members_list_is_not_absent():
    assert GROUPS.load({"schemas": [CORE_GROUP], "displayName": "A", "members": []}, mode="replace") == (
        {"displayName": "A"}, [])


@pytest.mark.parametrize(
    ("members", "words"),
    [([{"display": "Bob"}], "'members.value' is required"),
     ([{"value": "u1", "type": "Robot"}], "'members.type' must be one of User, Group"),
     ([{"value": 5}], "'members.value' must be a string"),
     ([["u1"]], "'members' must be an array of values"),
     ([True], "'members' must be an object, got a boolean"),
     ({"value": "u1"}, "'members' is multi-valued and must be an array, got an object")],
)
def test_bad_members_rejected(members, words):
    with pytest.raises(InvalidValue, match=words):
        GROUPS.load({"schemas": [CORE_GROUP], "displayName": "A", "members": members}, mode="create")


def test_bare_member_ids_are_invalid():
    body = {"schemas": [CORE_GROUP], "displayName": "A", "members": ["u1", "u2"]}
    with pytest.raises(InvalidValue, match="'members' must be an object, got a string"):
        GROUPS.load(body, mode="create")


def test_users_have_no_members_attribute():
    with pytest.raises(InvalidValue, match="'members' is not defined for resource type User"):
        USERS.load(user(members=[{"value": "u1"}]), mode="create")
