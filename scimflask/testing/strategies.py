"""Hypothesis strategies for users, groups and bound filters that hit each other often.

Values come from a small shared vocabulary (mixed case, unicode, the SQL LIKE specials `%`
`_` `\\`, quotes), so a random filter over random users matches some and misses others,
which is what the property "backend result == reference evaluator" needs. `filters` only
builds ASTs that `parse_filter` itself would produce for some text (type-correct literals,
supported operators, `.value` spelled out), so `render` → `parse_filter` gives them back.

Only tests import this module; it needs hypothesis.
"""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import strategies as st

from ..filter.ast import And, Compare, Filter, Not, Or, Present, ValuePath
from ..filter.parser import ALLOWED_OPERATORS
from ..filter.path import is_multi_valued_complex, resolve, to_attr_path
from ..schema.catalog import (
    BINARY,
    BOOLEAN,
    COMPLEX,
    CORE_GROUP,
    CORE_USER,
    DATETIME,
    DECIMAL,
    ENTERPRISE_USER,
    INTEGER,
    NEVER,
    AttributeRef,
    Catalog,
    ResourceType,
)

WORDS = ("alice", "Alice", "ALICE", "bob", "Bob", "zoë", "Zoë", "ZOË", "o'malley", "O'Malley",
         "50%", "5_0", "a\\b", 'say "hi"', "ab", "")
FRAGMENTS = ("a", "A", "b", "ë", "Ë", "%", "_", "\\", "'", '"', "al", "LI", "ob", "")
EMAILS = ("alice@example.com", "Alice@Example.COM", "bob@example.org", "a_b@example.org",
          "50%@example.org", "zoë@example.com")
EMAIL_TYPES = ("work", "home", "other", "Work")
PHONES = ("+1 555 0100", "+1 555 0101", "555-0100")
EXTERNAL_IDS = ("ext-1", "EXT-1", "ext-2", "a_b", "50%")
EMPLOYEE_NUMBERS = ("1", "01", "10", "2", "A1", "a1")
MANAGER_IDS = ("m-1", "M-1", "m-2")
URLS = ("https://example.com/alice", "https://EXAMPLE.com/Alice", "https://example.com/bob")
CERTIFICATES = ("TUlJ", "dGVzdA==", "TUlK", "tulj")
USER_NAME_SUFFIXES = ("", "1", "2", "_x", "%")

# Instants the tests may use for `created` / `lastModified` (millisecond precision, as
# documents show them), and the same and neighbouring instants spelled in various ways.
INSTANTS = (
    datetime(2020, 1, 1, tzinfo=timezone.utc),
    datetime(2020, 1, 1, 0, 0, 0, 1000, tzinfo=timezone.utc),
    datetime(2021, 6, 15, 12, 30, tzinfo=timezone.utc),
    datetime(2024, 2, 29, 23, 59, 59, 999000, tzinfo=timezone.utc),
)
DATETIME_LITERALS = (
    "2020-01-01T00:00:00Z", "2020-01-01T00:00:00.000Z", "2020-01-01T01:00:00+01:00",
    "2019-12-31T19:00:00-05:00", "2020-01-01T00:00:00.001Z", "2020-01-01T00:00:00.0005Z",
    "2021-06-15T12:30:00Z", "2021-06-15T14:30:00.000+02:00", "2021-06-15t12:30:00z",
    "2024-02-29T23:59:59.999Z", "2024-03-01T00:00:00Z", "1999-12-31T23:59:59Z",
)
INTEGERS = (-1, 0, 1, 2, 10, 2**40)
DECIMALS = (-2.25, 0, 0.5, 1, 1.5, 10.0)

# Attributes `users()` / `groups()` fill, which `filters()` uses by default.
USER_FILTER_ATTRIBUTES = (
    "userName", "name", "name.givenName", "name.familyName", "displayName", "nickName", "title",
    "userType", "active", "externalId", "profileUrl", "emails", "emails.value", "emails.type",
    "emails.primary", "phoneNumbers", "phoneNumbers.value", "x509Certificates.value",
    "meta.created", "meta.lastModified",
    f"{ENTERPRISE_USER}:employeeNumber", f"{ENTERPRISE_USER}:department",
    f"{ENTERPRISE_USER}:manager", f"{ENTERPRISE_USER}:manager.value",
)
GROUP_FILTER_ATTRIBUTES = ("displayName", "externalId", "meta.created", "meta.lastModified")

