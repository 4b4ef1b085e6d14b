"""attributes / excludedAttributes / returned (RFC 7644 §3.4.2.5, §3.9; RFC 7643 §7)."""

from datetime import datetime, timezone

import pytest

from scimflask.filter.ast import AttrPath
from scimflask.model import GroupRef, Member, Resource
from scimflask.protocol.projection import loads, parse_attribute_list, project
from scimflask.schema import (
    CORE_GROUP,
    CORE_USER,
    ENTERPRISE_USER,
    GROUP_TYPE,
    USER_TYPE,
    Attribute,
    Schema,
    default_catalog,
)
from scimflask.schema.catalog import ALWAYS, COMPLEX, REQUEST

CATALOG = default_catalog()
WHEN = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
BASE = "https://example.com/scim/v2"


@pytest.fixture
def user_doc():
    data = {
        "userName": "bjensen",
        "externalId": "ext-1",
        "password": "scrypt$hash",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": "b@example.com", "type": "work", "primary": True},
                   {"value": "bj@home.example", "type": "home"}],
        "active": True,
        ENTERPRISE_USER: {"employeeNumber": "701984", "manager": {"value": "m1"}},
    }
    resource = Resource("User", "u1", data, WHEN, WHEN, groups=[GroupRef("g1", "Admins")])
    return resource.document(CATALOG.locator(BASE))


@pytest.fixture
def group_doc():
    resource = Resource("Group", "g1", {"displayName": "Admins"}, WHEN, WHEN,
                        members=[Member("u1", "User", "Barbara")])
    return resource.document(CATALOG.locator(BASE))


def paths(text, resource_type=USER_TYPE, catalog=CATALOG):
    return parse_attribute_list(text, catalog, resource_type)


def show_user(doc, attributes=None, excluded=None):
    return project(doc, CATALOG, USER_TYPE, attributes=paths(attributes), excluded=paths(excluded))


# -- parsing -------------------------------------------------------------------------------

def test_parse_resolves_names_case_insensitively():
    assert paths(" USERNAME , name.GIVENNAME,Emails.value ") == [
        AttrPath(CORE_USER, "userName"), AttrPath(CORE_USER, "name", "givenName"),
        AttrPath(CORE_USER, "emails", "value")]


def test_parse_urn_prefixes():
    assert paths(f"{CORE_USER}:userName,{ENTERPRISE_USER.upper()}:manager.value") == [
        AttrPath(CORE_USER, "userName"), AttrPath(ENTERPRISE_USER, "manager", "value")]


def test_parse_bare_urn_stands_for_every_attribute_of_the_schema():
    expected = [AttrPath(ENTERPRISE_USER, a.name) for a in CATALOG.schema(ENTERPRISE_USER).attributes]
    assert paths(ENTERPRISE_USER) == expected


def test_parse_ignores_unknown_names_and_duplicates():
    assert paths("favouriteColour,userName,,name.nick,userName,urn:example:other:thing") == [
        AttrPath(CORE_USER, "userName")]


@pytest.mark.parametrize("text", [None, "", " , "])
def test_parse_empty(text):
    assert paths(text) == []


def test_parse_common_attributes():
    assert paths("id,meta.lastModified", GROUP_TYPE) == [
        AttrPath(CORE_GROUP, "id"), AttrPath(CORE_GROUP, "meta", "lastModified")]


# -- default set ---------------------------------------------------------------------------

def test_default_response(user_doc):
    shown = show_user(user_doc)
    assert shown["schemas"] == [CORE_USER, ENTERPRISE_USER]
    assert list(shown)[0] == "schemas"
    assert "password" not in shown  # returned: never
    expected = {k: v for k, v in user_doc.items() if k != "password"}
    assert {k: v for k, v in shown.items() if k != "schemas"} == expected


def test_input_document_not_modified(user_doc):
    before = repr(user_doc)
    show_user(user_doc, attributes="emails.value")
    show_user(user_doc, excluded="name.givenName")
    assert repr(user_doc) == before


