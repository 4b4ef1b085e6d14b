"""Value coercion shared by POST/PUT validation and PATCH: strict shapes, the tolerances of the
lenient mode, and the multi-value bound."""

import pytest

from scimflask.errors import InvalidValue
from scimflask.schema import ENTERPRISE_USER, GROUP_TYPE, USER_TYPE, default_catalog
from scimflask.schema.catalog import (
    BINARY,
    BOOLEAN,
    DATETIME,
    DECIMAL,
    INTEGER,
    REFERENCE,
    STRING,
    Attribute,
)
from scimflask.schema.coerce import (
    MAX_STRING_LENGTH,
    ValueRules,
    coerce_attribute_value,
    coerce_complex,
    coerce_element,
    coerce_value,
)
from scimflask.schema.tolerances import MANAGER, Compatibility

CATALOG = default_catalog()
STRICT = ValueRules(Compatibility("strict"))


def definition(path: str) -> Attribute:
    return CATALOG.resolve(USER_TYPE, path).definition


def simple(type_: str) -> Attribute:
    return Attribute("attr", type=type_)


# -- simple types: accepted values ---------------------------------------------------------

@pytest.mark.parametrize(
    ("type_", "sent", "expected"),
    [
        (STRING, "Babs", "Babs"),
        (REFERENCE, "https://example.com/u/1", "https://example.com/u/1"),
        (BOOLEAN, True, True),
        (BOOLEAN, False, False),
        (BOOLEAN, "True", True),
        (BOOLEAN, "False", False),
        (BOOLEAN, "true", True),
        (BOOLEAN, "FALSE", False),
        (INTEGER, 42, 42),
        (INTEGER, -7, -7),
        (DECIMAL, 1.5, 1.5),
        (DECIMAL, 3, 3),
        (DATETIME, "2024-05-01T12:00:00Z", "2024-05-01T12:00:00Z"),
        (DATETIME, "2024-05-01T12:00:00.123+02:00", "2024-05-01T12:00:00.123+02:00"),
        (DATETIME, "2024-02-29T23:59:59", "2024-02-29T23:59:59"),
        (BINARY, "aGVsbG8=", "aGVsbG8="),
        (BINARY, "", ""),
    ],
)
def test_accepted_values(type_, sent, expected):
    result = coerce_value(simple(type_), sent, path="attr")
    assert result == expected
    assert type(result) is type(expected)


# -- simple types: wrong types name the path and the expected type -----------------------

@pytest.mark.parametrize(
    ("type_", "sent", "expected_words"),
    [
        (STRING, 5, "a string, got a number"),
        (STRING, True, "a string, got a boolean"),
        (STRING, ["a"], "a string, got an array"),
        (STRING, {"a": 1}, "a string, got an object"),
        (REFERENCE, 1.5, "a string"),
        (BOOLEAN, "yes", "a boolean, got a string"),
        (BOOLEAN, 1, "a boolean, got a number"),
        (BOOLEAN, "", "a boolean"),
        (INTEGER, True, "an integer, got a boolean"),
        (INTEGER, 1.0, "an integer, got a number"),
        (INTEGER, "1.5", "an integer, got a string"),
        (INTEGER, "twelve", "an integer"),
        (INTEGER, "42", "an integer, got a string"),
        (DECIMAL, "2.25", "a decimal number, got a string"),
        (DECIMAL, False, "a decimal number, got a boolean"),
        (DECIMAL, "1,5", "a decimal number"),
        (DECIMAL, [1], "a decimal number, got an array"),
        (DATETIME, 1714564800, "an xsd:dateTime string, got a number"),
        (BINARY, 1, "a base64 string, got a number"),
    ],
)
def test_wrong_type_is_invalid_value_naming_path_and_type(type_, sent, expected_words):
    with pytest.raises(InvalidValue) as info:
        coerce_value(simple(type_), sent, path="urn:x:attr")
    assert "'urn:x:attr'" in info.value.detail
    assert expected_words in info.value.detail
    assert info.value.status == 400


@pytest.mark.parametrize(
    "sent",
    ["2024-13-01T00:00:00Z", "2024-02-30T00:00:00Z", "2024-05-01", "2024-05-01 12:00:00Z",
     "2024-05-01T25:00:00Z", "2024-05-01T12:00:00+15:00", "yesterday", "2024-05-01T12:00Z"],
)
def test_malformed_datetime_rejected(sent):
    with pytest.raises(InvalidValue, match="xsd:dateTime"):
        coerce_value(simple(DATETIME), sent, path="meta.created")


@pytest.mark.parametrize("sent", ["not base64!", "aGVsbG8", "aGV=sbG8", "a\ngVsbG8="])
def test_malformed_base64_rejected(sent):
    with pytest.raises(InvalidValue, match="base64"):
        coerce_value(simple(BINARY), sent, path="x509Certificates.value")