_LITERALS_BY_PATH: dict[str, tuple] = {
    "username": tuple(w + s for w in WORDS[:6] for s in USER_NAME_SUFFIXES[:3]) + FRAGMENTS,
    "emails.value": EMAILS + ("example", "EXAMPLE.com", "@", "%", "_"),
    "emails.type": EMAIL_TYPES + ("wo", "RK"),
    "phonenumbers.value": PHONES + ("555", "+1"),
    "externalid": EXTERNAL_IDS + ("ext", "-1"),
    "profileurl": URLS + ("https://", "ALICE"),
    "x509certificates.value": CERTIFICATES + ("TU", "=="),
    "employeenumber": EMPLOYEE_NUMBERS,
    "manager.value": MANAGER_IDS + ("m-",),
}


def timestamps() -> st.SearchStrategy[datetime]:
    """Creation / modification instants that the dateTime literals of `filters` hit."""
    return st.sampled_from(INSTANTS)


def _multi(values: tuple[str, ...], types: tuple[str, ...]) -> st.SearchStrategy[list[dict]]:
    """A multi-valued complex attribute, with at most one element marked primary."""
    element = st.fixed_dictionaries({"value": st.sampled_from(values)},
                                    optional={"type": st.sampled_from(types)})

    def mark(items: list[dict], primary: int | None) -> list[dict]:
        if primary is not None and items:
            items[primary % len(items)]["primary"] = True
        return items

    return st.builds(mark, st.lists(element, max_size=3), st.none() | st.integers(0, 2))


def _without_empty(data: dict) -> dict:
    """Drop sub-objects that came out empty (`name: {}`), as a client would not send them."""
    return {key: value for key, value in data.items() if value != {}}


