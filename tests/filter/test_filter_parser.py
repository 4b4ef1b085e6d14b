"""The filter corpus: text → bound AST, or text → the error (type and where)."""

from __future__ import annotations

import pytest

from scimflask.errors import InvalidFilter
from scimflask.filter import And, AttrPath, Compare, Not, Or, Present, ValuePath, parse_filter
from scimflask.schema import GROUP_TYPE
from scimflask.schema.catalog import CORE_GROUP, CORE_USER, ENTERPRISE_USER

from .catalogs import TEST_EXT, make_catalog

CATALOG, USER = make_catalog()
LAST_MODIFIED = "2011-05-13T04:42:34Z"
EXT_VALUE = len(f"{TEST_EXT}:level eq ") + 1  # where the literal starts in those filters


def p(attribute: str, sub: str | None = None, schema: str = CORE_USER) -> AttrPath:
    return AttrPath(schema, attribute, sub)


def e(attribute: str, sub: str | None = None) -> AttrPath:
    return AttrPath(ENTERPRISE_USER, attribute, sub)


def t(attribute: str) -> AttrPath:
    return AttrPath(TEST_EXT, attribute)


def cmp(path: AttrPath, op: str, value) -> Compare:
    return Compare(path, op, value)


USER_NAME = p("userName")
TITLE, USER_TYPE_ATTR = p("title"), p("userType")
EMAIL_VALUE, EMAIL_TYPE = p("emails", "value"), p("emails", "type")

# Every example of RFC 7644 §3.4.2.2 (and the two case-insensitivity examples of its text).
RFC_EXAMPLES = [
    ('userName eq "bjensen"', cmp(USER_NAME, "eq", "bjensen")),
    ('name.familyName co "O\'Malley"', cmp(p("name", "familyName"), "co", "O'Malley")),
    ('userName sw "J"', cmp(USER_NAME, "sw", "J")),
    ('urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"', cmp(USER_NAME, "sw", "J")),
    ("title pr", Present(TITLE)),
    (f'meta.lastModified gt "{LAST_MODIFIED}"', cmp(p("meta", "lastModified"), "gt", LAST_MODIFIED)),
    (f'meta.lastModified ge "{LAST_MODIFIED}"', cmp(p("meta", "lastModified"), "ge", LAST_MODIFIED)),
    (f'meta.lastModified lt "{LAST_MODIFIED}"', cmp(p("meta", "lastModified"), "lt", LAST_MODIFIED)),
    (f'meta.lastModified le "{LAST_MODIFIED}"', cmp(p("meta", "lastModified"), "le", LAST_MODIFIED)),
    ('title pr and userType eq "Employee"', And(Present(TITLE), cmp(USER_TYPE_ATTR, "eq", "Employee"))),
    ('title pr or userType eq "Intern"', Or(Present(TITLE), cmp(USER_TYPE_ATTR, "eq", "Intern"))),
    ('userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
     And(cmp(USER_TYPE_ATTR, "eq", "Employee"),
         Or(cmp(EMAIL_VALUE, "co", "example.com"), cmp(EMAIL_VALUE, "co", "example.org")))),
    ('userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
     And(cmp(USER_TYPE_ATTR, "ne", "Employee"),
         Not(Or(cmp(EMAIL_VALUE, "co", "example.com"), cmp(EMAIL_VALUE, "co", "example.org"))))),
    ('userType eq "Employee" and (emails.type eq "work")',
     And(cmp(USER_TYPE_ATTR, "eq", "Employee"), cmp(EMAIL_TYPE, "eq", "work"))),
    ('userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
     And(cmp(USER_TYPE_ATTR, "eq", "Employee"),
         ValuePath(p("emails"), And(cmp(EMAIL_TYPE, "eq", "work"), cmp(EMAIL_VALUE, "co", "@example.com"))))),
    ('emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
     Or(ValuePath(p("emails"), And(cmp(EMAIL_TYPE, "eq", "work"), cmp(EMAIL_VALUE, "co", "@example.com"))),
        ValuePath(p("ims"), And(cmp(p("ims", "type"), "eq", "xmpp"), cmp(p("ims", "value"), "co", "@foo.com"))))),
    # The RFC prints two examples over two lines; line breaks are whitespace.
    ('userType ne "Employee" and not (emails co "example.com" or\n  emails.value co "example.org")',
     And(cmp(USER_TYPE_ATTR, "ne", "Employee"),
         Not(Or(cmp(EMAIL_VALUE, "co", "example.com"), cmp(EMAIL_VALUE, "co", "example.org"))))),
    ('userName Eq "john"', cmp(USER_NAME, "eq", "john")),
    ('Username eq "john"', cmp(USER_NAME, "eq", "john")),
]

