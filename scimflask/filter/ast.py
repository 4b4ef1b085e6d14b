"""The filter AST: small frozen dataclasses every backend compiles natively.

Attribute paths are *bound*: the parser resolves them against the schema catalog, so
`AttrPath.schema` is the full schema URN (the core schema for core and common attributes) and
`attribute` / `sub_attribute` carry the canonical spelling from the definition. No storage
plugin ever sees filter text or has to guess case.

Inside a `ValuePath`, the filter's paths name sub-attributes of the value path's attribute
(`emails[type eq "work"]` → `Compare(AttrPath(core, "emails", "type"), "eq", "work")`), so each
node is meaningful on its own; a backend evaluates them per element of the multi-valued
attribute.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

# Comparison operators (RFC 7644 §3.4.2.2, Table 3), lower-case.
EQ, NE, CO, SW, EW, GT, LT, GE, LE = "eq", "ne", "co", "sw", "ew", "gt", "lt", "ge", "le"
COMPARISON_OPERATORS = (EQ, NE, CO, SW, EW, GT, LT, GE, LE)
ORDERING_OPERATORS = (GT, LT, GE, LE)
SUBSTRING_OPERATORS = (CO, SW, EW)

Literal = str | int | float | bool | None


@dataclass(frozen=True)
class AttrPath:
    """`schema` URN, canonical `attribute` name, optional canonical `sub_attribute`."""

    schema: str
    attribute: str
    sub_attribute: str | None = None

    def __str__(self) -> str:
        name = self.attribute if self.sub_attribute is None else f"{self.attribute}.{self.sub_attribute}"
        return f"{self.schema}:{name}"


@dataclass(frozen=True)
class Compare:
    """`path op value`. `value` is the JSON literal as parsed (str, int, float, bool, None)."""

    path: AttrPath
    op: str
    value: Literal


@dataclass(frozen=True)
class Present:
    """`path pr`: the attribute has a non-empty, non-null value (RFC 7644 §3.4.2.2)."""

    path: AttrPath


@dataclass(frozen=True)
class And:
    left: Filter
    right: Filter


@dataclass(frozen=True)
class Or:
    left: Filter
    right: Filter


@dataclass(frozen=True)
class Not:
    expr: Filter


@dataclass(frozen=True)
class ValuePath:
    """`attr[filter]`: some single element of multi-valued complex `path` satisfies `filter`.

    `path.sub_attribute` is always None; the inner filter's paths carry the sub-attributes.
    """

    path: AttrPath
    filter: Filter


Filter = Compare | Present | And | Or | Not | ValuePath


def attribute_paths(node: Filter) -> Iterator[AttrPath]:
    """Every attribute path `node` reads, its value paths' own paths included (depth first).

    Backends use it to learn which attributes a filter needs before loading resources.
    """
    pending: list[Filter] = [node]
    while pending:
        current = pending.pop()
        if isinstance(current, (Compare, Present)):
            yield current.path
        elif isinstance(current, ValuePath):
            yield current.path
            pending.append(current.filter)
        elif isinstance(current, (And, Or)):
            pending.extend((current.right, current.left))
        elif isinstance(current, Not):
            pending.append(current.expr)