def _name(words: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.builds(str.__add__, st.sampled_from(words), st.sampled_from(USER_NAME_SUFFIXES))


_WORD = st.sampled_from(WORDS)
_USER = st.builds(_without_empty, st.fixed_dictionaries(
    {"userName": _name(WORDS[:-1])},
    optional={
        "name": st.fixed_dictionaries({}, optional={"givenName": _WORD, "familyName": _WORD}),
        "displayName": _WORD,
        "nickName": _WORD,
        "title": _WORD,
        "userType": st.sampled_from(("Employee", "employee", "Intern")),
        "active": st.booleans(),
        "externalId": st.sampled_from(EXTERNAL_IDS),
        "profileUrl": st.sampled_from(URLS),
        "emails": _multi(EMAILS, EMAIL_TYPES),
        "phoneNumbers": _multi(PHONES, ("work", "mobile")),
        "x509Certificates": st.lists(st.fixed_dictionaries({"value": st.sampled_from(CERTIFICATES)}), max_size=2),
        ENTERPRISE_USER: st.fixed_dictionaries({}, optional={
            "employeeNumber": st.sampled_from(EMPLOYEE_NUMBERS),
            "department": _WORD,
            "manager": st.fixed_dictionaries({"value": st.sampled_from(MANAGER_IDS)}),
        }),
    },
))
_GROUP = st.fixed_dictionaries({"displayName": _name(WORDS[:-1])},
                               optional={"externalId": st.sampled_from(EXTERNAL_IDS)})


def users() -> st.SearchStrategy[dict]:
    """A valid User `data` dict (canonical names, enterprise attributes under their URN)."""
    return _USER


def user_lists(min_size: int = 0, max_size: int = 8) -> st.SearchStrategy[list[dict]]:
    """Users whose userNames are unique case-insensitively (userName is caseExact false)."""
    return st.lists(_USER, min_size=min_size, max_size=max_size,
                    unique_by=lambda data: data["userName"].lower())


def groups() -> st.SearchStrategy[dict]:
    """A valid Group `data` dict (members are kept outside `data`)."""
    return _GROUP


def group_lists(min_size: int = 0, max_size: int = 8) -> st.SearchStrategy[list[dict]]:
    """Groups whose displayNames are unique case-insensitively (scimflask enforces it)."""
    return st.lists(_GROUP, min_size=min_size, max_size=max_size,
                    unique_by=lambda data: data["displayName"].lower())


def filters(catalog: Catalog, resource_type: ResourceType, attributes: tuple[str, ...] | None = None,
            *, max_leaves: int = 6) -> st.SearchStrategy[Filter]:
    """Bound filters over `attributes` (attribute paths in filter notation).

    By default: the attributes `users()` / `groups()` fill for User / Group, and every
    queryable attribute of any other resource type. Every operator kind appears: comparisons
    allowed for the attribute's type, `pr`, value filters `attr[...]`, and/or/not.
    """
    refs = [_ref(catalog, resource_type, name) for name in attributes or _default_attributes(catalog, resource_type)]
    leaves = st.one_of([_leaf(ref) for ref in refs])
    return st.recursive(leaves, _combine, max_leaves=max_leaves)


def _default_attributes(catalog: Catalog, resource_type: ResourceType) -> tuple[str, ...]:
    if resource_type.schema == CORE_USER:
        return USER_FILTER_ATTRIBUTES
    if resource_type.schema == CORE_GROUP:
        return GROUP_FILTER_ATTRIBUTES
    names = []
    for urn in resource_type.schema_ids:
        for attribute in catalog.attributes(resource_type, urn):
            if attribute.returned != NEVER:
                names.append(f"{urn}:{attribute.name}")
    return tuple(names)


def _ref(catalog: Catalog, resource_type: ResourceType, name: str) -> AttributeRef:
    ref = resolve(catalog, resource_type, name)
    if ref is None:
        raise ValueError(f"unknown attribute {name!r}")
    return ref


def _combine(children: st.SearchStrategy[Filter]) -> st.SearchStrategy[Filter]:
    return st.one_of(st.builds(And, children, children), st.builds(Or, children, children),
                     st.builds(Not, children))


def _leaf(ref: AttributeRef) -> st.SearchStrategy[Filter]:
    path = to_attr_path(ref)
    definition = ref.definition
    if definition.type != COMPLEX:
        return st.one_of(st.builds(Present, st.just(path)), _comparison(ref))
    if ref.sub_attribute is None and is_multi_valued_complex(ref.attribute):
        subs = [AttributeRef(ref.schema, ref.attribute, sub) for sub in ref.attribute.sub_attributes
                if sub.returned != NEVER]
        inner = st.recursive(st.one_of([_leaf(sub) for sub in subs]), _combine, max_leaves=3)
        return st.one_of(st.builds(Present, st.just(path)), st.builds(ValuePath, st.just(path), inner))
    return st.builds(Present, st.just(path))


def _comparison(ref: AttributeRef) -> st.SearchStrategy[Compare]:
    definition = ref.definition
    operators = sorted(ALLOWED_OPERATORS[definition.type])
    return st.builds(Compare, st.just(to_attr_path(ref)), st.sampled_from(operators), _literals(ref))


def _literals(ref: AttributeRef) -> st.SearchStrategy:
    kind = ref.definition.type
    if kind == BOOLEAN:
        return st.booleans()
    if kind == INTEGER:
        return st.one_of(st.sampled_from(INTEGERS), st.integers(-3, 12))
    if kind == DECIMAL:
        return st.sampled_from(DECIMALS)
    if kind == DATETIME:
        return st.sampled_from(DATETIME_LITERALS)
    name = ref.attribute.name if ref.sub_attribute is None else f"{ref.attribute.name}.{ref.sub_attribute.name}"
    specific = _LITERALS_BY_PATH.get(name.lower(), ())
    if kind == BINARY:
        return st.sampled_from(specific or CERTIFICATES)
    return st.sampled_from(specific + WORDS + FRAGMENTS)


__all__ = [
    "users", "user_lists", "groups", "group_lists", "filters", "timestamps",
    "WORDS", "FRAGMENTS", "INSTANTS", "DATETIME_LITERALS", "USER_FILTER_ATTRIBUTES",
    "GROUP_FILTER_ATTRIBUTES",
]