CASE_INSENSITIVITY = [
    ('USERNAME EQ "x"', cmp(USER_NAME, "eq", "x")),
    ('NAME.FAMILYNAME CO "x"', cmp(p("name", "familyName"), "co", "x")),
    ('Emails[TYPE eq "work"]', ValuePath(p("emails"), cmp(EMAIL_TYPE, "eq", "work"))),
    ("title PR", Present(TITLE)),
    ("title pr AND nickName pr", And(Present(TITLE), Present(p("nickName")))),
    ("title pr Or nickName pr", Or(Present(TITLE), Present(p("nickName")))),
    ("NOT (title pr)", Not(Present(TITLE))),
    ("active eq TRUE", cmp(p("active"), "eq", True)),
    ('URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:USERNAME eq "x"', cmp(USER_NAME, "eq", "x")),
    ('urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:EMPLOYEENUMBER eq "1"',
     cmp(e("employeeNumber"), "eq", "1")),
    ('EXTERNALID eq "x"', cmp(p("externalId"), "eq", "x")),
    ('META.CREATED gt "2020-01-01T00:00:00Z"', cmp(p("meta", "created"), "gt", "2020-01-01T00:00:00Z")),
]

EXTENSIONS = [
    (f'{ENTERPRISE_USER}:employeeNumber eq "701984"', cmp(e("employeeNumber"), "eq", "701984")),
    (f'{ENTERPRISE_USER}:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d"',
     cmp(e("manager", "value"), "eq", "26118915-6090-4610-87e4-49d8ca9f808d")),
    (f"{ENTERPRISE_USER}:manager pr", Present(e("manager"))),
    (f'{ENTERPRISE_USER}:department co "Tour"', cmp(e("department"), "co", "Tour")),
    (f'{ENTERPRISE_USER}:manager.displayName sw "J"', cmp(e("manager", "displayName"), "sw", "J")),
    (f"{ENTERPRISE_USER}:manager.$ref pr", Present(e("manager", "$ref"))),
    (f'{TEST_EXT}:level gt 5', cmp(t("level"), "gt", 5)),
    (f'{TEST_EXT}:code eq "AbC"', cmp(t("code"), "eq", "AbC")),
]

