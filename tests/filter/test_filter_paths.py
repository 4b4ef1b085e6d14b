"""PATCH paths (RFC 7644 §3.5.2) and sortBy attribute paths (§3.4.2.3)."""

from __future__ import annotations

import pytest

from scimflask.errors import InvalidFilter, InvalidPath, InvalidValue
from scimflask.filter import And, AttrPath, Compare, PatchPath, Present, parse_attr_path, parse_path
from scimflask.schema import GROUP_TYPE
from scimflask.schema.catalog import CORE_GROUP, CORE_USER, ENTERPRISE_USER

from .catalogs import make_catalog

CATALOG, USER = make_catalog()
MEMBER_ID = "2819c223-7f76-453a-919d-413861904646"

USER_PATHS = [
    ("name.familyName", PatchPath(AttrPath(CORE_USER, "name", "familyName"))),
    ("userName", PatchPath(AttrPath(CORE_USER, "userName"))),
    ("USERNAME", PatchPath(AttrPath(CORE_USER, "userName"))),
    ("emails", PatchPath(AttrPath(CORE_USER, "emails"))),
    ("emails.value", PatchPath(AttrPath(CORE_USER, "emails", "value"))),
    ('emails[type eq "work"].value',
     PatchPath(AttrPath(CORE_USER, "emails", "value"), Compare(AttrPath(CORE_USER, "emails", "type"), "eq", "work"))),
    ('emails[type eq "work"]',
     PatchPath(AttrPath(CORE_USER, "emails"), Compare(AttrPath(CORE_USER, "emails", "type"), "eq", "work"))),
    ('addresses[type eq "work"]',
     PatchPath(AttrPath(CORE_USER, "addresses"), Compare(AttrPath(CORE_USER, "addresses", "type"), "eq", "work"))),
    ('addresses[type eq "work"].streetAddress',
     PatchPath(AttrPath(CORE_USER, "addresses", "streetAddress"),
               Compare(AttrPath(CORE_USER, "addresses", "type"), "eq", "work"))),
    ('emails[type eq "work" and primary eq true].Value',
     PatchPath(AttrPath(CORE_USER, "emails", "value"),
               And(Compare(AttrPath(CORE_USER, "emails", "type"), "eq", "work"),
                   Compare(AttrPath(CORE_USER, "emails", "primary"), "eq", True)))),
    ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
     PatchPath(AttrPath(ENTERPRISE_USER, "manager"))),
    ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
     PatchPath(AttrPath(ENTERPRISE_USER, "employeeNumber"))),
    ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
     PatchPath(AttrPath(ENTERPRISE_USER, "manager", "value"))),
    ("urn:ietf:params:scim:schemas:core:2.0:User:name.givenName", PatchPath(AttrPath(CORE_USER, "name", "givenName"))),
    ("password", PatchPath(AttrPath(CORE_USER, "password"))),
    ("emails[type pr]", PatchPath(AttrPath(CORE_USER, "emails"), Present(AttrPath(CORE_USER, "emails", "type")))),
]


@pytest.mark.parametrize(("text", "expected"), USER_PATHS, ids=[case[0] for case in USER_PATHS])
def test_user_patch_paths(text, expected):
    assert parse_path(text, CATALOG, USER) == expected


def test_group_member_paths():
    member_value = Compare(AttrPath(CORE_GROUP, "members", "value"), "eq", MEMBER_ID)
    assert parse_path("members", CATALOG, GROUP_TYPE) == PatchPath(AttrPath(CORE_GROUP, "members"))
    assert parse_path(f'members[value eq "{MEMBER_ID}"]', CATALOG, GROUP_TYPE) == PatchPath(
        AttrPath(CORE_GROUP, "members"), member_value)
    assert parse_path(f'members[value eq "{MEMBER_ID}"].display', CATALOG, GROUP_TYPE) == PatchPath(
        AttrPath(CORE_GROUP, "members", "display"), member_value)


