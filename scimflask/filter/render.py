"""Bound filter AST → filter text that parses back to the same AST.

Core-schema attributes are written without URN, extension attributes with it. Parentheses are
added wherever the parser would otherwise group differently: around an `or` inside an `and`,
and around an `and`/`or` operand of the same kind unless the whole chain has exactly the
balanced shape the parser folds `a or b or c ...` into. Used for logs, for cursors and by the round-trip tests.
"""

from __future__ import annotations

import json

from .ast import And, AttrPath, Compare, Filter, Not, Or, Present, ValuePath
from .parser import fold_balanced

_RFC_CORE_PREFIX = "urn:ietf:params:scim:schemas:core:"


def render(filter: Filter, core_schema: str | None = None) -> str:
    """Filter text for `filter`.

    `core_schema` is the resource type's core schema URN; paths in other schemas get their URN
    prefix. When omitted, the RFC 7643 core schemas (`urn:ietf:params:scim:schemas:core:...`)
    are written bare and every other schema with its URN, which always parses back the same.
    """
    return _Renderer(core_schema).node(filter)


def render_path(path: AttrPath, core_schema: str | None = None) -> str:
    return _Renderer(core_schema).path(path)


def render_literal(value: object) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


class _Renderer:
    def __init__(self, core_schema: str | None) -> None:
        self.core_schema = core_schema

    def is_core(self, schema: str) -> bool:
        if self.core_schema is not None:
            return schema.lower() == self.core_schema.lower()
        return schema.lower().startswith(_RFC_CORE_PREFIX)

    def path(self, path: AttrPath, inner: bool = False) -> str:
        if inner:
            return path.sub_attribute or path.attribute
        name = path.attribute if path.sub_attribute is None else f"{path.attribute}.{path.sub_attribute}"
        return name if self.is_core(path.schema) else f"{path.schema}:{name}"

    def node(self, node: Filter, inner: bool = False) -> str:
        if isinstance(node, Compare):
            return f"{self.path(node.path, inner)} {node.op} {render_literal(node.value)}"
        if isinstance(node, Present):
            return f"{self.path(node.path, inner)} pr"
        if isinstance(node, Not):
            return f"not ({self.node(node.expr, inner)})"
        if isinstance(node, ValuePath):
            return f"{self.path(node.path)}[{self.node(node.filter, True)}]"
        if isinstance(node, (And, Or)):
            return self.chain(node, inner)
        raise TypeError(f"not a filter node: {node!r}")

    def chain(self, node: And | Or, inner: bool) -> str:
        """`a and b and c` when the parser would fold that text back into `node`, else grouped."""
        kind = type(node)
        keyword = " and " if kind is And else " or "
        items = _flatten(node, kind)
        if fold_balanced(kind, items) != node:
            items = [node.left, node.right]
        return keyword.join(self.operand(item, kind, inner) for item in items)

    def operand(self, node: Filter, parent: type, inner: bool) -> str:
        text = self.node(node, inner)
        needs_group = isinstance(node, parent) or (parent is And and isinstance(node, Or))
        return f"({text})" if needs_group else text


def _flatten(node: Filter, kind: type) -> list[Filter]:
    if isinstance(node, (And, Or)) and isinstance(node, kind):
        return _flatten(node.left, kind) + _flatten(node.right, kind)
    return [node]
