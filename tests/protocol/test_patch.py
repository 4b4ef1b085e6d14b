"""The PATCH engine: message validation, RFC 7644 §3.5.2 rules, mutability, atomicity and
Group membership deltas."""

from __future__ import annotations

import copy
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scimflask.errors import (
    InvalidFilter,
    InvalidPath,
    InvalidSyntax,
    InvalidValue,
    Mutability,
    NoTarget,
    ScimError,
)
from scimflask.filter import parse_path
from scimflask.model import Member, Resource
from scimflask.passwords import verify_password
from scimflask.protocol.patch import (
    MembersRequired,
    PatchOperation,
    apply_patch,
    parse_patch_request,
)
from scimflask.schema import ENTERPRISE_USER, GROUP_TYPE, USER_TYPE, default_catalog
from scimflask.schema.coerce import ValueRules
from scimflask.schema.tolerances import Compatibility

CATALOG = default_catalog()
STRICT = ValueRules(Compatibility("strict"))
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
NOW = datetime.fromisoformat("2024-01-01T00:00:00+00:00")

ALICE = {
    "userName": "alice",
    "name": {"givenName": "Alice", "familyName": "Liddell"},
    "emails": [
        {"value": "alice@work.example", "type": "work", "primary": True},
        {"value": "alice@home.example", "type": "home"},
    ],
    ENTERPRISE_USER: {"department": "Wonderland"},
}


def user(data: dict = ALICE) -> Resource:
    return Resource("User", "u-1", copy.deepcopy(data), NOW, NOW)


def group(members: list[Member] | None = None) -> Resource:
    return Resource("Group", "g-1", {"displayName": "Readers"}, NOW, NOW, members=members)


def body(*operations: dict) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def parse(message: object, resource_type=USER_TYPE, rules: ValueRules = ValueRules()):
    return parse_patch_request(message, CATALOG, resource_type, rules=rules)


def patch(resource: Resource, *operations: dict, rules: ValueRules = ValueRules()):
    resource_type = USER_TYPE if resource.resource_type == "User" else GROUP_TYPE
    return apply_patch(resource, parse(body(*operations), resource_type, rules), CATALOG, resource_type)


# -- the PatchOp message ---------------------------------------------------------------------

@pytest.mark.parametrize("message, error", [
    ([], InvalidSyntax),
    ({"Operations": [{"op": "add", "path": "title", "value": "x"}]}, InvalidSyntax),
    ({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
      "Operations": [{"op": "add", "path": "title", "value": "x"}]}, InvalidSyntax),
    ({"schemas": [PATCH_OP]}, InvalidSyntax),
    ({"schemas": [PATCH_OP], "Operations": []}, InvalidSyntax),
    ({"schemas": [PATCH_OP], "Operations": {"op": "add"}}, InvalidSyntax),
    (body("add"), InvalidSyntax),
    (body({"op": "delete", "path": "title"}), InvalidSyntax),
    (body({"path": "title", "value": "x"}), InvalidSyntax),
    (body({"op": "add", "path": "title"}), InvalidSyntax),
    (body({"op": "remove"}), NoTarget),
    (body({"op": "remove", "path": "  "}), InvalidPath),
    (body({"op": "add", "path": "", "value": "x"}), InvalidPath),
    (body({"op": "add", "path": 7, "value": "x"}), InvalidPath),
    (body({"op": "add", "path": "noSuchAttribute", "value": "x"}), InvalidPath),
    (body({"op": "add", "path": "name.noSuchPart", "value": "x"}), InvalidPath),
    (body({"op": "add", "path": f"{ENTERPRISE_USER}:noSuchAttribute", "value": "x"}), InvalidPath),
    (body({"op": "add", "path": "emails[type eq ]", "value": "x"}), InvalidPath),
    (body({"op": "add", "path": "emails[type eq \"work\"", "value": "x"}), InvalidPath),
    (body({"op": "add", "path": "emails[primary gt true].value", "value": "x"}), InvalidFilter),
    (body({"op": "add", "path": "urn:bogus:params:scim:schemas:core:2.0:User:thing", "value": "x"}), InvalidPath),
    (body({"op": "remove", "path": "urn:bogus:params:scim:schemas:core:2.0:User:thing"}), InvalidPath),
    (body({"op": "add", "path": "urn:ietf:params:scim:schemas:core:2.0:Group:displayName", "value": "x"}),
     InvalidPath),
    (body({"op": "replace", "value": {"shoeSize": 44}}), InvalidValue),
    (body({"op": "replace", "value": {"urn:ietf:params:scim:schemas:extension:custom:2.0:User": {"a": 1}}}),
     InvalidValue),
    (body({"op": "replace", "path": ENTERPRISE_USER, "value": {"department": "D", "bogus": 1}}), InvalidValue),
    (body({"op": "remove", "path": "emails", "value": [{"value": "a@b"}]}), InvalidValue),
    (body({"op": "remove", "path": ENTERPRISE_USER, "value": {"department": "D"}}), InvalidValue),
    (body({"op": "add", "value": "not an object"}), InvalidValue),
    (body({"op": "replace", "value": {ENTERPRISE_USER: "not an object"}}), InvalidValue),
    (body({"op": "remove", "path": "urn:ietf:params:scim:schemas:core:2.0:User"}), InvalidPath),
])
def test_bad_messages_are_rejected(message, error):
    with pytest.raises(error):
        parse(message)


