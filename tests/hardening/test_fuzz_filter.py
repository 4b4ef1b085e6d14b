"""Hypothesis against the filter parser: any text ends as a bound filter or a SCIM error.

Three sources of text: arbitrary characters, SCIM-flavoured token soup (keywords, operators,
brackets, quotes, attribute names), and valid filters rendered then mutated. Parsing must
never raise anything but InvalidFilter (InvalidPath for PATCH paths, InvalidValue for sortBy),
and a filter that parses must render to text that parses to the same AST.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from scimflask.errors import InvalidFilter, InvalidPath, InvalidValue
from scimflask.filter import parse_attr_path, parse_filter, parse_path, render
from scimflask.schema import GROUP_TYPE, USER_TYPE, default_catalog
from scimflask.testing.strategies import filters

from .fuzz_settings import examples

CATALOG = default_catalog()
TYPES = st.sampled_from([CATALOG.resource_type(USER_TYPE.name), CATALOG.resource_type(GROUP_TYPE.name)])
TOKENS = st.sampled_from([
    "userName", "emails", "emails.value", "members", "members.value", "name.givenName", "meta.created",
    "urn:ietf:params:scim:schemas:core:2.0:User:userName", "displayName", "active", "id", "groups",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "password",
    "eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr", "and", "or", "not", "AND", "Or",
    "(", ")", "[", "]", '"', '"x"', '"\\"', '"\\u0000"', "\\", "true", "false", "null", "1", "-1.5e3",
    "1e999", '"2024-01-01T00:00:00Z"', " ", "  ", ".", ":", "'", ";", "--", "$", "*", "%", "\x00",
])
SOUP = st.lists(TOKENS, max_size=20).map(" ".join) | st.lists(TOKENS, max_size=20).map("".join)
ANY_TEXT = st.text(max_size=200)


def _parse_or_invalid(text: str, rt) -> None:
    try:
        bound = parse_filter(text, CATALOG, rt)
    except InvalidFilter:
        return
    assert parse_filter(render(bound), CATALOG, rt) == bound


@settings(max_examples=examples(120), deadline=None)
@given(text=ANY_TEXT | SOUP, rt=TYPES)
def test_any_text_is_a_filter_or_invalid_filter(text, rt):
    _parse_or_invalid(text, rt)


@settings(max_examples=examples(80), deadline=None)
@given(data=st.data(), rt=TYPES)
def test_mutated_valid_filters_are_a_filter_or_invalid_filter(data, rt):
    text = render(data.draw(filters(CATALOG, rt)))
    position = data.draw(st.integers(0, len(text)))
    cut = data.draw(st.integers(0, 3))
    insert = data.draw(TOKENS | st.text(max_size=3))
    _parse_or_invalid(text[:position] + insert + text[position + cut:], rt)


@settings(max_examples=examples(120), deadline=None)
@given(text=ANY_TEXT | SOUP, rt=TYPES)
def test_any_text_is_a_patch_path_or_invalid_path(text, rt):
    try:
        parse_path(text, CATALOG, rt)
    except (InvalidPath, InvalidFilter):
        pass


@settings(max_examples=examples(80), deadline=None)
@given(text=ANY_TEXT | SOUP, rt=TYPES)
def test_any_text_is_a_sort_attribute_or_invalid_value(text, rt):
    try:
        parse_attr_path(text, CATALOG, rt)
    except InvalidValue:
        pass