LITERALS = [
    ('userName eq "a\\"b"', cmp(USER_NAME, "eq", 'a"b')),
    ('userName eq "\\u00e9t\\u00C9"', cmp(USER_NAME, "eq", "étÉ")),
    ('userName eq "\\ud83d\\ude00"', cmp(USER_NAME, "eq", "\U0001F600")),
    ('userName eq "tab\\there\\nnew\\r\\b\\f"', cmp(USER_NAME, "eq", "tab\there\nnew\r\b\f")),
    ('userName eq "\\/"', cmp(USER_NAME, "eq", "/")),
    ('userName eq "a\\\\b"', cmp(USER_NAME, "eq", "a\\b")),
    ('userName eq "50%"', cmp(USER_NAME, "eq", "50%")),
    ('userName eq "a_b"', cmp(USER_NAME, "eq", "a_b")),
    ('userName eq ""', cmp(USER_NAME, "eq", "")),
    ('userName eq "Zoë 😀"', cmp(USER_NAME, "eq", "Zoë 😀")),
    ('userName eq "( ) [ ] and or not"', cmp(USER_NAME, "eq", "( ) [ ] and or not")),
    ("active eq true", cmp(p("active"), "eq", True)),
    ("active eq false", cmp(p("active"), "eq", False)),
    ("active ne false", cmp(p("active"), "ne", False)),
    ("emails.primary eq true", cmp(p("emails", "primary"), "eq", True)),
    (f"{TEST_EXT}:level eq -1", cmp(t("level"), "eq", -1)),
    (f"{TEST_EXT}:level eq 0", cmp(t("level"), "eq", 0)),
    (f"{TEST_EXT}:level le 9223372036854775807", cmp(t("level"), "le", 2**63 - 1)),
    (f"{TEST_EXT}:level ge 1.5", cmp(t("level"), "ge", 1.5)),
    (f"{TEST_EXT}:score eq 1e3", cmp(t("score"), "eq", 1000.0)),
    (f"{TEST_EXT}:score lt -0.5e-2", cmp(t("score"), "lt", -0.005)),
    (f"{TEST_EXT}:score gt 2E+2", cmp(t("score"), "gt", 200.0)),
    (f"{TEST_EXT}:score ne 0.25", cmp(t("score"), "ne", 0.25)),
    (f"{TEST_EXT}:counts gt 3", cmp(t("counts"), "gt", 3)),
    (f'{TEST_EXT}:since gt "2011-05-13T04:42:34.123Z"', cmp(t("since"), "gt", "2011-05-13T04:42:34.123Z")),
    (f'{TEST_EXT}:since eq "2011-05-13T04:42:34+02:00"', cmp(t("since"), "eq", "2011-05-13T04:42:34+02:00")),
    (f'{TEST_EXT}:since lt "2011-05-13T04:42:34"', cmp(t("since"), "lt", "2011-05-13T04:42:34")),
    (f'{TEST_EXT}:since le "2011-05-13t04:42:34.123456789z"', cmp(t("since"), "le", "2011-05-13t04:42:34.123456789z")),
    (f'{TEST_EXT}:blob eq "QUJD"', cmp(t("blob"), "eq", "QUJD")),
    (f'{TEST_EXT}:blob sw "QU"', cmp(t("blob"), "sw", "QU")),
    (f'{TEST_EXT}:link eq "https://example.com/x"', cmp(t("link"), "eq", "https://example.com/x")),
    (f'{TEST_EXT}:link gt "https://"', cmp(t("link"), "gt", "https://")),
    (f'{TEST_EXT}:flag eq false', cmp(t("flag"), "eq", False)),
    (f'{TEST_EXT}:tags co "re"', cmp(t("tags"), "co", "re")),
]

NULLS = [
    ("title eq null", Not(Present(TITLE))),
    ("title ne null", Present(TITLE)),
    ("title eq NULL", Not(Present(TITLE))),
    ("emails eq null", Not(Present(p("emails")))),
    ("name ne null", Present(p("name"))),
    ("emails[type eq null]", ValuePath(p("emails"), Not(Present(EMAIL_TYPE)))),
    (f"{TEST_EXT}:level eq null", Not(Present(t("level")))),
]