def test_too_many_operations():
    message = body(*[{"op": "add", "path": "title", "value": str(i)} for i in range(3)])

    assert len(parse_patch_request(message, CATALOG, USER_TYPE, max_operations=3)) == 3
    with pytest.raises(InvalidValue):
        parse_patch_request(message, CATALOG, USER_TYPE, max_operations=2)


def test_structural_names_are_case_insensitive():
    operations = parse({"SCHEMAS": [PATCH_OP.upper()],
                        "operations": [{"OP": "REPLACE", "Path": "TITLE", "Value": "Dr"}]})

    assert operations == [PatchOperation("replace", parse_path("title", CATALOG, USER_TYPE), "Dr")]


def test_unknown_schema_urn_in_a_path_is_named_in_the_error():
    with pytest.raises(InvalidPath) as info:
        parse(body({"op": "replace", "path": "urn:bogus:x:2.0:User:thing", "value": "x"}))
    assert "its URN names no schema of resource type User" in info.value.detail


def test_unknown_member_of_a_value_blames_the_value():
    with pytest.raises(InvalidValue) as info:
        parse(body({"op": "add", "path": ENTERPRISE_USER, "value": {"department": "D", "bogus": 1}}))
    assert info.value.detail == (f"Operation 1: the value of '{ENTERPRISE_USER}' has a member 'bogus', "
                                 "which is not an attribute of that schema.")
    with pytest.raises(InvalidValue, match="the value has a member 'shoeSize', which is not an attribute of User"):
        parse(body({"op": "add", "value": {"title": "Dr", "shoeSize": 44}}))


@pytest.mark.parametrize("op", ["add", "replace"])
def test_extension_value_with_its_schemas_member(op):
    """Client libraries serialise extension objects with `schemas`: accepted and ignored."""
    value = {"schemas": [ENTERPRISE_USER], "department": "Looking Glass", "employeeNumber": "7"}
    for rules in (ValueRules(), STRICT):
        result = patch(user(), {"op": op, "path": ENTERPRISE_USER, "value": value}, rules=rules)
        assert result.data[ENTERPRISE_USER] == {"department": "Looking Glass", "employeeNumber": "7"}


def test_meta_in_a_pathless_value_is_read_only():
    with pytest.raises(Mutability):
        patch(user(), {"op": "replace", "value": {"meta": {"resourceType": "User"}, "title": "Dr"}})


def test_pathless_value_becomes_one_operation_per_key():
    operations = parse(body({"op": "Add", "value": {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "title": "Dr",
        "name.givenName": "A",
        ENTERPRISE_USER: {"department": "D", "manager": "m"},
    }}))

    assert [(o.op, str(o.path.path), o.value) for o in operations] == [
        ("add", "urn:ietf:params:scim:schemas:core:2.0:User:title", "Dr"),
        ("add", "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName", "A"),
        ("add", f"{ENTERPRISE_USER}:department", "D"),
        ("add", f"{ENTERPRISE_USER}:manager", "m"),
    ]


def test_pathless_operation_built_by_hand_is_split_when_applied():
    operations = [PatchOperation("replace", None, {"title": "Dr", "name.familyName": "L."})]
    result = apply_patch(user(), operations, CATALOG, "User")

    assert result.data["title"] == "Dr"
    assert result.data["name"] == {"givenName": "Alice", "familyName": "L."}


# -- add (RFC 7644 §3.5.2.1) -----------------------------------------------------------------

