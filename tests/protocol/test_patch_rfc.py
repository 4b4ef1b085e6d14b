"""Every PATCH example of RFC 7644 §3.5.2 (bodies as printed there), with the resulting resource.

The RFC abbreviates some ids ("2819c223...413861904646"); they are written out in full here.
One RFC body writes `members[value eq"..."]` without a space; it is kept verbatim.
"""

from __future__ import annotations

import copy
from datetime import datetime

import pytest

from scimflask.model import Member, Resource
from scimflask.protocol.patch import apply_patch, parse_patch_request
from scimflask.schema import GROUP_TYPE, USER_TYPE, default_catalog

CATALOG = default_catalog()
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
NOW = datetime.fromisoformat("2015-09-01T00:00:00+00:00")
BABS = "2819c223-7f76-453a-919d-413861904646"
JAMES = "08e1d05d-121c-4561-8b96-473d93df9210"
TOUR_GUIDES = "acbf3ae7-8463-4692-b4fd-9b4da3f908ce"

BJENSEN = {
    "userName": "bjensen",
    "externalId": "bjensen",
    "name": {"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen", "givenName": "Barbara"},
    "emails": [
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home"},
    ],
    "addresses": [
        {"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood",
         "region": "CA", "postalCode": "91608", "country": "US",
         "formatted": "100 Universal City Plaza\nHollywood, CA 91608 US", "primary": True},
        {"type": "home", "streetAddress": "456 Hollywood Blvd", "locality": "Hollywood",
         "region": "CA", "postalCode": "91608", "country": "US",
         "formatted": "456 Hollywood Blvd\nHollywood, CA 91608 US"},
    ],
}


def user(data: dict) -> Resource:
    return Resource("User", BABS, copy.deepcopy(data), NOW, NOW)


def tour_guides(members: list[Member] | None) -> Resource:
    return Resource("Group", TOUR_GUIDES, {"displayName": "Tour Guides"}, NOW, NOW, members=members)


def patch(resource: Resource, body: dict):
    resource_type = USER_TYPE if resource.resource_type == "User" else GROUP_TYPE
    operations = parse_patch_request(body, CATALOG, resource_type)
    return apply_patch(resource, operations, CATALOG, resource_type)


def message(*operations: dict) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


BABS_MEMBER = {"display": "Babs Jensen", "$ref": f"https://example.com/v2/Users/{BABS}", "value": BABS}
JAMES_MEMBER = {"display": "James Smith", "$ref": f"https://example.com/v2/Users/{JAMES}", "value": JAMES}


# -- §3.5.2.1 Add ---------------------------------------------------------------------------

@pytest.mark.parametrize("loaded", [None, []], ids=["members-not-loaded", "members-loaded"])
def test_add_member_to_group(loaded):
    result = patch(tour_guides(loaded), message({"op": "add", "path": "members", "value": [BABS_MEMBER]}))

    assert result.add_members == [Member(BABS, None, "Babs Jensen")]
    assert result.remove_members == [] and result.replace_members is None
    assert result.changed == ("members",)
    assert result.to_change().data is None


def test_add_attributes_without_path():
    start = {"userName": "bjensen", "emails": [{"value": "bjensen@example.com", "type": "work"}]}
    result = patch(user(start), message({
        "op": "add",
        "value": {"emails": [{"value": "babs@jensen.org", "type": "home"}], "nickname": "Babs"},
    }))

    assert result.data == {
        "userName": "bjensen",
        "emails": [{"value": "bjensen@example.com", "type": "work"},
                   {"value": "babs@jensen.org", "type": "home"}],
        "nickName": "Babs",
    }
    assert result.changed == ("emails", "nickName")


# -- §3.5.2.2 Remove ------------------------------------------------------------------------

def test_remove_single_member():
    result = patch(tour_guides(None), message({"op": "remove", "path": f'members[value eq "{BABS}"]'}))

    assert result.remove_members == [BABS]
    assert result.add_members == [] and result.replace_members is None


@pytest.mark.parametrize("loaded", [None, [Member(BABS, "User"), Member(JAMES, "User")]],
                         ids=["members-not-loaded", "members-loaded"])
def test_remove_all_members(loaded):
    result = patch(tour_guides(loaded), message({"op": "remove", "path": "members"}))

    assert result.replace_members == []
    assert result.to_change().touches_members


def test_remove_values_selected_by_complex_filter():
    start = {**BJENSEN, "emails": [
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "barbara@corp.example.org", "type": "work"},
        {"value": "babs@jensen.org", "type": "home"},
    ]}
    result = patch(user(start), message(
        {"op": "remove", "path": 'emails[type eq "work" and value ew "example.com"]'}))

    assert result.data["emails"] == [
        {"value": "barbara@corp.example.org", "type": "work"},
        {"value": "babs@jensen.org", "type": "home"},
    ]
    assert result.changed == ("emails",)


def test_remove_one_member_and_add_another():
    body = message(
        {"op": "remove", "path": f'members[value eq"{BABS}"]'},
        {"op": "add", "path": "members", "value": [JAMES_MEMBER]},
    )
    result = patch(tour_guides(None), body)

    assert result.remove_members == [BABS]
    assert result.add_members == [Member(JAMES, None, "James Smith")]


def test_replace_members_by_remove_then_add():
    body = message(
        {"op": "remove", "path": "members"},
        {"op": "add", "path": "members", "value": [BABS_MEMBER, JAMES_MEMBER]},
    )
    result = patch(tour_guides(None), body)

    assert result.replace_members == [Member(BABS, None, "Babs Jensen"), Member(JAMES, None, "James Smith")]
    assert result.add_members == [] and result.remove_members == []


# -- §3.5.2.3 Replace -----------------------------------------------------------------------

@pytest.mark.parametrize("loaded", [None, [Member("5c2a9a0e-old", "User")]],
                         ids=["members-not-loaded", "members-loaded"])
def test_replace_all_members(loaded):
    result = patch(tour_guides(loaded), message(
        {"op": "replace", "path": "members", "value": [BABS_MEMBER, JAMES_MEMBER]}))

    assert result.replace_members == [Member(BABS, None, "Babs Jensen"), Member(JAMES, None, "James Smith")]


def test_replace_work_address():
    new_address = {
        "type": "work", "streetAddress": "911 Universal City Plaza", "locality": "Hollywood",
        "region": "CA", "postalCode": "91608", "country": "US",
        "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US", "primary": True,
    }
    result = patch(user(BJENSEN), message(
        {"op": "replace", "path": 'addresses[type eq "work"]', "value": new_address}))

    assert result.data["addresses"] == [new_address, BJENSEN["addresses"][1]]
    assert result.data["emails"] == BJENSEN["emails"]
    assert result.changed == ("addresses",)


def test_replace_street_address_of_work_address():
    result = patch(user(BJENSEN), message(
        {"op": "replace", "path": 'addresses[type eq "work"].streetAddress', "value": "1010 Broadway Ave"}))

    expected = [dict(BJENSEN["addresses"][0], streetAddress="1010 Broadway Ave"), BJENSEN["addresses"][1]]
    assert result.data["addresses"] == expected


def test_replace_attributes_without_path():
    start = {**BJENSEN, "emails": [{"value": "old@example.com", "type": "work", "primary": True}]}
    result = patch(user(start), message({
        "op": "replace",
        "value": {
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": True},
                {"value": "babs@jensen.org", "type": "home"},
            ],
            "nickname": "Babs",
        },
    }))

    assert result.data == {**BJENSEN, "nickName": "Babs"}
    assert result.changed == ("emails", "nickName")
