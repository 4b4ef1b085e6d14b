"""Contract: filters and sorting mean exactly what the reference evaluator and sort say."""

from __future__ import annotations

import functools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..filter.ast import EQ, And, Compare, Or
from ..filter.parser import parse_attr_path
from ..model import Query, RequestContext, Resource, Sort
from ..schema.catalog import ENTERPRISE_USER, Catalog
from .contract_support import (
    TENANT,
    create_users,
    filter_of,
    group,
    new_id,
    query_all,
    reference_ids,
    sort_of,
    user_names,
)
from .strategies import filters, group_lists, timestamps, user_lists

# How a filter names an enterprise-extension attribute (RFC 7644 §3.10: the URN, ":", the name).
ENTERPRISE_PREFIX = ENTERPRISE_USER + ":"

# A small directory where each filter below separates the users in a different way.
PEOPLE = [
    {"userName": "alice", "externalId": "A-1", "title": "Engineer", "active": True,
     "name": {"givenName": "Alice", "familyName": "Smith"},
     "emails": [{"value": "alice@corp.com", "type": "work", "primary": True},
                {"value": "alice@home.org", "type": "home"}],
     ENTERPRISE_USER: {"employeeNumber": "001", "department": "R&D"}},
    {"userName": "Bob", "externalId": "b-2", "title": "Manager", "active": False,
     "name": {"familyName": "Jones"}, "emails": [{"value": "bob@corp.com", "type": "work"}],
     ENTERPRISE_USER: {"department": "Sales"}},
    {"userName": "carol", "externalId": "C-3", "displayName": "Carol C", "active": True, "emails": []},
    {"userName": "dave_x", "title": "", "userType": "Contractor",
     "emails": [{"value": "dave@home.org", "type": "home"}]},
    {"userName": "Eve%", "title": "engineer", "emails": [{"value": "eve@corp.com", "type": "work"}],
     ENTERPRISE_USER: {"employeeNumber": "010"}},
]
EVERYONE = {"alice", "Bob", "carol", "dave_x", "Eve%"}

USER_FILTERS = [
    ('userName eq "ALICE"', {"alice"}),
    ('userName ne "alice"', EVERYONE - {"alice"}),
    ('externalId eq "A-1"', {"alice"}),
    ('externalId eq "a-1"', set()),  # externalId is caseExact
    ('displayName eq "carol c"', {"carol"}),
    ('title co "GINE"', {"alice", "Eve%"}),
    ('userName sw "D"', {"dave_x"}),
    ('userName ew "%"', {"Eve%"}),
    ('userName co "_"', {"dave_x"}),  # "_" and "%" are literals, not wildcards
    ('userName co "e%"', {"Eve%"}),
    ('userName gt "bob"', {"carol", "dave_x", "Eve%"}),
    ('userName le "BOB"', {"alice", "Bob"}),
    ('title pr', {"alice", "Bob", "Eve%"}),  # "" is not present
    ('not (title pr)', {"carol", "dave_x"}),
    ('emails pr', {"alice", "Bob", "dave_x", "Eve%"}),  # [] is not present
    ('active eq true', {"alice", "carol"}),
    ('active eq false', {"Bob"}),
    ('active ne true', {"Bob", "dave_x", "Eve%"}),
    ('name.familyName eq "smith"', {"alice"}),
    ('name.familyName pr', {"alice", "Bob"}),
    ('emails[type eq "work" and value ew "CORP.COM"]', {"alice", "Bob", "Eve%"}),
    ('emails[type eq "home" and value sw "alice@corp"]', set()),  # one element must match it all
    ('emails.type eq "home" and emails.value sw "alice@corp"', {"alice"}),  # any value each
    ('emails.value ew "home.org"', {"alice", "dave_x"}),
    (f'{ENTERPRISE_PREFIX}employeeNumber gt "005"', {"Eve%"}),
    (f'{ENTERPRISE_PREFIX}department eq "sales"', {"Bob"}),
    (f'{ENTERPRISE_PREFIX}employeeNumber pr and not ({ENTERPRISE_PREFIX}department pr)', {"Eve%"}),
    ('title eq "engineer" or userType eq "contractor"', {"alice", "dave_x", "Eve%"}),
    ('(userName eq "alice" or userName eq "bob") and active eq false', {"Bob"}),
    ('meta.resourceType eq "User"', EVERYONE),
]

