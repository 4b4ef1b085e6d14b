"""Value coercion shared by POST/PUT validation and PATCH."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    coerce_attribute_value,
    coerce_complex,
    coerce_value,
)

CATALOG = default_catalog()


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
        (INTEGER, "42", 42),
        (INTEGER, "-7", -7),
        (DECIMAL, 1.5, 1.5),
        (DECIMAL, 3, 3),
        (DECIMAL, "2.25", 2.25),
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


@pytest.mark.parametrize("sent", [float("nan"), float("inf"), float("-inf"), "nan", "inf"])
def test_non_finite_decimal_rejected(sent):
    with pytest.raises(InvalidValue, match="decimal"):
        coerce_value(simple(DECIMAL), sent, path="weight")


@pytest.mark.parametrize("sent", [2**63, -(2**63) - 1, str(2**63)])
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


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_integers_and_their_text_agree(number):
    attr = simple(INTEGER)
    assert coerce_value(attr, number, path="n") == coerce_value(attr, str(number), path="n") == number


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
    manager = definition(f"{ENTERPRISE_USER}:manager")
    assert coerce_attribute_value(manager, "2c2f6fb8-1", path="manager") == {"value": "2c2f6fb8-1"}


def test_manager_in_one_element_list_is_unwrapped():
    """Entra's older doc form: "value":[{"$ref":"http://.../Users/<id>","value":"<id>"}]."""
    manager = definition(f"{ENTERPRISE_USER}:manager")
    sent = [{"$ref": "http://example.com/Users/m1", "value": "m1"}]
    assert coerce_attribute_value(manager, sent, path="manager") == {
        "$ref": "http://example.com/Users/m1", "value": "m1"}


def test_manager_cleared_with_empty_string():
    manager = definition(f"{ENTERPRISE_USER}:manager")
    assert coerce_attribute_value(manager, "", path="manager") is None


# -- coerce_attribute_value: single, multi, clear -----------------------------------------

def test_single_value_in_one_element_list_is_unwrapped():
    assert coerce_attribute_value(definition("displayName"), ["Babs"], path="displayName") == "Babs"


def test_single_valued_attribute_rejects_several_values():
    with pytest.raises(InvalidValue, match="single-valued but got 2 values"):
        coerce_attribute_value(definition("displayName"), ["a", "b"], path="displayName")


@pytest.mark.parametrize(
    ("path", "sent"),
    [("nickName", None), ("nickName", ""), ("active", ""), ("nickName", []), ("emails", []),
     ("emails", None), ("name", {}), ("name", {"givenName": None}), ("roles", [{"value": None}])],
)
def test_clear_values_become_none(path, sent):
    assert coerce_attribute_value(definition(path), sent, path=path) is None


def test_multi_valued_wraps_a_single_element():
    sent = {"value": "a@example.com", "type": "work"}
    assert coerce_attribute_value(definition("emails"), sent, path="emails") == [sent]


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