@pytest.mark.parametrize("sent", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_decimal_rejected(sent):
    with pytest.raises(InvalidValue, match="decimal"):
        coerce_value(simple(DECIMAL), sent, path="weight")


@pytest.mark.parametrize("sent", [2**63, -(2**63) - 1])
def test_integer_outside_int64_rejected(sent):
    with pytest.raises(InvalidValue, match="64-bit"):
        coerce_value(simple(INTEGER), sent, path="level")


def test_string_with_nul_rejected():
    with pytest.raises(InvalidValue, match="NUL"):
        coerce_value(simple(STRING), "a\x00b", path="nickName")


def test_string_length_limit():
    assert coerce_value(simple(STRING), "x" * MAX_STRING_LENGTH, path="title")
    with pytest.raises(InvalidValue, match="longer than"):
        coerce_value(simple(STRING), "x" * (MAX_STRING_LENGTH + 1), path="title")


def test_coerce_value_refuses_complex_attribute():
    with pytest.raises(InvalidValue, match="complex"):
        coerce_value(definition("name"), "x", path="name")


@pytest.mark.parametrize("sent", ["True", "false", "FALSE"])
def test_boolean_strings_only_under_their_tolerance(sent):
    assert coerce_value(simple(BOOLEAN), sent, path="active") is (sent.lower() == "true")
    with pytest.raises(InvalidValue, match="'active' must be a boolean, got a string"):
        coerce_value(simple(BOOLEAN), sent, path="active", rules=STRICT)


# -- complex -------------------------------------------------------------------------------

def test_complex_canonicalises_names_and_drops_nulls():
    value = {"GIVENNAME": "Barbara", "familyname": "Jensen", "middleName": None}
    assert coerce_complex(definition("name"), value, path="name") == {
        "givenName": "Barbara", "familyName": "Jensen"}


def test_complex_coerces_sub_values():
    value = {"value": "a@example.com", "Primary": "True"}
    assert coerce_complex(definition("emails"), value, path="emails") == {
        "value": "a@example.com", "primary": True}


def test_complex_sub_value_error_names_sub_path():
    with pytest.raises(InvalidValue, match="'emails.primary' must be a boolean"):
        coerce_complex(definition("emails"), {"value": "a@b", "primary": "maybe"}, path="emails")


def test_complex_unknown_sub_attribute_rejected():
    with pytest.raises(InvalidValue, match="'name' has no sub-attribute 'nickname'"):
        coerce_complex(definition("name"), {"nickname": "Babs"}, path="name")


def test_complex_same_sub_attribute_twice_rejected():
    with pytest.raises(InvalidValue, match="more than once"):
        coerce_complex(definition("name"), {"givenName": "a", "GivenName": "b"}, path="name")


def test_complex_needs_an_object_when_no_value_sub_attribute():
    with pytest.raises(InvalidValue, match="'name' must be an object, got a string"):
        coerce_complex(definition("name"), "Barbara Jensen", path="name")


def test_complex_ignores_read_only_sub_attributes():
    manager = definition(f"{ENTERPRISE_USER}:manager")
    assert coerce_complex(manager, {"value": "m1", "displayName": "Boss"}, path="manager") == {"value": "m1"}


def test_manager_as_bare_id_becomes_value_object():
    """Entra: {"op":"add","path":"...:manager","value":"2c2f6fb8-..."}."""
    manager = definition(MANAGER)
    assert coerce_attribute_value(manager, "2c2f6fb8-1", path=MANAGER) == {"value": "2c2f6fb8-1"}
    with pytest.raises(InvalidValue, match="must be an object, got a string"):
        coerce_attribute_value(manager, "2c2f6fb8-1", path=MANAGER, rules=STRICT)


def test_bare_id_is_refused_for_every_other_complex_attribute():
    members = CATALOG.resolve(GROUP_TYPE, "members").definition
    with pytest.raises(InvalidValue, match="'members' must be an object, got a string"):
        coerce_attribute_value(members, ["u1"], path="members")
    with pytest.raises(InvalidValue, match="'emails' must be an object, got a string"):
        coerce_attribute_value(definition("emails"), ["a@b.c"], path="emails")


def test_manager_in_one_element_list_is_unwrapped():
    """Entra's older doc form: "value":[{"$ref":"http://.../Users/<id>","value":"<id>"}]."""
    manager = definition(MANAGER)
    sent = [{"$ref": "http://example.com/Users/m1", "value": "m1"}]
    assert coerce_attribute_value(manager, sent, path=MANAGER) == {
        "$ref": "http://example.com/Users/m1", "value": "m1"}
    with pytest.raises(InvalidValue, match="single-valued and must be an object, got an array"):
        coerce_attribute_value(manager, sent, path=MANAGER, rules=STRICT)


def test_manager_cleared_with_empty_string():
    manager = definition(MANAGER)
    assert coerce_attribute_value(manager, "", path=MANAGER) is None
    with pytest.raises(InvalidValue, match="must be an object, got a string"):
        coerce_attribute_value(manager, "", path=MANAGER, rules=STRICT)


# -- coerce_attribute_value: single, multi, clear -----------------------------------------

@pytest.mark.parametrize(("path", "sent", "words"), [
    ("displayName", ["Babs"], "'displayName' is single-valued and must be a string, got an array"),
    ("displayName", ["a", "b"], "'displayName' is single-valued and must be a string, got an array"),
    ("active", [True], "'active' is single-valued and must be a boolean, got an array"),
    ("name", [{"givenName": "B"}], "'name' is single-valued and must be an object, got an array"),
    ("nickName", [], "'nickName' is single-valued"),
])
def test_single_valued_attribute_refuses_arrays(path, sent, words):
    with pytest.raises(InvalidValue, match=words):
        coerce_attribute_value(definition(path), sent, path=path)


@pytest.mark.parametrize(("path", "sent", "words"), [
    ("emails", {"value": "a@example.com"}, "'emails' is multi-valued and must be an array, got an object"),
    ("emails", "a@example.com", "'emails' is multi-valued and must be an array, got a string"),
    ("roles", True, "'roles' is multi-valued and must be an array, got a boolean"),
])
def test_multi_valued_attribute_refuses_a_lone_value(path, sent, words):
    with pytest.raises(InvalidValue, match=words):
        coerce_attribute_value(definition(path), sent, path=path)


@pytest.mark.parametrize(
    ("path", "sent"),
    [("nickName", None), ("nickName", ""), ("active", ""), ("emails", []),
     ("emails", None), ("name", {}), ("name", {"givenName": None}), ("roles", [{"value": None}])],
)
def test_clear_values_become_none(path, sent):
    assert coerce_attribute_value(definition(path), sent, path=path) is None


def test_empty_string_is_a_string_when_strict():
    assert coerce_attribute_value(definition("nickName"), "", path="nickName", rules=STRICT) == ""
    with pytest.raises(InvalidValue, match="'active' must be a boolean"):
        coerce_attribute_value(definition("active"), "", path="active", rules=STRICT)


def test_element_is_one_object():
    emails = definition("emails")
    assert coerce_element(emails, {"Value": "a@b"}, path="emails") == {"value": "a@b"}
    with pytest.raises(InvalidValue, match="one element here, an object, not an array"):
        coerce_element(emails, [{"value": "a@b"}], path="emails")


def test_multi_valued_bound():
    roles = definition("roles")
    rules = ValueRules(max_multi_values=3)
    assert len(coerce_attribute_value(roles, [{"value": str(i)} for i in range(3)], path="roles",
                                      rules=rules)) == 3
    with pytest.raises(InvalidValue, match="'roles' has 4 values; at most 3 are allowed"):
        coerce_attribute_value(roles, [{"value": str(i)} for i in range(4)], path="roles", rules=rules)
    members = CATALOG.resolve(GROUP_TYPE, "members").definition
    many = [{"value": f"m{i}"} for i in range(4)]
    assert len(coerce_attribute_value(members, many, path="members", rules=rules, bounded=False)) == 4


def test_multi_valued_drops_null_and_empty_elements():
    sent = [None, {"value": "a@b"}, {"value": None, "display": None}]
    assert coerce_attribute_value(definition("emails"), sent, path="emails") == [{"value": "a@b"}]


def test_multi_valued_rejects_nested_lists():
    with pytest.raises(InvalidValue, match="'emails' must be an array of values"):
        coerce_attribute_value(definition("emails"), [[{"value": "a@b"}]], path="emails")


def test_multi_valued_element_types_checked():
    with pytest.raises(InvalidValue, match="'x509Certificates.value' must be base64"):
        coerce_attribute_value(definition("x509Certificates"), [{"value": "??"}], path="x509Certificates")


def test_at_most_one_primary():
    sent = [{"value": "a@b", "primary": True}, {"value": "c@d", "primary": "true"}]
    with pytest.raises(InvalidValue, match="2 values with primary true"):
        coerce_attribute_value(definition("emails"), sent, path="emails")


def test_one_primary_and_false_primaries_allowed():
    sent = [{"value": "a@b", "primary": True}, {"value": "c@d", "primary": False}]
    assert coerce_attribute_value(definition("emails"), sent, path="emails") == sent


def test_group_members_drop_null_ref():
    """Entra: {"op":"Add","path":"members","value":[{"$ref":null,"value":"f648f8d5ea4e4cd38e9c"}]}."""
    members = CATALOG.resolve(GROUP_TYPE, "members").definition
    sent = [{"$ref": None, "value": "f648f8d5ea4e4cd38e9c"}]
    assert coerce_attribute_value(members, sent, path="members") == [{"value": "f648f8d5ea4e4cd38e9c"}]
