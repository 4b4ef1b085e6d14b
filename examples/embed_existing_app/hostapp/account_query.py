"""SCIM filters and sorts on Users, translated into SQLAlchemy on `Account` columns.

Only what maps onto a column can be translated, and everything else is refused with 400
`invalidFilter` (or `invalidValue` for a sort): an empty result for a filter the app cannot
run would tell the identity provider "no such user", and it would create a duplicate.

Semantics follow scimflask's reference evaluator: `caseExact` false compares lower-cased
(`lower()` in SQL; SQLite folds ASCII letters only), `ne` is `not eq` (so it matches a missing
value), `pr` means neither NULL nor "". Every comparison is guarded with `IS NOT NULL`, so
no SQL NULL ever reaches `NOT`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, func, literal, not_, or_

from scimflask.errors import InvalidFilter, InvalidValue
from scimflask.filter.ast import CO, EQ, EW, NE, SW, And, AttrPath, Compare, Filter, Not, Or, Present, ValuePath
from scimflask.model import Sort
from scimflask.schema.catalog import CORE_USER

from .models import Account


@dataclass(frozen=True)
class Mapped:
    """Where a SCIM attribute lives: an expression, how it compares, and when it exists."""

    expression: ColumnElement
    case_exact: bool = False
    boolean: bool = False
    exists: ColumnElement | None = None  # defaults to `expression IS NOT NULL`


# The one work email is the only element of `emails`; its type and primary flag are constants.
_WORK_EMAIL = Account.__table__.c.work_email
ATTRIBUTES: dict[tuple[str, str | None], Mapped] = {
    ("id", None): Mapped(Account.__table__.c.public_id, case_exact=True),
    ("userName", None): Mapped(Account.__table__.c.email),
    ("externalId", None): Mapped(Account.__table__.c.external_ref, case_exact=True),
    ("displayName", None): Mapped(Account.__table__.c.display_name),
    ("name", "givenName"): Mapped(Account.__table__.c.first_name),
    ("name", "familyName"): Mapped(Account.__table__.c.last_name),
    ("active", None): Mapped(Account.__table__.c.is_active, boolean=True),
    ("emails", "value"): Mapped(_WORK_EMAIL),
    ("emails", "type"): Mapped(literal("work"), exists=_WORK_EMAIL.isnot(None)),
    ("emails", "primary"): Mapped(literal(True), boolean=True, exists=_WORK_EMAIL.isnot(None)),
}
COMPLEX_PARTS = {("emails", None): [("emails", "value")],
                 ("name", None): [("name", "givenName"), ("name", "familyName")]}
SORTABLE = {
    **{key: ATTRIBUTES[key] for key in (("id", None), ("userName", None), ("externalId", None),
                                         ("displayName", None), ("name", "givenName"),
                                         ("name", "familyName"), ("emails", "value"))},
    ("meta", "created"): Mapped(Account.__table__.c.created_at, case_exact=True),
    ("meta", "lastModified"): Mapped(Account.__table__.c.updated_at, case_exact=True),
}
SUBSTRING = {CO: "contains", SW: "startswith", EW: "endswith"}


def _name(path: AttrPath) -> str:
    return path.attribute if path.sub_attribute is None else f"{path.attribute}.{path.sub_attribute}"


def _supported(table: dict) -> str:
    return ", ".join(name if sub is None else f"{name}.{sub}" for name, sub in table)


def _mapped(path: AttrPath) -> Mapped:
    found = ATTRIBUTES.get((path.attribute, path.sub_attribute))
    if found is None or path.schema != CORE_USER:
        raise InvalidFilter(f"this application cannot filter on {_name(path)}; "
                            f"it can filter on {_supported(ATTRIBUTES)}")
    return found


def to_condition(node: Filter) -> ColumnElement[bool]:
    """The SQL condition for a bound filter, or InvalidFilter naming what is unsupported."""
    if isinstance(node, And):
        return and_(to_condition(node.left), to_condition(node.right))
    if isinstance(node, Or):
        return or_(to_condition(node.left), to_condition(node.right))
    if isinstance(node, Not):
        return not_(to_condition(node.expr))
    if isinstance(node, ValuePath):
        if node.path.attribute != "emails":
            raise InvalidFilter(f"this application cannot filter on {node.path.attribute}[...]")
        return to_condition(node.filter)  # one element only: "some element matches" is "it matches"
    if isinstance(node, Present):
        parts = COMPLEX_PARTS.get((node.path.attribute, node.path.sub_attribute))
        if parts is not None:  # a complex value is present when one of its parts is
            return or_(*(_present(ATTRIBUTES[part]) for part in parts))
        return _present(_mapped(node.path))
    if isinstance(node, Compare):
        return _compare(node)
    raise InvalidFilter(f"unsupported filter {type(node).__name__}")


def _exists(mapped: Mapped) -> ColumnElement[bool]:
    return mapped.exists if mapped.exists is not None else mapped.expression.isnot(None)


def _present(mapped: Mapped) -> ColumnElement[bool]:
    return _exists(mapped) if mapped.boolean else and_(_exists(mapped), mapped.expression != "")


def _compare(node: Compare) -> ColumnElement[bool]:
    mapped = _mapped(node.path)
    exists = _exists(mapped)
    if node.op == NE:
        return not_(_compare(Compare(node.path, EQ, node.value)))
    if mapped.boolean:
        if node.op != EQ or not isinstance(node.value, bool):
            raise InvalidFilter(f"{_name(node.path)} supports only eq/ne with true or false")
        return and_(exists, mapped.expression == node.value)
    if not isinstance(node.value, str):
        raise InvalidFilter(f"{_name(node.path)} compares with strings only")
    column = mapped.expression if mapped.case_exact else func.lower(mapped.expression)
    value = node.value if mapped.case_exact else node.value.lower()
    if node.op == EQ:
        return and_(exists, column == value)
    if node.op in SUBSTRING and not mapped.case_exact:  # LIKE ignores ASCII case on SQLite
        return and_(exists, getattr(column, SUBSTRING[node.op])(value, autoescape=True))
    raise InvalidFilter(f"this application cannot use '{node.op}' on {_name(node.path)}")


def to_order(sort: Sort | None) -> list:
    """ORDER BY for a SCIM sort: missing values last ascending, first descending; ties by id."""
    if sort is None:
        return [Account.created_at, Account.public_id]
    mapped = SORTABLE.get((sort.path.attribute, sort.path.sub_attribute))
    if mapped is None:
        raise InvalidValue(f"this application cannot sort by {_name(sort.path)}; "
                           f"it can sort by {_supported(SORTABLE)}")
    value = mapped.expression if mapped.case_exact else func.lower(mapped.expression)
    missing = mapped.expression.is_(None)
    if sort.descending:
        return [missing.desc(), value.desc(), Account.public_id]
    return [missing, value, Account.public_id]

