"""Properties: render → parse gives the AST back; the shared strategies are well-formed."""

from __future__ import annotations

from hypothesis import given, settings

from scimflask.filter import Not, matches, parse_filter, render
from scimflask.schema import GROUP_TYPE
from scimflask.testing.strategies import filters, group_lists, user_lists, users

from .catalogs import make_catalog

CATALOG, USER = make_catalog()


@settings(max_examples=300, deadline=None)
@given(filters(CATALOG, USER))
def test_render_then_parse_gives_the_same_user_filter(filter):
    assert parse_filter(render(filter), CATALOG, USER) == filter


@settings(max_examples=150, deadline=None)
@given(filters(CATALOG, USER, attributes=tuple(
    f"urn:example:params:scim:schemas:extension:Test:2.0:User:{name}"
    for name in ("level", "score", "code", "tags", "counts", "since", "blob", "exactLink", "flag"))))
def test_render_then_parse_gives_the_same_filter_for_every_type(filter):
    assert parse_filter(render(filter), CATALOG, USER) == filter
    assert parse_filter(render(filter, core_schema=USER.schema), CATALOG, USER) == filter


@settings(max_examples=100, deadline=None)
@given(filters(CATALOG, GROUP_TYPE))
def test_render_then_parse_gives_the_same_group_filter(filter):
    assert parse_filter(render(filter), CATALOG, GROUP_TYPE) == filter


@settings(max_examples=200, deadline=None)
@given(filters(CATALOG, USER), users())
def test_not_is_the_complement(filter, data):
    document = {**data, "id": "1", "meta": {"created": "2020-01-01T00:00:00.000Z",
                                           "lastModified": "2021-06-15T12:30:00.000Z"}}
    assert matches(Not(filter), document, USER, CATALOG) is not matches(filter, document, USER, CATALOG)


@settings(max_examples=50, deadline=None)
@given(user_lists(max_size=5), group_lists(max_size=5))
def test_generated_names_are_unique_case_insensitively(user_data, group_data):
    assert len({u["userName"].lower() for u in user_data}) == len(user_data)
    assert len({g["displayName"].lower() for g in group_data}) == len(group_data)
    for data in user_data:
        assert sum(1 for email in data.get("emails", []) if email.get("primary")) <= 1