def test_add_to_multi_valued_appends_without_exact_duplicates():
    result = patch(user(), {"op": "add", "path": "emails", "value": [
        {"value": "alice@home.example", "type": "home"},
        {"value": "a@other.example", "type": "other"},
    ]})

    assert result.data["emails"] == [*ALICE["emails"], {"value": "a@other.example", "type": "other"}]


def test_add_same_value_again_changes_nothing():
    result = patch(user(), {"op": "add", "path": "emails", "value": [ALICE["emails"][1]]},
                   {"op": "add", "path": "userName", "value": "alice"})

    assert result.data == ALICE
    assert result.changed == ()
    assert result.to_change().data is None


def test_add_to_single_valued_replaces():
    result = patch(user(), {"op": "add", "path": "userName", "value": "alice2"})

    assert result.data["userName"] == "alice2"


def test_add_complex_merges_sub_attributes():
    result = patch(user(), {"op": "add", "path": "name", "value": {"middleName": "P", "givenName": "Al"}})

    assert result.data["name"] == {"givenName": "Al", "familyName": "Liddell", "middleName": "P"}


def test_add_primary_value_demotes_the_old_primary():
    result = patch(user(), {"op": "add", "path": "emails",
                            "value": [{"value": "new@x.example", "type": "other", "primary": True}]})

    assert [e.get("primary") for e in result.data["emails"]] == [False, None, True]


def test_add_element_by_canonical_type_filter_when_none_matches():
    result = patch(user(), {"op": "add", "path": "phoneNumbers[type eq \"mobile\"]", "value": {"value": "+1 555"}})

    assert result.data["phoneNumbers"] == [{"type": "mobile", "value": "+1 555"}]


@pytest.mark.parametrize("op", ["add", "replace"])
@pytest.mark.parametrize("path", [
    'emails[type eq "nosuchtype"].value', 'emails[type eq "nosuchtype"]', 'emails[value eq "x@y.z"].display',
    'emails[type eq "work" and value eq "x@y.z"].display', 'phoneNumbers[type ne "mobile"].value',
    'ims[type eq "work"].value',
])
def test_filter_matching_nothing_is_no_target_unless_canonical_type(op, path):
    """Only `type eq "<canonical type>"` upserts; `ims` types are aim, gtalk, ... not work."""
    value = {"value": "v"} if path.endswith("]") else "v"
    with pytest.raises(NoTarget):
        patch(user(), {"op": op, "path": path, "value": value})


@pytest.mark.parametrize("op", ["add", "replace"])
def test_canonical_type_upsert_is_a_tolerance(op):
    with pytest.raises(NoTarget):
        patch(user(), {"op": op, "path": 'emails[type eq "other"].value', "value": "o@x.example"}, rules=STRICT)
    result = patch(user(), {"op": op, "path": 'emails[type eq "other"].value', "value": "o@x.example"})
    assert result.data["emails"][-1] == {"type": "other", "value": "o@x.example"}


def test_add_merges_into_the_filtered_element():
    result = patch(user(), {"op": "add", "path": "emails[type eq \"home\"]", "value": {"display": "Home"}})

    assert result.data["emails"][1] == {"value": "alice@home.example", "type": "home", "display": "Home"}


@pytest.mark.parametrize("op", ["add", "replace"])
def test_filter_that_cannot_build_an_element_is_no_target(op):
    with pytest.raises(NoTarget):
        patch(user(), {"op": op, "path": "emails[value ew \"@nowhere.example\"].display", "value": "x"})


# -- replace (RFC 7644 §3.5.2.3) -------------------------------------------------------------

def test_replace_multi_valued_without_filter_replaces_all_values():
    result = patch(user(), {"op": "replace", "path": "emails", "value": [{"value": "only@x.example"}]})

    assert result.data["emails"] == [{"value": "only@x.example"}]


@pytest.mark.parametrize("op", ["add", "replace"])
@pytest.mark.parametrize("path, value, words", [
    ("emails", {"value": "only@x.example"}, "'emails' is multi-valued and must be an array, got an object"),
    ("emails", "only@x.example", "'emails' is multi-valued and must be an array, got a string"),
    ("userName", ["alice"], "'userName' is single-valued and must be a string, got an array"),
    ("externalId", ["x"], "'externalId' is single-valued and must be a string, got an array"),
    ("name", "Alice Liddell", "'name' must be an object, got a string"),
    ('emails[type eq "work"]', [{"value": "w@x.example"}], "one element here, an object, not an array"),
])
def test_value_of_the_wrong_shape_is_invalid(op, path, value, words):
    with pytest.raises(InvalidValue, match=words):
        patch(user(), {"op": op, "path": path, "value": value})