PRECEDENCE = [
    ("title pr or nickName pr and active eq true",
     Or(Present(TITLE), And(Present(p("nickName")), cmp(p("active"), "eq", True)))),
    ("(title pr or nickName pr) and active eq true",
     And(Or(Present(TITLE), Present(p("nickName"))), cmp(p("active"), "eq", True))),
    ("not (title pr) and nickName pr", And(Not(Present(TITLE)), Present(p("nickName")))),
    ("not (title pr or nickName pr)", Not(Or(Present(TITLE), Present(p("nickName"))))),
    ("title pr and nickName pr and active pr",
     And(And(Present(TITLE), Present(p("nickName"))), Present(p("active")))),
    ("title pr or nickName pr or active pr or userType pr",
     Or(Or(Present(TITLE), Present(p("nickName"))), Or(Present(p("active")), Present(USER_TYPE_ATTR)))),
    ("title pr and nickName pr or active pr and userType pr",
     Or(And(Present(TITLE), Present(p("nickName"))), And(Present(p("active")), Present(USER_TYPE_ATTR)))),
    ("((title pr))", Present(TITLE)),
    ("not(title pr)", Not(Present(TITLE))),
    ("not   (title pr)", Not(Present(TITLE))),
    ("not (not (title pr))", Not(Not(Present(TITLE)))),
    ("  title pr  ", Present(TITLE)),
    ("(title pr)and(nickName pr)", And(Present(TITLE), Present(p("nickName")))),
    ("title pr and (nickName pr or active pr) and displayName pr",
     And(And(Present(TITLE), Or(Present(p("nickName")), Present(p("active")))), Present(p("displayName")))),
    ("(title pr or nickName pr) or active pr",
     Or(Or(Present(TITLE), Present(p("nickName"))), Present(p("active")))),
    ("title pr or (nickName pr or active pr)",
     Or(Present(TITLE), Or(Present(p("nickName")), Present(p("active"))))),
]

VALUE_PATHS = [
    ('emails[type eq "work"]', ValuePath(p("emails"), cmp(EMAIL_TYPE, "eq", "work"))),
    ('emails[type eq "work"].value eq "a@x.org"',
     ValuePath(p("emails"), And(cmp(EMAIL_TYPE, "eq", "work"), cmp(EMAIL_VALUE, "eq", "a@x.org")))),
    ('emails[type eq "work"].value pr', ValuePath(p("emails"), And(cmp(EMAIL_TYPE, "eq", "work"), Present(EMAIL_VALUE)))),
    ('emails[type eq "work" or primary eq true]',
     ValuePath(p("emails"), Or(cmp(EMAIL_TYPE, "eq", "work"), cmp(p("emails", "primary"), "eq", True)))),
    ('emails[not (type eq "work")]', ValuePath(p("emails"), Not(cmp(EMAIL_TYPE, "eq", "work")))),
    ('emails[value co "@x" and (type eq "work" or type eq "home")]',
     ValuePath(p("emails"), And(cmp(EMAIL_VALUE, "co", "@x"),
                                Or(cmp(EMAIL_TYPE, "eq", "work"), cmp(EMAIL_TYPE, "eq", "home"))))),
    ("emails[type pr]", ValuePath(p("emails"), Present(EMAIL_TYPE))),
    ('urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"]',
     ValuePath(p("emails"), cmp(EMAIL_TYPE, "eq", "work"))),
    ('addresses[postalCode sw "9" and country eq "US"]',
     ValuePath(p("addresses"), And(cmp(p("addresses", "postalCode"), "sw", "9"),
                                   cmp(p("addresses", "country"), "eq", "US")))),
    ('x509Certificates[value eq "TUlJ"]',
     ValuePath(p("x509Certificates"), cmp(p("x509Certificates", "value"), "eq", "TUlJ"))),
    ('emails[type eq "work"] and emails[type eq "home"]',
     And(ValuePath(p("emails"), cmp(EMAIL_TYPE, "eq", "work")), ValuePath(p("emails"), cmp(EMAIL_TYPE, "eq", "home")))),
    ('not (emails[type eq "work"])', Not(ValuePath(p("emails"), cmp(EMAIL_TYPE, "eq", "work")))),
    ('emails [type eq "work"]', ValuePath(p("emails"), cmp(EMAIL_TYPE, "eq", "work"))),
    ('groups[value eq "g1"]', ValuePath(p("groups"), cmp(p("groups", "value"), "eq", "g1"))),
]

