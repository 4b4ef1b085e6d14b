"""Contract: `co`/`sw`/`ew` on the substring-indexed attributes come from an index, and a filter
no index narrows is refused (`ScanTooLarge`) past `Query.max_scan` instead of scanning.

The index is observed from outside: with `max_scan` set below the tenant's size, a substring
filter that an index narrows to a few candidates is still answered, while the same operator on
an attribute without such an index is refused. A scanning backend (`indexed_filters` False) is
held to the same answers without the bound.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..model import Query, RequestContext
from ..storage.errors import ScanTooLarge
from ..storage.substring import MIN_PATTERN, SUBSTRING_INDEXED
from .contract_support import TENANT, create_users, filter_of, group, new_id, query_all, reference_ids

# Twelve users whose indexed values share little: each one's values hold a marker ("q7z", ...)
# no other user's do, so a substring filter on a marker has one candidate at most.
MARKERS = ["q7z", "k3w", "j9v", "x2p", "m5t", "h8r", "b4n", "f6y", "d1u", "z0c", "w3g", "v7s"]
CROWD = [
    {"userName": f"{m}User{i}@Corp.example", "displayName": f"Dis {m.upper()} Play", "externalId": f"EXT-{m}-{i}",
     "name": {"givenName": f"Giv{m}en", "familyName": f"Fam{m}ily"}, "title": f"title {m}",
     "emails": [{"value": f"first.{m}@mail.example", "type": "work"}, {"value": f"{m}2@home.example"}]}
    for i, m in enumerate(MARKERS)
]
FEW = 3  # max_scan of the tests: well below the tenant's size


def _bound(storage) -> int | None:
    """FEW where indexes must do the work, None (no bound) for a scanning backend."""
    return FEW if storage.indexed_filters else None


def _case_changes(text: str) -> list[str]:
    return [text, text.upper(), text.swapcase()]


# (filter, which CROWD indexes it must find); every value is a marker-bearing substring.
SUBSTRING_FILTERS = [
    ('userName co "7zu"', [0]), ('userName sw "K3WUSER"', [1]), ('userName ew "R2@corp.example"', [2]),
    ('displayName co "x2p pl"', [3]), ('displayName sw "DIS M5T"', [4]), ('displayName ew "h8r play"', [5]),
    ('externalId co "-b4n-"', [6]), ('externalId sw "EXT-f6y"', [7]), ('externalId ew "d1u-8"', [8]),
    ('externalId co "-B4N-"', []),  # externalId is caseExact: the index narrows, the check decides
    ('emails.value co "first.z0c"', [9]), ('emails.value sw "W3G2@"', [10]), ('emails.value ew "v7s@mail.example"', [11]),
    ('emails[value co "q7z2@HOME"]', [0]), ('emails[type eq "work" and value co "k3w@"]', [1]),
    ('name.givenName co "vj9ve"', [2]), ('name.givenName sw "GIVX2P"', [3]), ('name.familyName ew "m5tily"', [4]),
    ('name.familyName co "famh8r"', [5]),
    ('userName co "q7z" or displayName co "k3w"', [0, 1]),
    ('userName co "q7z" and title co "q7z"', [0]),  # an unindexed side is checked on the candidates
    ('userName co "nomatch-zz"', []),
]


class SubstringIndexContract:
    """Substring filters answer exactly what the reference does, and from an index."""

    @pytest.fixture
    def crowd(self, scim_storage) -> tuple[RequestContext, list[str]]:
        ctx = RequestContext(tenant=f"substring-{new_id()}", base_url=TENANT.base_url)
        return ctx, [r.id for r in create_users(scim_storage, ctx, CROWD)]

    @pytest.mark.parametrize("text, expected", SUBSTRING_FILTERS, ids=[text for text, _ in SUBSTRING_FILTERS])
    def test_substring_filters_are_answered_from_an_index(self, scim_storage, crowd, text, expected):
        ctx, ids = crowd
        query = Query(filter=filter_of(scim_storage, "User", text), max_scan=_bound(scim_storage))
        page = scim_storage.query(ctx, "User", query)
        assert {r.id for r in page.resources} == {ids[i] for i in expected}
        assert page.total == len(expected)
        assert [r.id for r in page.resources] == reference_ids(scim_storage, ctx, "User", ids, query)

    def test_group_display_name_substrings_are_indexed(self, scim_storage):
        ctx = RequestContext(tenant=f"substring-{new_id()}", base_url=TENANT.base_url)
        created = [scim_storage.create(ctx, group(f"Team {m} Ops")).id for m in MARKERS]
        for text, index in (('displayName co "M J9V o"', 2), ('displayName sw "team b4n"', 6),
                            ('displayName ew "W3G OPS"', 10)):
            page = scim_storage.query(ctx, "Group", Query(filter=filter_of(scim_storage, "Group", text),
                                                          max_scan=_bound(scim_storage), with_members=False))
            assert [r.id for r in page.resources] == [created[index]], text

    def test_every_indexed_attribute_is_covered_here(self):
        named = {text.split()[0].split("[")[0] for text, _ in SUBSTRING_FILTERS}
        assert set(SUBSTRING_INDEXED["User"]) <= named | {"emails.value"}

    # Each example makes its own tenant, so the shared storage fixture is safe across examples.
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(data=st.data())
    def test_random_substrings_agree_with_the_reference(self, scim_storage, data):
        ctx = RequestContext(tenant=f"substring-{new_id()}", base_url=TENANT.base_url)
        ids = [r.id for r in create_users(scim_storage, ctx, CROWD[:4])]
        attribute = data.draw(st.sampled_from(SUBSTRING_INDEXED["User"]), label="attribute")
        source = data.draw(st.sampled_from(CROWD[:4]))
        values = [e["value"] for e in source["emails"]] if attribute == "emails.value" else [
            source[attribute] if "." not in attribute else source["name"][attribute.split(".")[1]]]
        value = data.draw(st.sampled_from(values))
        start = data.draw(st.integers(0, len(value) - MIN_PATTERN))
        end = data.draw(st.integers(start + MIN_PATTERN, len(value)))
        pattern = data.draw(st.sampled_from(_case_changes(value[start:end])), label="pattern")
        op = data.draw(st.sampled_from(["co", "sw", "ew"]), label="op")
        escaped = pattern.replace("\\", "\\\\").replace('"', '\\"')
        query = Query(filter=filter_of(scim_storage, "User", f'{attribute} {op} "{escaped}"'))
        page = query_all(scim_storage, ctx, "User", query)
        assert [r.id for r in page.resources] == reference_ids(scim_storage, ctx, "User", ids, query)


# Filters no index narrows: refused past max_scan, answered within it.
# ("example" is in every userName: its trigrams narrow nothing.)
UNINDEXED = ['title co "itl"', "title pr", 'userName gt "a"', 'not (userName eq "x")',
             'userName co "q7"', 'userName co "example"']


class ScanBoundContract:
    """`Query.max_scan` bounds what a filter may examine without an index."""

    @pytest.fixture
    def crowd(self, scim_storage) -> tuple[RequestContext, list[str]]:
        ctx = RequestContext(tenant=f"scan-{new_id()}", base_url=TENANT.base_url)
        return ctx, [r.id for r in create_users(scim_storage, ctx, CROWD)]

    @pytest.mark.parametrize("text", UNINDEXED)
    def test_a_filter_no_index_narrows_is_refused_past_the_bound(self, scim_storage, crowd, text):
        query = Query(filter=filter_of(scim_storage, "User", text), max_scan=FEW)
        with pytest.raises(ScanTooLarge) as raised:
            scim_storage.query(crowd[0], "User", query)
        assert raised.value.limit == FEW and raised.value.resource_type == "User"

    @pytest.mark.parametrize("text", UNINDEXED)
    def test_the_same_filter_is_answered_within_the_bound(self, scim_storage, crowd, text):
        ctx, ids = crowd
        for bound in (len(CROWD), None):
            query = Query(filter=filter_of(scim_storage, "User", text), max_scan=bound)
            page = scim_storage.query(ctx, "User", query)
            assert [r.id for r in page.resources] == reference_ids(scim_storage, ctx, "User", ids, query)
            assert page.total == len(page.resources)

    def test_unfiltered_pages_ignore_the_bound(self, scim_storage, crowd):
        assert scim_storage.query(crowd[0], "User", Query(max_scan=1, count=2)).total == len(CROWD)

    def test_indexed_lookups_ignore_the_bound(self, scim_storage, crowd):
        if not scim_storage.indexed_filters:
            pytest.skip(f"{type(scim_storage).__name__} answers filters by scanning (indexed_filters is False)")
        ctx = crowd[0]
        one = f'userName eq "{CROWD[5]["userName"].upper()}"'
        assert scim_storage.query(ctx, "User", Query(filter=filter_of(scim_storage, "User", one),
                                                     max_scan=1)).total == 1
        narrowed = f'externalId eq "{CROWD[3]["externalId"]}" and title co "itl"'
        assert scim_storage.query(ctx, "User", Query(filter=filter_of(scim_storage, "User", narrowed),
                                                     max_scan=1)).total == 1

    def test_a_small_tenant_is_never_refused(self, scim_storage):
        ctx = RequestContext(tenant=f"scan-{new_id()}", base_url=TENANT.base_url)
        create_users(scim_storage, ctx, CROWD[:FEW])
        page = scim_storage.query(ctx, "User", Query(filter=filter_of(scim_storage, "User", "title pr"),
                                                     max_scan=FEW))
        assert page.total == FEW