def test_replace_complex_leaves_other_sub_attributes():
    result = patch(user(), {"op": "replace", "path": "name", "value": {"familyName": "Pleasance"}})

    assert result.data["name"] == {"givenName": "Alice", "familyName": "Pleasance"}


def test_replace_complex_clears_sub_attributes_sent_empty():
    result = patch(user(), {"op": "replace", "path": "name", "value": {"familyName": "", "middleName": None}})

    assert result.data["name"] == {"givenName": "Alice"}


def test_replace_filtered_element_that_does_not_exist_is_no_target():
    with pytest.raises(NoTarget):
        patch(user(), {"op": "replace", "path": "addresses[type eq \"work\"]", "value": {"locality": "Oxford"}},
              rules=STRICT)
    with pytest.raises(NoTarget):
        patch(user(), {"op": "replace", "path": "addresses[locality eq \"Oxford\"]", "value": {"region": "Ox"}})


def test_replace_filtered_primary_demotes_others():
    result = patch(user(), {"op": "replace", "path": "emails[type eq \"home\"].primary", "value": True})

    assert result.data["emails"] == [
        {"value": "alice@work.example", "type": "work", "primary": False},
        {"value": "alice@home.example", "type": "home", "primary": True},
    ]


def test_two_primary_values_are_invalid():
    with pytest.raises(InvalidValue):
        patch(user(), {"op": "replace", "path": "emails", "value": [
            {"value": "a@x.example", "primary": True}, {"value": "b@x.example", "primary": True}]})
    with pytest.raises(InvalidValue):
        patch(user(), {"op": "replace", "path": "emails[value ew \".example\"].primary", "value": True})


def test_value_of_wrong_type_is_invalid():
    with pytest.raises(InvalidValue):
        patch(user(), {"op": "replace", "path": "active", "value": "maybe"})
    with pytest.raises(InvalidValue):
        patch(user(), {"op": "replace", "path": "name", "value": {"nickname": "x"}})


# -- remove (RFC 7644 §3.5.2.2) --------------------------------------------------------------

def test_remove_attribute_and_sub_attribute():
    result = patch(user(), {"op": "remove", "path": "name.givenName"},
                   {"op": "remove", "path": f"{ENTERPRISE_USER}:department"},
                   {"op": "remove", "path": "title"})

    assert result.data == {"userName": "alice", "name": {"familyName": "Liddell"}, "emails": ALICE["emails"]}
    assert result.changed == ("name", f"{ENTERPRISE_USER}:department")


def test_removing_last_value_unassigns_the_attribute():
    result = patch(user(), {"op": "remove", "path": "emails[type eq \"work\"]"},
                   {"op": "remove", "path": "emails[type eq \"home\"]"},
                   {"op": "remove", "path": "name.givenName"},
                   {"op": "remove", "path": "name.familyName"})

    assert "emails" not in result.data
    assert "name" not in result.data


def test_remove_with_filter_matching_nothing_is_no_target():
    with pytest.raises(NoTarget):
        patch(user(), {"op": "remove", "path": "emails[type eq \"other\"]"})


def test_remove_takes_no_value_except_members_when_lenient():
    with pytest.raises(InvalidValue, match="'remove' takes no 'value'"):
        patch(user(), {"op": "remove", "path": "emails", "value": [{"value": "alice@home.example"}]})
    with pytest.raises(InvalidValue, match="'remove' takes no 'value'"):
        patch(group(None), {"op": "remove", "path": "members", "value": [{"value": "m-1"}]}, rules=STRICT)
    result = patch(group(None), {"op": "remove", "path": "members", "value": [{"value": "m-1"}]})
    assert result.remove_members == ["m-1"]


def test_remove_extension_by_its_urn():
    result = patch(user(), {"op": "remove", "path": ENTERPRISE_USER})

    assert ENTERPRISE_USER not in result.data
    assert result.changed == (f"{ENTERPRISE_USER}:department",)


# -- mutability ------------------------------------------------------------------------------

@pytest.mark.parametrize("operation", [
    {"op": "replace", "path": "id", "value": "other"},
    {"op": "remove", "path": "id"},
    {"op": "replace", "path": "meta.lastModified", "value": "2024-01-01T00:00:00Z"},
    {"op": "add", "path": "groups", "value": [{"value": "g-9"}]},
    {"op": "replace", "path": f"{ENTERPRISE_USER}:manager.displayName", "value": "Boss"},
    {"op": "replace", "value": {"id": "other"}},
])
def test_read_only_attributes_cannot_be_written(operation):
    with pytest.raises(Mutability):
        patch(user(), operation)