SORTABLE = ["userName", "displayName", "title", "name.familyName", "externalId", "active",
            "emails.value", "emails.type", f"{ENTERPRISE_PREFIX}employeeNumber", "meta.created",
            "meta.lastModified", "id"]


class FilterContract:
    """Every filter operator and shape, on fixed data with hand-checked answers."""

    @pytest.fixture
    def people(self, scim_storage) -> dict[str, str]:
        created = create_users(scim_storage, TENANT, PEOPLE)
        return {r.data["userName"]: r.id for r in created}

    @pytest.mark.parametrize("text, expected", USER_FILTERS, ids=[text for text, _ in USER_FILTERS])
    def test_user_filter(self, scim_storage, people, text, expected):
        query = Query(filter=filter_of(scim_storage, "User", text))
        page = query_all(scim_storage, TENANT, "User", query)
        assert set(user_names(page.resources)) == expected
        assert page.total == len(expected)
        assert [r.id for r in page.resources] == reference_ids(scim_storage, TENANT, "User",
                                                               list(people.values()), query)

    def test_id_and_meta_filters(self, scim_storage, people):
        carol = scim_storage.get(TENANT, "User", people["carol"]).document()
        for text, expected in ((f'id eq "{people["Bob"]}"', {"Bob"}),
                               (f'id eq "{people["Bob"].upper()}"', set()),
                               (f'meta.created gt "{carol["meta"]["created"]}"', {"dave_x", "Eve%"}),
                               (f'meta.created le "{carol["meta"]["created"]}"', {"alice", "Bob", "carol"})):
            page = query_all(scim_storage, TENANT, "User", Query(filter=filter_of(scim_storage, "User", text)))
            assert set(user_names(page.resources)) == expected, text

    def test_membership_filters(self, scim_storage, people):
        engineers = scim_storage.create(TENANT, group("Engineers", [people["alice"], people["Eve%"]]))
        scim_storage.create(TENANT, group("Managers", [people["Bob"]]))
        scim_storage.create(TENANT, group("Empty"))
        cases = [
            ("Group", f'members.value eq "{people["alice"]}"', {"Engineers"}),
            ("Group", "members pr", {"Engineers", "Managers"}),
            ("Group", 'displayName sw "ENG"', {"Engineers"}),
            ("Group", 'displayName eq "managers"', {"Managers"}),
            ("User", f'groups.value eq "{engineers.id}"', {"alice", "Eve%"}),
            ("User", 'groups.display eq "managers"', {"Bob"}),
            ("User", "not (groups pr)", {"carol", "dave_x"}),
        ]
        for resource_type, text, expected in cases:
            page = query_all(scim_storage, TENANT, resource_type,
                             Query(filter=filter_of(scim_storage, resource_type, text), with_members=False))
            key = "userName" if resource_type == "User" else "displayName"
            assert {r.data[key] for r in page.resources} == expected, text

    def test_results_are_copies(self, scim_storage, people):
        page = scim_storage.query(TENANT, "User", Query(filter=filter_of(scim_storage, "User", 'userName eq "alice"')))
        page.resources[0].data["emails"].clear()
        assert len(scim_storage.get(TENANT, "User", people["alice"]).data["emails"]) == 2


class SortContract:
    """Each sortable attribute, both directions, values missing; ties by id."""

    @pytest.mark.parametrize("attribute", [None, *SORTABLE])
    def test_sort_matches_reference(self, scim_storage, attribute):
        created = create_users(scim_storage, TENANT, PEOPLE + [
            {"userName": "zed", "title": "Engineer", "displayName": "carol c", "active": True},
            {"userName": "ALICE2", "title": "engineer", "externalId": "a-1"},
        ])
        all_ids = [r.id for r in created]
        for descending in (False, True):
            query = Query(sort=sort_of(scim_storage, "User", attribute, descending))
            page = query_all(scim_storage, TENANT, "User", query)
            assert [r.id for r in page.resources] == reference_ids(scim_storage, TENANT, "User", all_ids, query)

    def test_missing_values_sort_last_ascending_first_descending(self, scim_storage):
        create_users(scim_storage, TENANT, [
            {"userName": "u1", "title": "b"}, {"userName": "u2"}, {"userName": "u3", "title": "A"},
            {"userName": "u4", "title": "c"},
        ])
        ascending = query_all(scim_storage, TENANT, "User", Query(sort=sort_of(scim_storage, "User", "title")))
        assert user_names(ascending.resources) == ["u3", "u1", "u4", "u2"]
        descending = query_all(scim_storage, TENANT, "User",
                               Query(sort=sort_of(scim_storage, "User", "title", descending=True)))
        assert user_names(descending.resources) == ["u2", "u4", "u1", "u3"]

    def test_default_order_is_creation_order(self, scim_storage):
        names = ["m", "B", "z", "a"]
        create_users(scim_storage, TENANT, [{"userName": name} for name in names])
        assert user_names(scim_storage.query(TENANT, "User", Query()).resources) == names

    def test_sorted_filtered_groups(self, scim_storage):
        for name in ("beta", "Alpha", "gamma"):
            scim_storage.create(TENANT, group(name))
        page = query_all(scim_storage, TENANT, "Group", Query(
            filter=filter_of(scim_storage, "Group", 'displayName ne "gamma"'),
            sort=sort_of(scim_storage, "Group", "displayName", descending=True)))
        assert [g.data["displayName"] for g in page.resources] == ["beta", "Alpha"]


