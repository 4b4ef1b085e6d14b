"""The reference evaluator: every operator against every attribute type."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from scimflask.filter import AttrPath, element_matches, matches, parse_datetime, parse_filter, values_at
from scimflask.model import Resource
from scimflask.schema import GROUP_TYPE
from scimflask.schema.catalog import CORE_USER, ENTERPRISE_USER

from .catalogs import TEST_EXT, make_catalog

CATALOG, USER = make_catalog()
X = TEST_EXT

DOCUMENT = {
    "id": "2819c223",
    "userName": "Barbara.Jensen",
    "externalId": "Ext-1",
    "name": {"givenName": "Barbara", "familyName": "O'Malley", "middleName": None},
    "displayName": "50%_off\\sale",
    "nickName": "",
    "active": True,
    "profileUrl": "https://Example.com/bjensen",
    "emails": [
        {"value": "bjensen@Example.com", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home"},
    ],
    "phoneNumbers": [],
    "x509Certificates": [{"value": "TUlJRGRq"}],
    "addresses": [{"type": "work", "streetAddress": None}],
    "meta": {"resourceType": "User", "created": "2011-08-01T18:29:49.793Z",
             "lastModified": "2011-08-01T20:31:02.000Z", "version": 'W/"3"'},
    ENTERPRISE_USER: {"employeeNumber": "701984", "manager": {"value": "26118915"}},
    X: {
        "level": 5, "score": 1.5, "code": "AbC", "tags": ["Red", "green"], "exactTags": ["Red"],
        "counts": [1, 7], "since": "2020-01-01T01:00:00+01:00", "blob": "QUJD", "exactBlob": "QUJD",
        "link": "https://Example.com/x", "exactLink": "https://Example.com/x", "flag": False,
    },
}

CASES = [
    # string, caseExact false: every operator folds case
    ('userName eq "barbara.jensen"', True),
    ('userName eq "Barbara"', False),
    ('userName ne "BARBARA.JENSEN"', False),
    ('userName ne "bob"', True),
    ('userName co "A.JEN"', True),
    ('userName co "x"', False),
    ('userName sw "barb"', True),
    ('userName sw "jensen"', False),
    ('userName ew "JENSEN"', True),
    ('userName ew "barbara"', False),
    ('userName gt "BARBARA"', True),
    ('userName gt "c"', False),
    ('userName ge "barbara.jensen"', True),
    ('userName lt "Z"', True),
    ('userName lt "B"', False),
    ('userName le "BARBARA.JENSEN"', True),
    ('userName co ""', True),
    # LIKE specials are plain characters
    ('displayName co "%_"', True),
    ('displayName sw "50%"', True),
    ('displayName co "f\\\\s"', True),
    ('displayName co "_s"', False),
    ('displayName co "%s"', False),
    ('name.familyName co "\'m"', True),
    # string, caseExact true
    ('externalId eq "Ext-1"', True),
    ('externalId eq "ext-1"', False),
    ('externalId ne "ext-1"', True),
    ('externalId sw "E"', True),
    ('externalId sw "e"', False),
    ('externalId gt "Z"', False),  # "E" < "Z" by code point
    ('externalId gt "D"', True),
    (f'{X}:code co "bC"', True),
    (f'{X}:code co "BC"', False),
    (f'{X}:code lt "a"', True),  # uppercase sorts before lowercase
    (f'{X}:code ew "c"', False),
    # boolean
    ("active eq true", True),
    ("active eq false", False),
    ("active ne false", True),
    ("active ne true", False),
    (f"{X}:flag eq false", True),
    (f"{X}:flag ne false", False),
    (f"{X}:flag pr", True),  # false is a value
    # integer
    (f"{X}:level eq 5", True),
    (f"{X}:level eq 5.0", True),
    (f"{X}:level ne 5", False),
    (f"{X}:level gt 4", True),
    (f"{X}:level gt 5", False),
    (f"{X}:level ge 5", True),
    (f"{X}:level lt 5.5", True),
    (f"{X}:level le 4", False),
    # decimal
    (f"{X}:score eq 1.5", True),
    (f"{X}:score eq 15e-1", True),
    (f"{X}:score gt 1", True),
    (f"{X}:score lt 1.5", False),
    (f"{X}:score le 1.5", True),
    (f"{X}:score ne 2", True),
    # dateTime: instants, whatever the spelling
    (f'{X}:since eq "2020-01-01T00:00:00Z"', True),
    (f'{X}:since eq "2020-01-01T00:00:00.000+00:00"', True),
    (f'{X}:since eq "2019-12-31T19:00:00-05:00"', True),
    (f'{X}:since eq "2020-01-01T00:00:00"', True),
    (f'{X}:since eq "2020-01-01T01:00:00Z"', False),
    (f'{X}:since ne "2020-01-01T00:00:00Z"', False),
    (f'{X}:since gt "2019-12-31T23:59:59.999Z"', True),
    (f'{X}:since gt "2020-01-01T00:00:00Z"', False),
    (f'{X}:since ge "2020-01-01T00:00:00Z"', True),
    (f'{X}:since lt "2020-01-01T00:00:00.000001Z"', True),
    (f'{X}:since le "2019-12-31T23:59:59Z"', False),
    ('meta.created gt "2011-08-01T18:29:49.792Z"', True),
    ('meta.created gt "2011-08-01T18:29:49.793Z"', False),
    ('meta.created eq "2011-08-01T20:29:49.793+02:00"', True),
    ('meta.lastModified lt "2011-08-01T20:31:02.0001Z"', True),
    # reference
    ('profileUrl eq "https://example.com/BJENSEN"', True),
    ('profileUrl sw "HTTPS://"', True),
    (f'{X}:link eq "https://example.com/x"', True),
    (f'{X}:exactLink eq "https://example.com/x"', False),
    (f'{X}:exactLink eq "https://Example.com/x"', True),
    (f'{X}:exactLink gt "https://Example.com/"', True),
    # binary
    (f'{X}:blob eq "qujd"', True),
    (f'{X}:exactBlob eq "qujd"', False),
    (f'{X}:exactBlob eq "QUJD"', True),
    (f'{X}:exactBlob co "UJ"', True),
    ('x509Certificates.value eq "TUlJRGRq"', True),
    ('x509Certificates.value eq "tuljrgrq"', False),
    ('x509Certificates.value sw "TUlJ"', True),
    # multi-valued simple: any value
    (f'{X}:tags eq "red"', True),
    (f'{X}:tags eq "GREEN"', True),
    (f'{X}:tags eq "blue"', False),
    (f'{X}:tags ne "red"', False),  # ne is `not eq`: some value equals "red"
    (f'{X}:tags ne "blue"', True),
    (f'{X}:tags sw "gr"', True),
    (f'{X}:exactTags eq "red"', False),
    (f"{X}:counts gt 6", True),
    (f"{X}:counts gt 7", False),
    (f"{X}:counts lt 2", True),
    (f"{X}:counts eq 7", True),
    # multi-valued complex: `value` when no sub-attribute, any element otherwise
    ('emails eq "BABS@jensen.org"', True),
    ('emails co "example.COM"', True),
    ('emails.value ew ".net"', False),
    ('emails.type eq "home"', True),
    ('emails.type eq "other"', False),
    ('emails.primary eq true', True),
    ('emails.primary eq false', False),  # the home email has no primary: not false
    ('emails.value ne "babs@jensen.org"', False),
    ('emails.display pr', False),
    # value filters: one element satisfies the whole inner filter
    ('emails[type eq "work" and value co "example.com"]', True),
    ('emails[type eq "home" and value co "example.com"]', False),
    ('emails[type eq "home" and not (primary eq true)]', True),
    ('emails[type eq "work"].value eq "bjensen@example.com"', True),
    ('emails[type eq "home"].value eq "bjensen@example.com"', False),
    ('emails[primary pr]', True),
    ('emails[value eq null]', False),
    ('emails[primary eq null]', True),
    ('emails[type ne "work"]', True),
    ('phoneNumbers[type eq "work"]', False),
    ('addresses[streetAddress pr]', False),
    ('addresses[type eq "WORK"]', True),
    # complex single-valued and extension
    ('name.givenName eq "barbara"', True),
    ('name.middleName pr', False),
    ('name.honorificPrefix eq "Ms."', False),
    (f'{ENTERPRISE_USER}:employeeNumber eq "701984"', True),
    (f'{ENTERPRISE_USER}:manager.value eq "26118915"', True),
    (f'{ENTERPRISE_USER}:department pr', False),
    (f'{ENTERPRISE_USER}:department ne "x"', True),
    # pr: non-null, non-empty string, non-empty list, complex with a non-null sub-value
    ("title pr", False),
    ("nickName pr", False),  # ""
    ("displayName pr", True),
    ("phoneNumbers pr", False),  # []
    ("emails pr", True),
    ("name pr", True),
    ("addresses pr", True),  # {"type": "work"} has one non-null value
    ("ims pr", False),
    (f"{ENTERPRISE_USER}:manager pr", True),
    ("meta.created pr", True),
    ("id pr", True),
    ('id eq "2819c223"', True),
    ('id eq "2819C223"', False),
    # missing attributes: nothing equals, nothing orders, ne is true
    ('title eq "x"', False),
    ('title ne "x"', True),
    ('title gt ""', False),
    ('title co ""', False),
    ("title eq null", True),
    ("title ne null", False),
    ("userName eq null", False),
    ('userType eq "Employee" or title ne "x"', True),
    # logic
    ('userName sw "b" and active eq true', True),
    ('userName sw "b" and active eq false', False),
    ('userName sw "x" or active eq true', True),
    ('userName sw "x" or active eq false', False),
    ('not (userName sw "x")', True),
    ('not (userName sw "b")', False),
    ('not (not (userName sw "b"))', True),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[case[0][-70:] for case in CASES])
def test_matches(text, expected):
    assert matches(parse_filter(text, CATALOG, USER), DOCUMENT, USER, CATALOG) is expected


def test_empty_document_matches_only_negations():
    empty = {"id": "1", "meta": {"created": "2020-01-01T00:00:00Z"}}
    assert matches(parse_filter('userName ne "x"', CATALOG, USER), empty, USER, CATALOG)
    assert matches(parse_filter("not (emails pr)", CATALOG, USER), empty, USER, CATALOG)
    assert not matches(parse_filter('emails[type ne "x"]', CATALOG, USER), empty, USER, CATALOG)
    assert not matches(parse_filter(f"{X}:level lt 100", CATALOG, USER), empty, USER, CATALOG)


def test_values_of_the_wrong_type_match_no_comparison():
    bad = {"id": "1", "userName": 5, "active": "true", X: {"level": "5", "since": "yesterday", "tags": [1]}}
    for text in ('userName eq "5"', "active eq true", f"{X}:level eq 5", f'{X}:since gt "2000-01-01T00:00:00Z"',
                 f'{X}:tags eq "1"'):
        assert not matches(parse_filter(text, CATALOG, USER), bad, USER, CATALOG), text


def test_resource_document_round_trip():
    created = datetime(2024, 2, 29, 12, 0, 0, 123456, tzinfo=timezone.utc)
    resource = Resource("User", "abc", {"userName": "Zoë", ENTERPRISE_USER: {"department": "R&D"}}, created, created)
    document = resource.document(CATALOG.locator("https://scim.example.com/v2"))
    for text, expected in [
        ('userName eq "ZOË"', True),
        (f'{ENTERPRISE_USER}:department eq "r&d"', True),
        ('meta.created eq "2024-02-29T12:00:00.123Z"', True),  # documents carry milliseconds
        ('meta.created gt "2024-02-29T12:00:00.123Z"', False),
        ('meta.location ew "/Users/abc"', True),
        ('meta.resourceType eq "User"', True),
    ]:
        assert matches(parse_filter(text, CATALOG, USER), document, USER, CATALOG) is expected, text


def test_group_members():
    document = {"id": "g", "displayName": "Admins", "members": [{"value": "u1", "type": "User"}, {"value": "U2"}]}
    assert matches(parse_filter('members[value eq "u1"]', CATALOG, GROUP_TYPE), document, GROUP_TYPE, CATALOG)
    assert not matches(parse_filter('members eq "u2"', CATALOG, GROUP_TYPE), document, GROUP_TYPE, CATALOG)
    assert matches(parse_filter('displayName eq "admins"', CATALOG, GROUP_TYPE), document, GROUP_TYPE, CATALOG)


class TestElementMatches:
    EMAIL_FILTER = 'emails[type eq "work" and not (primary eq false)]'

    def inner(self, text: str):
        return parse_filter(text, CATALOG, USER).filter

    def test_selects_elements(self):
        selector = self.inner(self.EMAIL_FILTER)
        selected = [e for e in DOCUMENT["emails"] if element_matches(selector, e, USER, CATALOG)]
        assert selected == [DOCUMENT["emails"][0]]

    def test_missing_sub_attribute(self):
        selector = self.inner('emails[type ne "work"]')
        assert element_matches(selector, {"value": "x"}, USER, CATALOG)
        assert not element_matches(self.inner("emails[type pr]"), {"value": "x", "type": ""}, USER, CATALOG)

    def test_case_rules_follow_the_sub_attribute(self):
        assert element_matches(self.inner('emails[type eq "WORK"]'), {"type": "work"}, USER, CATALOG)
        members = parse_filter('members[value eq "ABC"]', CATALOG, GROUP_TYPE).filter
        assert not element_matches(members, {"value": "abc"}, GROUP_TYPE, CATALOG)


def test_values_at():
    assert values_at(DOCUMENT, AttrPath(CORE_USER, "emails", "type"), USER, CATALOG) == ["work", "home"]
    assert values_at(DOCUMENT, AttrPath(TEST_EXT, "tags"), USER, CATALOG) == ["Red", "green"]
    assert values_at(DOCUMENT, AttrPath(CORE_USER, "name", "middleName"), USER, CATALOG) == []
    assert values_at(DOCUMENT, AttrPath(ENTERPRISE_USER, "manager", "value"), USER, CATALOG) == ["26118915"]
    assert values_at({}, AttrPath(ENTERPRISE_USER, "manager", "value"), USER, CATALOG) == []


@pytest.mark.parametrize(("text", "expected"), [
    ("2011-05-13T04:42:34Z", datetime(2011, 5, 13, 4, 42, 34, tzinfo=timezone.utc)),
    ("2011-05-13T04:42:34.5+02:00", datetime(2011, 5, 13, 2, 42, 34, 500000, tzinfo=timezone.utc)),
    ("2011-05-13T04:42:34.1234567-01:30", datetime(2011, 5, 13, 6, 12, 34, 123456, tzinfo=timezone.utc)),
    ("2011-05-13t04:42:34z", datetime(2011, 5, 13, 4, 42, 34, tzinfo=timezone.utc)),
    ("2011-05-13T04:42:34", datetime(2011, 5, 13, 4, 42, 34, tzinfo=timezone.utc)),
    ("2011-05-13", None),
    ("2011-02-30T00:00:00Z", None),
    ("2011-05-13T24:00:00Z", None),
    ("2011-05-13T04:42:60Z", None),
    ("2011-05-13T04:42:34+0200", None),
    ("0000-01-01T00:00:00Z", None),
    ("", None),
    (20110513, None),
])
def test_parse_datetime(text, expected):
    assert parse_datetime(text) == expected