@pytest.mark.parametrize("operation", [
    {"op": "remove", "path": "userName"},
    {"op": "replace", "path": "userName", "value": ""},
    {"op": "replace", "path": "userName", "value": None},
])
def test_required_attribute_cannot_be_removed(operation):
    with pytest.raises(Mutability):
        patch(user(), operation)


def test_required_group_display_name_cannot_be_removed():
    with pytest.raises(Mutability):
        patch(group(), {"op": "remove", "path": "displayName"})


def test_immutable_member_value_cannot_change():
    loaded = group([Member("m-1", "User", "Ann")])
    with pytest.raises(Mutability):
        patch(loaded, {"op": "replace", "path": "members[value eq \"m-1\"].value", "value": "m-2"})


def test_password_is_stored_hashed():
    result = patch(user(), {"op": "replace", "path": "password", "value": "t0p-secret"})

    stored = result.data["password"]
    assert stored != "t0p-secret"
    assert verify_password("t0p-secret", stored)
    assert result.changed == ("password",)
    assert "password" not in patch(user(result.data), {"op": "remove", "path": "password"}).data


# -- all or nothing --------------------------------------------------------------------------

def test_failed_operation_applies_nothing_and_input_is_untouched():
    resource = user()
    snapshot = resource.copy()
    with pytest.raises(InvalidValue):
        patch(resource, {"op": "replace", "path": "title", "value": "first"},
              {"op": "replace", "path": "active", "value": "not a boolean"})
    assert resource.data == snapshot.data


def test_successful_patch_does_not_mutate_input():
    resource = group([Member("m-1", "User")])
    patch(resource, {"op": "add", "path": "members", "value": [{"value": "m-2"}]},
          {"op": "replace", "path": "members[value eq \"m-1\"].display", "value": "Ann"})

    assert resource.members == [Member("m-1", "User")]
    assert resource.data == {"displayName": "Readers"}


PATHS = ["title", "active", "emails", "emails[type eq \"work\"].value", "name", "name.givenName",
         "userName", "id", f"{ENTERPRISE_USER}:manager", "emails[value co \"@\"]", "x509Certificates"]
VALUES = st.one_of(st.none(), st.booleans(), st.text(max_size=5), st.integers(),
                   st.dictionaries(st.sampled_from(["value", "type", "givenName", "primary"]),
                                   st.one_of(st.text(max_size=3), st.booleans()), max_size=2))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["add", "replace", "remove"]), st.sampled_from(PATHS), VALUES),
                min_size=1, max_size=4))
def test_any_operations_end_in_a_result_or_a_scim_error(operations):
    resource = user()
    snapshot = copy.deepcopy(resource.data)
    message = body(*[{"op": op, "path": path, "value": value} for op, path, value in operations])
    try:
        result = apply_patch(resource, parse(message), CATALOG, USER_TYPE)
    except ScimError:
        pass
    else:
        assert isinstance(result.data["userName"], str) and result.data["userName"]
    assert resource.data == snapshot


# -- group membership ------------------------------------------------------------------------

def test_member_filter_other_than_value_eq_needs_the_members():
    with pytest.raises(MembersRequired):
        patch(group(None), {"op": "remove", "path": "members[display co \"Ann\"]"})


def test_member_filter_is_applied_to_loaded_members_as_removals():
    loaded = group([Member("m-1", "User", "Ann"), Member("m-2", "User", "Bob"), Member("m-3", "User", "Annie")])
    result = patch(loaded, {"op": "remove", "path": "members[display sw \"Ann\"]"})

    assert result.remove_members == ["m-1", "m-3"]
    assert result.replace_members is None


def test_editing_a_loaded_member_rewrites_the_list():
    loaded = group([Member("m-1", "User", "Ann"), Member("m-2", "User")])
    result = patch(loaded, {"op": "replace", "path": "members[value eq \"m-2\"].display", "value": "Bob"})

    assert result.replace_members == [Member("m-1", "User", "Ann"), Member("m-2", "User", "Bob")]


def test_member_sub_attribute_path_needs_the_members():
    with pytest.raises(MembersRequired):
        patch(group(None), {"op": "replace", "path": "members[value eq \"m-2\"].display", "value": "Bob"})


