"""Parsed filters and PATCH paths, reused across requests that differ only in their string literals.

Identity providers send the same few filter shapes with a new value each time
(`userName eq "…"` once per user of a sync cycle), so a cache keyed by the whole text never
hits. This one keys by the text with every string literal replaced by a placeholder: the
shape is parsed and bound once, and each request only decodes its literals and puts them
into a copy of the bound tree. A shape in which a placeholder would not survive binding
unchanged (a literal compared with a boolean or checked as a dateTime), and any text the shape
route cannot prove equivalent, goes through the full parser, so errors read exactly as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from ..schema.catalog import Catalog, ResourceType
from .ast import And, Compare, Filter, Not, Or, Present, ValuePath
from .lexer import SyntaxProblem, decode_string
from .parser import MAX_LENGTH, parse_filter, parse_path
from .path import PatchPath

Parsed = TypeVar("Parsed")

_MARK = "\ue000"  # private-use character: cannot come from a client's literal, which is cut out
_UNUSABLE = object()  # a shape whose literals the parser changes: always parse in full


class ShapeCache(Generic[Parsed]):
    """`parse(text)` with the result of the wrapped parser, parsing each shape only once."""

    def __init__(self, parser: Callable[[str], Parsed], *, max_length: int = MAX_LENGTH,
                 size: int = 1024) -> None:
        self.parser = parser
        self.max_length = max_length
        self.size = size
        self._shapes: dict[str, object] = {}
        self._lock = threading.Lock()

    def parse(self, text: str) -> Parsed:
        if len(text) <= self.max_length:
            split = _split_literals(text)
            if split is not None:
                shape, literals = split
                bound = self._shape(shape)
                if bound is not _UNUSABLE:
                    filled = _fill(bound, literals)  # type: ignore[arg-type]
                    if filled is not None:
                        return filled  # type: ignore[return-value]
        return self.parser(text)

    def _shape(self, shape: str) -> object:
        found = self._shapes.get(shape)
        if found is not None:
            return found
        try:
            found = self.parser(shape)
        except Exception:  # noqa: BLE001 - the real text is parsed again and raises its own error
            found = _UNUSABLE
        with self._lock:
            if len(self._shapes) >= self.size:  # client-chosen keys: keep the memory bounded
                self._shapes.clear()
            self._shapes[shape] = found
        return found


class FilterCache:
    """`parse(text, resource_type)` with the result of `parse_filter`, cheaper on repeats."""

    def __init__(self, catalog: Catalog, *, max_length: int = MAX_LENGTH, size: int = 1024) -> None:
        self.catalog = catalog
        self.max_length = max_length
        self.size = size
        self._by_type: dict[str, ShapeCache[Filter]] = {}

    def parse(self, text: str, resource_type: str) -> Filter:
        cache = self._by_type.get(resource_type)
        if cache is None:
            rt = self.catalog.resource_type(resource_type)
            cache = self._by_type.setdefault(resource_type, ShapeCache(
                lambda text: parse_filter(text, self.catalog, rt, max_length=self.max_length),
                max_length=self.max_length, size=self.size))
        return cache.parse(text)


def parse_path_cached(text: str, catalog: Catalog, resource_type: ResourceType) -> PatchPath:
    """`parse_path` through a shape cache kept with the catalog (PATCH requests repeat paths
    such as `members[value eq "…"]` with a new id each time)."""
    cache = catalog.derived(("patch path shapes", resource_type.name.lower()),
                            lambda: ShapeCache(lambda text: parse_path(text, catalog, resource_type)))
    return cache.parse(text)


def _split_literals(text: str) -> tuple[str, list[str]] | None:
    """(text with the n-th string literal replaced by a placeholder, decoded literals), or None.

    Mirrors the lexer: a quote can only start a string literal (no other token contains one),
    and a literal is exactly what the lexer's pattern matches there.
    """
    if _MARK in text:
        return None
    parts: list[str] = []
    literals: list[str] = []
    position = 0
    while (quote := text.find('"', position)) != -1:
        try:
            token, end = decode_string(text, quote)  # the lexer's own decoding and checks
        except SyntaxProblem:
            return None
        parts.append(text[position:quote])
        parts.append(f'"{_MARK}{len(literals)}"')
        literals.append(token.value)  # type: ignore[arg-type]
        position = end
    parts.append(text[position:])
    return "".join(parts), literals


def _fill(node: Filter | PatchPath, literals: list[str]) -> Filter | PatchPath | None:
    """A copy of the shape's tree with the literals in place, or None if any placeholder was
    altered, dropped or repeated by binding (then the full parse decides)."""
    used: list[int] = []

    def fill(current: Filter) -> Filter:
        if isinstance(current, Compare):
            value = current.value
            if isinstance(value, str) and value.startswith(_MARK):
                index = int(value[1:]) if value[1:].isdigit() else -1
                if not 0 <= index < len(literals):
                    raise LookupError(value)
                used.append(index)
                return Compare(current.path, current.op, literals[index])
            return current
        if isinstance(current, (And, Or)):
            return type(current)(fill(current.left), fill(current.right))
        if isinstance(current, Not):
            return Not(fill(current.expr))
        if isinstance(current, ValuePath):
            return ValuePath(current.path, fill(current.filter))
        assert isinstance(current, Present)
        return current

    try:
        if isinstance(node, PatchPath):
            filled = node if node.filter is None else PatchPath(node.path, fill(node.filter))
        else:
            filled = fill(node)
    except LookupError:
        return None
    if sorted(used) != list(range(len(literals))):
        return None
    return filled