COMPLEX = [
    ("name pr", Present(p("name"))),
    ("emails pr", Present(p("emails"))),
    ("addresses pr", Present(p("addresses"))),
    ("meta pr", Present(p("meta"))),
    ('emails eq "a@x.org"', cmp(EMAIL_VALUE, "eq", "a@x.org")),
    ('emails sw "a"', cmp(EMAIL_VALUE, "sw", "a")),
    ('phoneNumbers co "555"', cmp(p("phoneNumbers", "value"), "co", "555")),
    ('photos eq "https://x/p.jpg"', cmp(p("photos", "value"), "eq", "https://x/p.jpg")),
    ('emails.value ew ".org"', cmp(EMAIL_VALUE, "ew", ".org")),
    ('groups.display gt "m"', cmp(p("groups", "display"), "gt", "m")),
    ('id eq "2819c223"', cmp(p("id"), "eq", "2819c223")),
    ('meta.resourceType eq "User"', cmp(p("meta", "resourceType"), "eq", "User")),
]

VALID = RFC_EXAMPLES + CASE_INSENSITIVITY + EXTENSIONS + LITERALS + NULLS + PRECEDENCE + VALUE_PATHS + COMPLEX


@pytest.mark.parametrize(("text", "expected"), VALID, ids=[case[0][:60] for case in VALID])
def test_valid_filter_binds_to_expected_ast(text, expected):
    assert parse_filter(text, CATALOG, USER) == expected


GROUP_CASES = [
    ('displayName eq "Tour Guides"', Compare(AttrPath(CORE_GROUP, "displayName"), "eq", "Tour Guides")),
    ('members[value eq "2819c223"]',
     ValuePath(AttrPath(CORE_GROUP, "members"), Compare(AttrPath(CORE_GROUP, "members", "value"), "eq", "2819c223"))),
    ('members[type eq "User"]',
     ValuePath(AttrPath(CORE_GROUP, "members"), Compare(AttrPath(CORE_GROUP, "members", "type"), "eq", "User"))),
    ('members eq "2819c223"', Compare(AttrPath(CORE_GROUP, "members", "value"), "eq", "2819c223")),
    ('members.value eq "2819c223"', Compare(AttrPath(CORE_GROUP, "members", "value"), "eq", "2819c223")),
    ('urn:ietf:params:scim:schemas:core:2.0:Group:displayName sw "T"',
     Compare(AttrPath(CORE_GROUP, "displayName"), "sw", "T")),
    ('externalId eq "x"', Compare(AttrPath(CORE_GROUP, "externalId"), "eq", "x")),
]


@pytest.mark.parametrize(("text", "expected"), GROUP_CASES, ids=[case[0] for case in GROUP_CASES])
def test_group_filters_bind_against_the_group_schema(text, expected):
    assert parse_filter(text, CATALOG, GROUP_TYPE) == expected