def test_member_type_is_canonicalised_and_checked():
    result = patch(group(), {"op": "add", "path": "members", "value": [{"value": "m-1", "type": "user"}]})

    assert result.add_members == [Member("m-1", "User")]
    with pytest.raises(InvalidValue):
        patch(group(), {"op": "add", "path": "members", "value": [{"value": "m-1", "type": "Robot"}]})
    with pytest.raises(InvalidValue):
        patch(group(), {"op": "add", "path": "members", "value": [{"display": "no id"}]})


def test_operations_after_a_replace_apply_to_the_new_list():
    result = patch(group(None),
                   {"op": "replace", "path": "members", "value": [{"value": "a"}, {"value": "b"}]},
                   {"op": "remove", "path": "members[value eq \"a\"]"},
                   {"op": "add", "path": "members", "value": [{"value": "c"}]})

    assert result.replace_members == [Member("b"), Member("c")]
    assert result.add_members == [] and result.remove_members == []


def test_to_change_carries_data_and_membership():
    result = patch(group(None), {"op": "replace", "path": "displayName", "value": "Writers"},
                   {"op": "add", "path": "members", "value": [{"value": "a"}]})
    change = result.to_change()

    assert change.data == {"displayName": "Writers"}
    assert change.add_members == [Member("a")]
    assert change.remove_members == [] and change.replace_members is None


# -- tolerances: on by default, each refused with the strict rules -----------------------------

@pytest.mark.parametrize("operation, error", [
    ({"op": "Replace", "path": "title", "value": "Dr"}, InvalidSyntax),
    ({"op": "replace", "value": {"name.givenName": "Al"}}, InvalidValue),
    ({"op": "replace", "value": {f"{ENTERPRISE_USER}:department": "D"}}, InvalidValue),
    ({"op": "replace", "path": "department", "value": "D"}, InvalidPath),
    ({"op": "replace", "path": "active", "value": "False"}, InvalidValue),
    ({"op": "replace", "path": "title", "value": ""}, None),
    ({"op": "replace", "path": f"{ENTERPRISE_USER}:manager", "value": "boss"}, InvalidValue),
    ({"op": "replace", "path": f"{ENTERPRISE_USER}:manager", "value": [{"value": "boss"}]}, InvalidValue),
    ({"op": "replace", "path": f"{ENTERPRISE_USER}:manager", "value": ""}, InvalidValue),
    ({"op": "replace", "value": {"id": "u-1", "title": "Dr"}}, Mutability),
])
def test_each_tolerated_operation_is_refused_when_strict(operation, error):
    lenient = patch(user(), operation)
    if error is None:  # `""` is a value when strict: stored, where lenient clears it
        assert "title" not in lenient.data
        assert patch(user(), operation, rules=STRICT).data["title"] == ""
        return
    with pytest.raises(error):
        patch(user(), operation, rules=STRICT)


def test_strict_member_removal_by_filter_needs_the_member_to_exist():
    operation = {"op": "remove", "path": 'members[value eq "absent"]'}
    assert patch(group(None), operation).remove_members == ["absent"]
    with pytest.raises(MembersRequired):
        patch(group(None), operation, rules=STRICT)
    with pytest.raises(NoTarget):
        patch(group([Member("present", "User")]), operation, rules=STRICT)
    removed = patch(group([Member("absent", "User")]), operation, rules=STRICT)
    assert removed.remove_members == ["absent"]


def test_strict_keeps_an_empty_string_as_a_value():
    result = patch(user(), {"op": "replace", "path": "name.givenName", "value": ""}, rules=STRICT)
    assert result.data["name"] == {"givenName": "", "familyName": "Liddell"}
    with pytest.raises(InvalidValue, match="'userName' is required and must not be empty"):
        patch(user(), {"op": "replace", "path": "userName", "value": ""}, rules=STRICT)


def test_multi_valued_bound_is_checked_after_appends():
    rules = ValueRules(max_multi_values=3)
    grown = patch(user(), {"op": "add", "path": "emails", "value": [{"value": "c@x.example"}]}, rules=rules)
    assert len(grown.data["emails"]) == 3
    with pytest.raises(InvalidValue, match="'emails' has 4 values; at most 3 are allowed"):
        patch(user(grown.data), {"op": "add", "path": "emails", "value": [{"value": "d@x.example"}]}, rules=rules)
    with pytest.raises(InvalidValue, match="'emails' has 4 values"):
        patch(user(grown.data), {"op": "add", "path": 'emails[type eq "other"].value', "value": "o@x.example"},
              rules=rules)
    members = [{"value": f"m-{i}"} for i in range(10)]
    assert len(patch(group(None), {"op": "add", "path": "members", "value": members}, rules=rules).add_members) == 10
