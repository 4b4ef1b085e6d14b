"""The reference sort order (RFC 7644 §3.4.2.3)."""

from __future__ import annotations

from scimflask.filter import AttrPath, parse_attr_path, sort_documents, sort_key
from scimflask.model import Sort
from scimflask.schema.catalog import CORE_USER

from .catalogs import TEST_EXT, make_catalog

CATALOG, USER = make_catalog()


def doc(id: str, created: str = "2020-01-01T00:00:00Z", **data) -> dict:
    return {"id": id, "meta": {"created": created}, **data}


def order(documents: list[dict], sort_by: str | None, descending: bool = False) -> list[str]:
    sort = None if sort_by is None else Sort(parse_attr_path(sort_by, CATALOG, USER), descending)
    return [d["id"] for d in sort_documents(documents, sort, USER, CATALOG)]


def test_case_insensitive_strings_sort_by_lower():
    documents = [doc("1", userName="bob"), doc("2", userName="Alice"), doc("3", userName="alice"),
                 doc("4", userName="Bea"), doc("5", userName="_x"), doc("6", userName="Zoë")]
    # Lower-cased code points: "_" (0x5f) comes before every lower-case letter.
    assert order(documents, "userName") == ["5", "2", "3", "4", "1", "6"]
    assert order(documents, "userName", descending=True) == ["6", "1", "4", "2", "3", "5"]


def test_case_exact_strings_sort_by_code_point():
    documents = [doc("1", externalId="b"), doc("2", externalId="B"), doc("3", externalId="a")]
    assert order(documents, "externalId") == ["2", "3", "1"]


def test_missing_values_last_ascending_first_descending():
    documents = [doc("3", title="b"), doc("1"), doc("2", title="a"), doc("4", title=None), doc("5", title="")]
    assert order(documents, "title") == ["5", "2", "3", "1", "4"]
    assert order(documents, "title", descending=True) == ["1", "4", "3", "2", "5"]


def test_ties_broken_by_id_ascending_in_both_directions():
    documents = [doc("c", title="x"), doc("a", title="X"), doc("b", title="y")]
    assert order(documents, "title") == ["a", "c", "b"]
    assert order(documents, "title", descending=True) == ["b", "a", "c"]


def test_multi_valued_sorts_by_primary_else_first():
    documents = [
        doc("1", emails=[{"value": "z@x"}, {"value": "a@x", "primary": True}]),
        doc("2", emails=[{"value": "m@x"}, {"value": "b@x"}]),
        doc("3", emails=[]),
        doc("4", emails=[{"type": "work", "primary": True}, {"value": "0@x"}]),  # primary has no value
        doc("5", emails=[{"value": "B@x", "primary": False}]),
    ]
    assert order(documents, "emails.value") == ["1", "5", "2", "3", "4"]
    assert order(documents, "emails") == ["1", "5", "2", "3", "4"]
    assert order(documents, "emails.value", descending=True) == ["3", "4", "2", "5", "1"]


def test_multi_valued_simple_sorts_by_first_value():
    tags = f"{TEST_EXT}:tags"
    documents = [doc("1", **{TEST_EXT: {"tags": ["b", "a"]}}), doc("2", **{TEST_EXT: {"tags": ["A"]}}),
                 doc("3", **{TEST_EXT: {}})]
    assert order(documents, tags) == ["2", "1", "3"]


def test_datetimes_sort_as_instants():
    since = f"{TEST_EXT}:since"
    documents = [
        doc("1", **{TEST_EXT: {"since": "2020-01-01T00:30:00+01:00"}}),  # 23:30Z the day before
        doc("2", **{TEST_EXT: {"since": "2020-01-01T00:00:00Z"}}),
        doc("3", **{TEST_EXT: {"since": "2019-12-31T23:45:00.000Z"}}),
        doc("4", **{TEST_EXT: {"since": "not a date"}}),
    ]
    assert order(documents, since) == ["1", "3", "2", "4"]


def test_numbers_and_booleans():
    level, flag = f"{TEST_EXT}:level", f"{TEST_EXT}:flag"
    documents = [doc("1", **{TEST_EXT: {"level": 10, "flag": True}}), doc("2", **{TEST_EXT: {"level": 9.5, "flag": False}}),
                 doc("3", **{TEST_EXT: {"level": -1}}), doc("4", **{TEST_EXT: {"level": True}})]
    assert order(documents, level) == ["3", "2", "1", "4"]
    assert order(documents, flag) == ["2", "1", "3", "4"]


def test_default_order_is_created_then_id():
    documents = [doc("b", "2020-01-01T00:00:00Z"), doc("a", "2020-01-01T01:00:00+01:00"),
                 doc("c", "2019-12-31T00:00:00.000Z")]
    assert order(documents, None) == ["c", "a", "b"]


def test_sort_key_shape():
    sort = Sort(AttrPath(CORE_USER, "userName"))
    assert sort_key(doc("1", userName="Bob"), sort, USER, CATALOG) == (0, "bob")
    assert sort_key(doc("1"), sort, USER, CATALOG) == (1,)