# (text, position the detail names, words the detail contains)
INVALID = [
    # booleans are compared with the literals true and false, not strings
    ('active eq "True"', 11, "expected true or false"),
    ('active eq "false"', 11, "expected true or false"),
    # RFC example that scimflask declines: `schemas` is not stored with the resource data.
    ('schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"', 1, "schemas"),
    # syntax
    ("", 1, "attribute name"),
    ("   ", 4, "attribute name"),
    ("userName", 9, "comparison operator"),
    ("userName eq", 12, "a value"),
    ('userName eq "x" and', 20, "attribute name"),
    ('userName eq "x" or', 19, "attribute name"),
    ("and userName pr", 1, "unknown attribute 'and'"),
    ('userName eq "x" userName eq "y"', 17, "end of the input"),
    ('userName == "x"', 10, "unexpected character"),
    ('userName eq "x', 13, "string literal"),
    ("userName eq x", 13, "a value"),
    ('userName eq "x")', 16, "end of the input"),
    ('(userName eq "x"', 17, "')'"),
    ('emails[type eq "work"', 22, "']'"),
    ('emails[type eq "work"]]', 23, "end of the input"),
    ("emails]", 7, "comparison operator"),
    ('userName eq "\\x"', 13, "string literal"),
    ('userName eq "a\nb"', 13, "string literal"),
    ("userName eq 01", 13, "malformed number"),
    ("userName eq 1.", 13, "malformed number"),
    ("userName eq .5", 13, "a value"),
    ("userName eq -", 13, "malformed number"),
    ("userName eq 1e", 13, "malformed number"),
    ("userName eq 1x", 13, "malformed number"),
    (f"{TEST_EXT}:level eq 99999999999999999999", EXT_VALUE, "64-bit"),
    (f"{TEST_EXT}:level eq 9223372036854775808", EXT_VALUE, "64-bit"),
    (f"{TEST_EXT}:score eq 1e400", EXT_VALUE, "out of range"),
    ('userName eq "\\ud800"', 13, "surrogate"),
    ("not title pr", 5, "expected '(' after 'not'"),
    ("()", 2, "attribute name"),
    ('userName eq "x" and ()', 22, "attribute name"),
    ("emails[]", 8, "attribute name"),
    ('emails[type eq "work"].', 23, "not a sub-attribute"),
    ('emails[type eq "work"] .value eq "x"', 24, "end of the input"),
    ('emails[type eq "work"].bogus eq "x"', 23, "not a sub-attribute"),
    ('emails[type eq "work"].value', 29, "comparison operator"),
    ('emails.value[type eq "x"]', 1, "multi-valued complex"),
    ('name[givenName eq "x"]', 1, "multi-valued complex"),
    ('userName[value eq "x"]', 1, "multi-valued complex"),
    ('emails[emails.type eq "work"]', 8, "not a sub-attribute"),
    ('emails[value[type eq "x"]]', 13, "nested"),
    ('userName eq "x" && title pr', 17, "unexpected character"),
    ('userName eq "x";', 16, "unexpected character"),
    ("userName pr pr", 13, "end of the input"),
    ('userName eq "x" not (title pr)', 17, "end of the input"),
    ("#", 1, "unexpected character"),
    ('userName eq "x" and not', 24, "expected '(' after 'not'"),
    # unknown attributes
    ('foo eq "x"', 1, "unknown attribute"),
    ('name.foo eq "x"', 1, "unknown attribute"),
    ('name.familyName.x eq "y"', 1, "unknown attribute"),
    ('urn:bogus:User:userName eq "x"', 1, "unknown attribute"),
    ('employeeNumber eq "1"', 1, "unknown attribute"),
    ('urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "x"', 1, "unknown attribute"),
    ("members pr", 1, "unknown attribute"),
    ('emails[bogus eq "x"]', 8, "not a sub-attribute"),
    ("emails[$ref pr]", 8, "not a sub-attribute"),
    ('title.value eq "x"', 1, "unknown attribute"),
    # never-returned attributes cannot be probed
    ('password eq "secret"', 1, "never returned"),
    (f'{TEST_EXT}:secret eq "x"', 1, "never returned"),
    # unsupported attribute / operator combinations
    ("active gt true", 1, "'gt' is not supported"),
    ("active le false", 1, "'le' is not supported"),
    ('active co "t"', 1, "'co' is not supported"),
    ("active eq 1", 11, "true or false"),
    ('active eq "yes"', 11, "true or false"),
    ("userName eq 1", 13, "string literal"),
    ("userName eq true", 13, "string literal"),
    ("userName gt 5", 13, "string literal"),
    ('meta.created co "2011"', 1, "'co' is not supported"),
    ('meta.created sw "2011"', 1, "'sw' is not supported"),
    ('meta.created eq "2011-05-13"', 17, "dateTime"),
    ("meta.created eq 5", 17, "dateTime"),
    ('meta.created gt "not a date"', 17, "dateTime"),
    ('meta.created gt "2011-13-01T00:00:00Z"', 17, "dateTime"),
    ('meta.created gt "2011-05-13T04:42:34+25:00"', 17, "dateTime"),
    ('meta.created gt "2011-05-13 04:42:34Z"', 17, "dateTime"),
    ('x509Certificates.value gt "a"', 1, "'gt' is not supported"),
    (f'{TEST_EXT}:blob lt "QUJD"', 1, "'lt' is not supported"),
    ("emails.primary gt false", 1, "'gt' is not supported"),
    ("title sw null", 10, "null"),
    ("title gt null", 10, "null"),
    (f'{TEST_EXT}:level co "1"', 1, "'co' is not supported"),
    (f'{TEST_EXT}:level eq "5"', EXT_VALUE, "a number"),
    (f"{TEST_EXT}:score eq true", EXT_VALUE, "a number"),
    (f'{TEST_EXT}:since co "2011"', 1, "'co' is not supported"),
    (f'{TEST_EXT}:flag gt true', 1, "'gt' is not supported"),
    ('name eq "Barbara"', 1, "complex"),
    ('addresses eq "x"', 1, "complex"),
    ('meta gt "x"', 1, "complex"),
    (f'{ENTERPRISE_USER}:manager eq "x"', 1, "complex"),
]