INVALID_PATHS = [
    ("", InvalidPath, "position 1"),
    ("bogus", InvalidPath, "unknown attribute"),
    ("name.bogus", InvalidPath, "unknown attribute"),
    ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", InvalidPath, "unknown attribute"),
    ('emails[type eq "work"].bogus', InvalidPath, "not a sub-attribute"),
    ('emails[type eq "work"] .value', InvalidPath, "end of the input"),
    ('emails[type eq "work"].value.x', InvalidPath, "not a sub-attribute"),
    ('name[givenName eq "x"]', InvalidPath, "multi-valued complex"),
    ("userName eq", InvalidPath, "end of the input"),
    ("emails)", InvalidPath, "end of the input"),
    # RFC 7644 §3.12: a malformed path is invalidPath, its value filter included; only a
    # well-formed comparison the attribute cannot take is invalidFilter ("PATCH (Path Filter)").
    ("emails[", InvalidPath, "attribute name"),
    ('emails[bogus eq "x"]', InvalidPath, "not a sub-attribute"),
    ('emails[type eq work]', InvalidPath, "a value"),
    ('emails[type eq "work"', InvalidPath, "']'"),
    ('emails[type eq "unterminated]', InvalidPath, "string literal"),
    ('emails[value eq "x" or 1=1].display', InvalidPath, "malformed number"),
    ('emails[type gt true]', InvalidFilter, "string literal"),
    ('emails[primary gt true]', InvalidFilter, "not supported"),
    ('emails[primary eq "true"]', InvalidFilter, "true or false"),
    ('emails[type lt null]', InvalidFilter, "null can only be compared"),
    ('emails[type eq null', InvalidPath, "']'"),
    ("(" * 10_000, InvalidPath, "attribute path"),
    ("urn:bogus:params:scim:schemas:core:2.0:User:thing", InvalidPath, "unknown attribute"),
]


@pytest.mark.parametrize(("text", "error", "words"), INVALID_PATHS, ids=[case[0][:40] for case in INVALID_PATHS])
def test_invalid_patch_paths(text, error, words):
    with pytest.raises(error) as caught:
        parse_path(text, CATALOG, USER)
    assert type(caught.value) is error
    assert words in caught.value.detail


def test_rfc_members_display_name_example_names_no_attribute_of_our_group_schema():
    # RFC 7644 §3.5.2 writes `members[value eq "..."].displayName`; members' sub-attribute is
    # `display` in the Group schema (RFC 7643 §8.7.1), so the path names nothing.
    with pytest.raises(InvalidPath, match="'displayName' is not a sub-attribute of 'members'"):
        parse_path(f'members[value eq "{MEMBER_ID}"].displayName', CATALOG, GROUP_TYPE)


SORT_PATHS = [
    ("userName", AttrPath(CORE_USER, "userName")),
    ("name.givenName", AttrPath(CORE_USER, "name", "givenName")),
    ("NAME.FAMILYNAME", AttrPath(CORE_USER, "name", "familyName")),
    ("meta.created", AttrPath(CORE_USER, "meta", "created")),
    ("emails", AttrPath(CORE_USER, "emails", "value")),
    ("emails.type", AttrPath(CORE_USER, "emails", "type")),
    ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
     AttrPath(ENTERPRISE_USER, "employeeNumber")),
]


@pytest.mark.parametrize(("text", "expected"), SORT_PATHS, ids=[case[0] for case in SORT_PATHS])
def test_sort_by_paths(text, expected):
    assert parse_attr_path(text, CATALOG, USER) == expected


@pytest.mark.parametrize("text", ["bogus", "name", "addresses", "meta", "password", "", "userName eq",
                                  'emails[type eq "work"]', "name.givenName.x", "schemas"])
def test_invalid_sort_by_is_invalid_value(text):
    with pytest.raises(InvalidValue) as caught:
        parse_attr_path(text, CATALOG, USER)
    assert caught.value.to_dict()["scimType"] == "invalidValue"