# -- attributes ----------------------------------------------------------------------------

def test_attributes_select_only_those_plus_always(user_doc):
    assert show_user(user_doc, attributes="userName") == {
        "schemas": [CORE_USER, ENTERPRISE_USER], "userName": "bjensen", "id": "u1"}


def test_meta_is_returned_by_default_not_always(user_doc):
    assert "meta" not in show_user(user_doc, attributes="userName")
    assert show_user(user_doc, attributes="meta.location")["meta"] == {"location": f"{BASE}/Users/u1"}


def test_never_is_never_returned_even_when_asked(user_doc):
    assert "password" not in show_user(user_doc, attributes="password,userName")


def test_sub_attribute_selection(user_doc):
    shown = show_user(user_doc, attributes="name.familyName,emails.value")
    assert shown["name"] == {"familyName": "Jensen"}
    assert shown["emails"] == [{"value": "b@example.com"}, {"value": "bj@home.example"}]


def test_whole_attribute_wins_over_its_sub_attribute(user_doc):
    assert show_user(user_doc, attributes="name.givenName,name")["name"] == user_doc["name"]


def test_selected_sub_attribute_absent_everywhere_drops_the_attribute(user_doc):
    shown = show_user(user_doc, attributes="emails.display,userName")
    assert "emails" not in shown


def test_extension_attribute_selection(user_doc):
    shown = show_user(user_doc, attributes=f"{ENTERPRISE_USER}:manager.value")
    assert shown == {"schemas": [CORE_USER, ENTERPRISE_USER], "id": "u1",
                     ENTERPRISE_USER: {"manager": {"value": "m1"}}}


def test_bare_extension_urn_selects_the_whole_extension(user_doc):
    shown = show_user(user_doc, attributes=ENTERPRISE_USER)
    assert shown[ENTERPRISE_USER] == user_doc[ENTERPRISE_USER]
    assert "userName" not in shown


def test_only_unknown_attributes_means_default_set(user_doc):
    assert show_user(user_doc, attributes="favouriteColour") == show_user(user_doc)


# -- excludedAttributes --------------------------------------------------------------------

def test_excluded_removes_attributes_but_never_always_ones(user_doc):
    shown = show_user(user_doc, excluded="id,emails,meta,groups")
    assert shown["id"] == "u1"
    assert not {"emails", "meta", "groups"} & set(shown)
    assert shown["userName"] == "bjensen"


def test_excluded_sub_attribute(user_doc):
    shown = show_user(user_doc, excluded="name.givenName,emails.type,emails.primary")
    assert shown["name"] == {"familyName": "Jensen"}
    assert shown["emails"] == [{"value": "b@example.com"}, {"value": "bj@home.example"}]


def test_excluding_every_sub_attribute_drops_the_attribute(user_doc):
    assert "name" not in show_user(user_doc, excluded="name.givenName,name.familyName")


def test_excluding_bare_extension_urn_removes_the_extension_object(user_doc):
    shown = show_user(user_doc, excluded=ENTERPRISE_USER)
    assert ENTERPRISE_USER not in shown
    assert shown["schemas"] == [CORE_USER, ENTERPRISE_USER]  # still what the resource is made of


def test_excluding_one_extension_attribute(user_doc):
    shown = show_user(user_doc, excluded=f"{ENTERPRISE_USER}:manager")
    assert shown[ENTERPRISE_USER] == {"employeeNumber": "701984"}


def test_attributes_and_excluded_together(user_doc):
    shown = show_user(user_doc, attributes="userName,emails", excluded="emails.type")
    assert shown["emails"][0] == {"value": "b@example.com", "primary": True}
    assert set(shown) == {"schemas", "id", "userName", "emails"}


# -- returned: request and always, from a plugin's extension ------------------------------

