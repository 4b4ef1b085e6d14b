"""The shape cache gives exactly what `parse_filter` gives, and the same errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scimflask.errors import ScimError
from scimflask.filter import parse_filter, parse_path, render
from scimflask.filter.cache import FilterCache, ShapeCache, parse_path_cached
from scimflask.testing.strategies import filters

from .catalogs import make_catalog

CATALOG, USER = make_catalog()
EXTENSION = "urn:example:params:scim:schemas:extension:Test:2.0:User"


def outcome(parse, text):
    try:
        return parse(text)
    except ScimError as error:
        return ("error", error.scim_type, error.detail)


def reference(text):
    return parse_filter(text, CATALOG, CATALOG.resource_type("User"))


@settings(max_examples=300, deadline=None)
@given(filters(CATALOG, USER), filters(CATALOG, USER))
def test_cached_parse_equals_the_parser_on_generated_filters(first, second):
    cache = FilterCache(CATALOG)
    # Two filters, and the first again: shapes are reused across different literals.
    for flt in (first, second, first):
        text = render(flt)
        assert cache.parse(text, "User") == reference(text) == flt


@settings(max_examples=100, deadline=None)
@given(filters(CATALOG, USER, attributes=tuple(
    f"{EXTENSION}:{name}" for name in ("level", "score", "code", "tags", "counts", "since", "blob", "flag"))))
def test_cached_parse_equals_the_parser_for_every_attribute_type(flt):
    cache = FilterCache(CATALOG)
    text = render(flt)
    assert cache.parse(text, "User") == reference(text)
    assert cache.parse(text, "User") == reference(text)


@pytest.mark.parametrize("texts", [
    # same shape, different literals: each answer carries its own literal
    ['userName eq "alice"', 'userName eq "bob"', 'userName eq "\\u00e9t\\u00e9 \\"q\\""'],
    ['emails[type eq "work"].value eq "a@x"', 'emails[type eq "home"].value eq "b@x"'],
    ['name.familyName sw "Fa" and not (title co "x")', 'name.familyName sw "" and not (title co "y")'],
    # a boolean compared with a string: the placeholder would not bind, the parser decides
    ['active eq "true"', 'active eq "false"', 'active eq "maybe"'],
    # a dateTime literal is validated: the shape cannot be reused
    ['meta.lastModified gt "2020-01-01T00:00:00Z"', 'meta.lastModified gt "not a date"'],
    # errors keep their text and position
    ['userName eq "a" and', 'userName eq "abcdef" and', 'userName zz "a"', 'nope eq "a"'],
    ['userName eq "a\x01"', 'userName eq "\\ud800"', 'userName eq "unterminated', 'userName eq "\ue0000"'],
    ['userName eq "a" or userName eq "a"', 'userName eq "a" or userName eq "b"'],
])
def test_cached_parse_matches_the_parser_literal_by_literal(texts):
    cache = FilterCache(CATALOG)
    for text in texts + texts:
        assert outcome(lambda t: cache.parse(t, "User"), text) == outcome(reference, text), text


def test_too_long_text_is_refused_even_when_its_shape_is_cached():
    cache = FilterCache(CATALOG, max_length=40)
    assert cache.parse('userName eq "short"', "User") == reference('userName eq "short"')
    long_text = 'userName eq "' + "x" * 60 + '"'
    with pytest.raises(ScimError):
        cache.parse(long_text, "User")


def test_shapes_are_parsed_once():
    calls = []
    user = CATALOG.resource_type("User")
    cache = ShapeCache(lambda text: (calls.append(text), parse_filter(text, CATALOG, user))[1])
    for i in range(50):
        assert cache.parse(f'userName eq "user{i}@example.com"') == reference(f'userName eq "user{i}@example.com"')
    assert len(calls) == 1


@pytest.mark.parametrize("texts", [
    ['members[value eq "a"]', 'members[value eq "b"]', 'members[value eq "\u00e9"]', "members"],
    ['emails[type eq "work"].value', 'emails[type eq "home"].value', 'emails[type eq "work" and primary eq true]'],
    ['members[value eq "a"', 'members[value zz "a"]', 'nothing[value eq "a"]', 'title', 'name.familyName'],
    ['members[value eq "a"] and', '"quoted"', 'members[value eq "\ud800"]'],
])
def test_cached_patch_paths_match_the_parser(texts):
    group, user = CATALOG.resource_type("Group"), CATALOG.resource_type("User")
    for text in texts + texts:
        for rt in (group, user):
            assert outcome(lambda t, rt=rt: parse_path_cached(t, CATALOG, rt), text) == \
                outcome(lambda t, rt=rt: parse_path(t, CATALOG, rt), text), text


@given(st.text(max_size=40))
@settings(max_examples=300, deadline=None)
def test_arbitrary_text_gives_the_parser_answer(text):
    cache = FilterCache(CATALOG)
    for candidate in (text, f'userName eq "{text}"', f'{text} eq "x"'):
        assert outcome(lambda t: cache.parse(t, "User"), candidate) == outcome(reference, candidate)