INDEXED = {"User": ("userName", "externalId"), "Group": ("displayName", "externalId")}
GROUP_SORTABLE = ["displayName", "externalId", "meta.created", "id"]
PROPERTY_SETTINGS = settings(
    max_examples=40, deadline=None,
    # The storage fixture is shared by the examples (each uses a tenant of its own), and one
    # contract method runs for several backend classes.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.differing_executors],
)


@functools.lru_cache(maxsize=8)
def _query_strategies(catalog: Catalog, resource_type: str, sortable: tuple[str, ...]):
    """Filter and sort strategies, built once per catalog (building them dominates run time)."""
    rt = catalog.resource_type(resource_type)
    paths = [parse_attr_path(name, catalog, rt) for name in sortable]
    return filters(catalog, rt), st.one_of(st.none(), st.builds(Sort, st.sampled_from(paths), st.booleans()))


CASE_CHANGES = (str, str.lower, str.upper, str.swapcase)


@st.composite
def _lookups(draw, catalog: Catalog, resource_type: str, items: list[dict], other: st.SearchStrategy):
    """`attr eq "<a stored value, case changed>"` alone, and-ed or or-ed: the filters backends
    answer from indexes, aimed at values that exist so case folding is really exercised."""
    rt = catalog.resource_type(resource_type)
    stored = [(name, item[name]) for item in items for name in INDEXED[resource_type] if name in item]
    if not stored:
        return draw(other)
    name, value = draw(st.sampled_from(stored))
    lookup = Compare(parse_attr_path(name, catalog, rt), EQ, draw(st.sampled_from(CASE_CHANGES))(value))
    shape = draw(st.sampled_from((None, And, Or)))
    return lookup if shape is None else shape(lookup, draw(other))


def _create(storage, ctx: RequestContext, resource_type: str, data, draw) -> str:
    created, modified = sorted((draw(timestamps()), draw(timestamps())))
    return storage.create(ctx, Resource(resource_type, new_id(), data, created, modified)).id


class FilterPropertyContract:
    """Random resources x random filters and sorts: the backend returns exactly the ids, in
    exactly the order, that the reference evaluator and sort give over the stored documents."""

    @PROPERTY_SETTINGS
    @given(data=st.data())
    def test_random_filters_agree_with_the_reference(self, scim_storage, data):
        ctx = RequestContext(tenant=f"property-{new_id()}", base_url=TENANT.base_url)  # fresh per example
        catalog = scim_storage.catalog
        for resource_type, lists, sortable in (("User", user_lists, SORTABLE),
                                               ("Group", group_lists, GROUP_SORTABLE)):
            filter_strategy, sort_strategy = _query_strategies(catalog, resource_type, tuple(sortable))
            items = data.draw(lists(max_size=10), label=f"{resource_type} data")
            all_ids = [_create(scim_storage, ctx, resource_type, item, data.draw) for item in items]
            lookups = _lookups(catalog, resource_type, items, filter_strategy)
            for strategy in (filter_strategy, filter_strategy, lookups):
                query = Query(filter=data.draw(strategy, label="filter"),
                              sort=data.draw(sort_strategy, label="sort"))
                page = query_all(scim_storage, ctx, resource_type, query)
                expected = reference_ids(scim_storage, ctx, resource_type, all_ids, query)
                assert [r.id for r in page.resources] == expected
                assert page.total == len(expected)