@pytest.mark.parametrize(("text", "position", "words"), INVALID, ids=[case[0][:60] for case in INVALID])
def test_invalid_filter_says_where_and_what(text, position, words):
    with pytest.raises(InvalidFilter) as caught:
        parse_filter(text, CATALOG, USER)
    detail = caught.value.detail
    assert f"position {position}:" in detail
    assert words in detail
    assert caught.value.to_dict()["scimType"] == "invalidFilter"
    assert caught.value.status == 400


def test_group_filter_on_user_attribute_is_unknown():
    with pytest.raises(InvalidFilter, match="unknown attribute 'userName' for resource type Group"):
        parse_filter('userName eq "x"', CATALOG, GROUP_TYPE)


def test_corpus_is_large_enough():
    assert len(VALID) + len(GROUP_CASES) + len(INVALID) >= 150


class TestLimits:
    def test_ten_thousand_open_parentheses(self):
        with pytest.raises(InvalidFilter, match="nested deeper than the limit of 50"):
            parse_filter("(" * 10_000, CATALOG, USER)

    def test_ten_thousand_nots(self):
        with pytest.raises(InvalidFilter, match="longer than the limit"):
            parse_filter("not " * 10_000 + "(title pr)", CATALOG, USER)

    def test_deep_not_within_length(self):
        with pytest.raises(InvalidFilter, match="nested deeper"):
            parse_filter("not (" * 1_000 + "title pr" + ")" * 1_000, CATALOG, USER, max_length=20_000)

    def test_nesting_up_to_the_limit_is_accepted(self):
        text = "(" * 50 + "title pr" + ")" * 50
        assert parse_filter(text, CATALOG, USER) == Present(TITLE)
        with pytest.raises(InvalidFilter, match="position 51:"):
            parse_filter("(" + text + ")", CATALOG, USER)

    def test_value_filter_counts_as_nesting(self):
        with pytest.raises(InvalidFilter, match="nested deeper than the limit of 1"):
            parse_filter('(emails[type eq "work"])', CATALOG, USER, max_depth=1)

    def test_length_limit_is_configurable(self):
        with pytest.raises(InvalidFilter, match="limit of 10 characters"):
            parse_filter('userName eq "x"', CATALOG, USER, max_length=10)

    def test_long_chain_of_alternatives_stays_shallow(self):
        text = " or ".join(f'userName eq "u{i}"' for i in range(400))
        result = parse_filter(text, CATALOG, USER)

        def height(node) -> int:
            if isinstance(node, (And, Or)):
                return 1 + max(height(node.left), height(node.right))
            return 1

        assert height(result) <= 10

        def leaves(node) -> list:
            if isinstance(node, Or):
                return leaves(node.left) + leaves(node.right)
            return [node.value]

        assert leaves(result) == [f"u{i}" for i in range(400)]

    def test_non_text_is_invalid(self):
        with pytest.raises(InvalidFilter):
            parse_filter(None, CATALOG, USER)  # type: ignore[arg-type]