@pytest.fixture
def badge_catalog():
    catalog = default_catalog()
    catalog.add_extension("User", Schema("urn:example:badge", "Badge", "Badges", (
        Attribute("number"),
        Attribute("pin", returned=REQUEST),
        Attribute("site", type=COMPLEX, returned=ALWAYS, sub_attributes=(
            Attribute("code"), Attribute("secret", returned=REQUEST))),
        Attribute("door", type=COMPLEX, sub_attributes=(
            Attribute("code"), Attribute("audit", returned=REQUEST))),
    )))
    return catalog


@pytest.fixture
def badge_doc(user_doc):
    return {**user_doc, "urn:example:badge": {
        "number": "7", "pin": "1234", "site": {"code": "HQ", "secret": "s"},
        "door": {"code": "D1", "audit": "on"}}}


def test_request_only_when_named(badge_catalog, badge_doc):
    def show(attributes=None, excluded=None):
        return project(badge_doc, badge_catalog, USER_TYPE,
                       attributes=paths(attributes, catalog=badge_catalog),
                       excluded=paths(excluded, catalog=badge_catalog))["urn:example:badge"]

    assert show() == {"number": "7", "site": {"code": "HQ"}, "door": {"code": "D1"}}
    assert show(attributes="urn:example:badge:pin") == {"pin": "1234", "site": {"code": "HQ"}}
    assert show(attributes="urn:example:badge:door.audit")["door"] == {"audit": "on"}
    assert show(attributes="urn:example:badge:door")["door"] == {"code": "D1"}
    # an always attribute ignores excludedAttributes, and is there when not selected
    assert show(excluded="urn:example:badge:site")["site"] == {"code": "HQ"}
    assert show(attributes="userName") == {"site": {"code": "HQ"}}


def test_projection_uses_catalog_not_stale_resource_type(badge_catalog, badge_doc):
    """USER_TYPE predates the added extension; the catalog's definition is the one used."""
    shown = project(badge_doc, badge_catalog, USER_TYPE)
    assert shown["schemas"] == [CORE_USER, ENTERPRISE_USER, "urn:example:badge"]


# -- Groups and the load flags -------------------------------------------------------------

def test_group_members_excluded(group_doc):
    shown = project(group_doc, CATALOG, GROUP_TYPE, excluded=paths("members", GROUP_TYPE))
    assert "members" not in shown and shown["displayName"] == "Admins"


def test_group_member_sub_attributes(group_doc):
    shown = project(group_doc, CATALOG, GROUP_TYPE, attributes=paths("members.value", GROUP_TYPE))
    assert shown == {"schemas": [CORE_GROUP], "id": "g1", "members": [{"value": "u1"}]}


def test_member_ref_is_a_known_sub_attribute(group_doc):
    shown = project(group_doc, CATALOG, GROUP_TYPE, excluded=paths("members.$ref", GROUP_TYPE))
    assert shown["members"] == [{"value": "u1", "type": "User", "display": "Barbara"}]


@pytest.mark.parametrize(
    ("attributes", "excluded", "expected"),
    [(None, None, (True, False)),
     (None, "members", (False, False)),
     (None, "MEMBERS", (False, False)),
     (None, "members.display", (True, False)),
     ("displayName", None, (False, False)),
     ("members.value", None, (True, False)),
     ("displayName,members", "externalId", (True, False)),
     (f"{CORE_GROUP}:members", None, (True, False))],
)
def test_group_load_flags(attributes, excluded, expected):
    assert loads(CATALOG, GROUP_TYPE, attributes=paths(attributes, GROUP_TYPE),
                 excluded=paths(excluded, GROUP_TYPE)) == expected


@pytest.mark.parametrize(
    ("attributes", "excluded", "expected"),
    [(None, None, (False, True)),
     (None, "groups", (False, False)),
     ("userName", None, (False, False)),
     ("groups.display", None, (False, True)),
     (None, "emails", (False, True))],
)
def test_user_load_flags(attributes, excluded, expected):
    assert loads(CATALOG, USER_TYPE, attributes=paths(attributes), excluded=paths(excluded)) == expected


def test_load_flags_accept_none():
    assert loads(CATALOG, GROUP_TYPE, attributes=None, excluded=None) == (True, False)
