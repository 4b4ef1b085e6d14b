"""Recursive-descent parser for SCIM filters and PATCH paths, binding names as it goes.

Grammar (RFC 7644 §3.4.2.2 Figure 1, with errata 7319's optional space after `not`)::

    FILTER    = attrExp / logExp / valuePath / *1("not" *SP) "(" FILTER ")"
    valuePath = attrPath "[" valFilter "]"        ; valFilter names sub-attributes
    attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
    logExp    = FILTER SP ("and" / "or") SP FILTER  ; not > and > or
    compValue = false / null / true / number / string  ; JSON (RFC 7159)
    PATH      = attrPath / valuePath [subAttr]    ; PATCH (§3.5.2 Figure 7)

plus `valuePath subAttr SP compareOp SP compValue` (`emails[type eq "work"].value eq "x"`,
sent by Entra ID), bound as `ValuePath(emails, And(<filter>, emails.value eq "x"))`.

Keywords (`and`, `or`, `not`, operators, `true`/`false`/`null`) are case-insensitive. A chain
`a or b or c ...` becomes a balanced tree, so long lists of alternatives stay shallow; grouping
depth (parentheses, `not`, brackets) is bounded by `max_depth` and the text by `max_length`.

Binding decisions (each raises InvalidFilter rather than silently matching nothing, as RFC 7644
§3.12 asks for "attribute and filter comparison combination is not supported"):

- unknown attributes are rejected (there is no cross-resource-type query that would need
  "treat as unassigned", §3.4.2.1), as is `schemas`, which is not an attribute of stored data,
  and attributes that are `returned: never` (`password`: a filter on it would be an oracle).
  That holds in a query string and in a SearchRequest alike, so the answer is invalidFilter,
  not §7.5.2's `sensitive` (which tells the client to resend by POST, where it would fail too);
- `attr eq null` is bound as `not (attr pr)` and `attr ne null` as `attr pr` (RFC 7643 §2.5:
  null and unassigned are the same state); other operators cannot take null;
- comparing a multi-valued complex attribute without sub-attribute compares its `value`
  sub-attribute (`emails co "x"` is `emails.value co "x"`); other complex attributes can only
  be tested with `pr`;
- strings, references and binaries take string literals; ordering (`gt`...) is refused on
  booleans and binaries (§3.4.2.2), substring operators (`co`, `sw`, `ew`) on anything but
  strings, references and binaries;
- booleans take `true`/`false` only (no client sends strings there); integer and decimal
  attributes take numbers;
- dateTime attributes take string literals that are valid xsd:dateTime values, with
  eq/ne/gt/ge/lt/le only.

In a PATCH path (§3.5.2, Figure 7) every problem is invalidPath -- a malformed path or filter,
an unknown attribute -- except an unsupported comparison inside its value filter, which is
invalidFilter (§3.12 lists invalidFilter for "PATCH (Path Filter)").
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import InvalidFilter, InvalidPath, InvalidValue
from ..schema.catalog import (
    BINARY,
    BOOLEAN,
    COMPLEX,
    DATETIME,
    DECIMAL,
    INTEGER,
    NEVER,
    REFERENCE,
    STRING,
    AttributeRef,
    Catalog,
    ResourceType,
)
from .ast import (
    COMPARISON_OPERATORS,
    EQ,
    NE,
    ORDERING_OPERATORS,
    SUBSTRING_OPERATORS,
    And,
    AttrPath,
    Compare,
    Filter,
    Literal,
    Not,
    Or,
    Present,
    ValuePath,
)
from .evaluate import parse_datetime
from .lexer import END, LBRACKET, LPAREN, NUMBER, RBRACKET, RPAREN, WORD, Lexeme, Lexer, SyntaxProblem
from .lexer import STRING as STRING_TOKEN
from .path import PatchPath, is_multi_valued_complex, resolve, resolve_sub, to_attr_path

MAX_LENGTH = 10_000
MAX_DEPTH = 50

_OPERATORS_TEXT = "a comparison operator (eq, ne, co, sw, ew, gt, lt, ge, le) or 'pr'"
_LITERALS = {"true": True, "false": False, "null": None}

# Which operators each attribute type supports (besides `pr`, which every type supports).
ALLOWED_OPERATORS: dict[str, frozenset[str]] = {
    STRING: frozenset(COMPARISON_OPERATORS),
    REFERENCE: frozenset(COMPARISON_OPERATORS),
    BINARY: frozenset((EQ, NE, *SUBSTRING_OPERATORS)),
    BOOLEAN: frozenset((EQ, NE)),
    INTEGER: frozenset((EQ, NE, *ORDERING_OPERATORS)),
    DECIMAL: frozenset((EQ, NE, *ORDERING_OPERATORS)),
    DATETIME: frozenset((EQ, NE, *ORDERING_OPERATORS)),
}


class UnsupportedComparison(SyntaxProblem):
    """A well-formed comparison this attribute cannot take (operator or literal type)."""


def parse_filter(text: str, catalog: Catalog, resource_type: ResourceType, *,
                 max_length: int = MAX_LENGTH, max_depth: int = MAX_DEPTH) -> Filter:
    """Parse and bind a filter; raise InvalidFilter saying where and what was expected."""
    try:
        parser = _Parser(text, catalog, resource_type, max_length, max_depth)
        result = parser.filter(None)
        parser.expect_end()
    except SyntaxProblem as problem:
        raise InvalidFilter(f"Invalid filter at position {problem.position}: {problem.message}") from None
    return result


def parse_path(text: str, catalog: Catalog, resource_type: ResourceType, *,
               max_length: int = MAX_LENGTH, max_depth: int = MAX_DEPTH) -> PatchPath:
    """Parse a PATCH path: InvalidPath for a malformed or unknown path, InvalidFilter for an
    unsupported comparison in its value filter."""
    try:
        parser = _Parser(text, catalog, resource_type, max_length, max_depth)
        result = parser.patch_path()
        parser.expect_end()
    except UnsupportedComparison as problem:
        raise InvalidFilter(
            f"Invalid filter in path at position {problem.position}: {problem.message}") from None
    except SyntaxProblem as problem:
        raise InvalidPath(f"Invalid path at position {problem.position}: {problem.message}") from None
    return result


def parse_attr_path(text: str, catalog: Catalog, resource_type: ResourceType) -> AttrPath:
    """Parse a `sortBy` attribute (RFC 7644 §3.4.2.3) into a bound path of a simple value.

    §3.4.2.3 names no error type; RFC 7644 Table 9 lists `invalidValue` for GET requests whose
    parameter value does not fit the attribute, so an unknown or complex attribute raises
    InvalidValue. A multi-valued complex attribute without sub-attribute means its `value`.
    """
    try:
        parser = _Parser(text, catalog, resource_type, MAX_LENGTH, MAX_DEPTH)
        ref = parser.attribute_ref(parser.word("an attribute name"), None)
        parser.expect_end()
    except SyntaxProblem as problem:
        raise InvalidValue(f"Invalid sortBy at position {problem.position}: {problem.message}") from None
    if ref.definition.type == COMPLEX:
        value = ref.attribute.sub_attribute("value") if ref.sub_attribute is None else None
        if not (ref.attribute.multi_valued and value is not None):
            raise InvalidValue(f"Invalid sortBy: {text!r} is complex; name one of its sub-attributes.")
        ref = AttributeRef(ref.schema, ref.attribute, value)
    return to_attr_path(ref)


class _Parser:
    def __init__(self, text: str, catalog: Catalog, resource_type: ResourceType,
                 max_length: int, max_depth: int) -> None:
        if not isinstance(text, str):
            raise SyntaxProblem(1, "expected text")
        if len(text) > max_length:
            raise SyntaxProblem(max_length + 1, f"longer than the limit of {max_length} characters")
        self.lexer = Lexer(text)
        self.catalog = catalog
        self.resource_type = resource_type
        self.max_depth = max_depth
        self.depth = 0

    # -- tokens -------------------------------------------------------------------------
    def fail(self, token: Lexeme, expected: str) -> SyntaxProblem:
        return SyntaxProblem(token.position, f"expected {expected}, found {token.describe()}")

    def expect(self, kind: str, expected: str) -> Lexeme:
        token = self.lexer.peek()
        if token.kind != kind:
            raise self.fail(token, expected)
        return self.lexer.advance()

    def expect_end(self) -> None:
        self.expect(END, "the end of the input ('and', 'or' or a closing bracket are the only "
                         "things that may follow an expression)")

    def word(self, expected: str) -> Lexeme:
        return self.expect(WORD, expected)

    def at_keyword(self, keyword: str) -> bool:
        token = self.lexer.peek()
        return token.kind == WORD and token.text.lower() == keyword

    def enter(self, token: Lexeme) -> None:
        self.depth += 1
        if self.depth > self.max_depth:
            raise SyntaxProblem(token.position, f"nested deeper than the limit of {self.max_depth}")

    def leave(self) -> None:
        self.depth -= 1

    # -- grammar ------------------------------------------------------------------------
    def filter(self, parent: AttributeRef | None) -> Filter:
        return self._chain("or", Or, lambda: self._chain("and", And, lambda: self.unary(parent)))

    def _chain(self, keyword: str, node: Callable[[Filter, Filter], Filter],
               operand: Callable[[], Filter]) -> Filter:
        items = [operand()]
        while self.at_keyword(keyword):
            self.lexer.advance()
            items.append(operand())
        return fold_balanced(node, items)

    def unary(self, parent: AttributeRef | None) -> Filter:
        token = self.lexer.peek()
        if token.kind == WORD and token.text.lower() == "not" and self.lexer.peek(1).kind == LPAREN:
            self.lexer.advance()
            return Not(self.group(parent))
        if token.kind == LPAREN:
            return self.group(parent)
        if token.kind == WORD and token.text.lower() == "not" and not self.is_attribute(token, parent):
            raise self.fail(self.lexer.peek(1), "'(' after 'not'")
        if token.kind == WORD:
            return self.attribute_expression(parent)
        raise self.fail(token, "an attribute name, 'not' or '('")

    def group(self, parent: AttributeRef | None) -> Filter:
        opening = self.expect(LPAREN, "'('")
        self.enter(opening)
        inner = self.filter(parent)
        self.expect(RPAREN, "'and', 'or' or ')'")
        self.leave()
        return inner

    def attribute_expression(self, parent: AttributeRef | None) -> Filter:
        name = self.word("an attribute name")
        ref = self.attribute_ref(name, parent)
        if self.lexer.peek().kind != LBRACKET:
            return self.condition(name, ref)
        if parent is not None:
            raise SyntaxProblem(self.lexer.peek().position,
                                "a value filter '[...]' cannot be nested inside another one")
        inner = self.value_filter(name, ref)
        following = self.lexer.peek()
        if following.kind == WORD and following.text.startswith(".") and not following.spaced:
            self.lexer.advance()
            sub = self.sub_attribute(following, ref)
            return ValuePath(to_attr_path(ref), And(inner, self.condition(following, sub)))
        return ValuePath(to_attr_path(ref), inner)

    def value_filter(self, name: Lexeme, ref: AttributeRef) -> Filter:
        """`[valFilter]` after multi-valued complex `ref`; the brackets are consumed."""
        if ref.sub_attribute is not None or not is_multi_valued_complex(ref.attribute):
            raise SyntaxProblem(name.position, f"{name.text!r} is not a multi-valued complex "
                                               "attribute, so it cannot take a value filter '[...]'")
        opening = self.expect(LBRACKET, "'['")
        self.enter(opening)
        inner = self.filter(ref)
        self.expect(RBRACKET, "'and', 'or' or ']'")
        self.leave()
        return inner

    def is_attribute(self, name: Lexeme, parent: AttributeRef | None) -> bool:
        if parent is not None:
            return resolve_sub(parent, name.text) is not None
        return resolve(self.catalog, self.resource_type, name.text) is not None

    def attribute_ref(self, name: Lexeme, parent: AttributeRef | None, *,
                      queried: bool = True) -> AttributeRef:
        """Bind `name`; a `queried` attribute (filter, sortBy) must not be `returned: never`."""
        if parent is not None:
            ref = resolve_sub(parent, name.text)
            if ref is None:
                raise SyntaxProblem(name.position, f"{name.text!r} is not a sub-attribute of "
                                                   f"{parent.attribute.name!r}")
        elif name.text.lower() == "schemas":
            raise SyntaxProblem(name.position, "'schemas' is not a queryable attribute")
        else:
            ref = resolve(self.catalog, self.resource_type, name.text)
            if ref is None:
                raise SyntaxProblem(name.position, f"unknown attribute {name.text!r} for resource type "
                                                   f"{self.resource_type.name}")
        if queried and NEVER in (ref.attribute.returned, ref.definition.returned):
            raise SyntaxProblem(name.position, f"{name.text!r} is never returned, so it cannot be "
                                               "filtered or sorted on")
        return ref

    def sub_attribute(self, token: Lexeme, parent: AttributeRef) -> AttributeRef:
        ref = resolve_sub(parent, token.text[1:])
        if ref is None:
            raise SyntaxProblem(token.position, f"{token.text[1:]!r} is not a sub-attribute of "
                                                f"{parent.attribute.name!r}")
        return ref

    def condition(self, name: Lexeme, ref: AttributeRef) -> Filter:
        """`pr` or `op value` after attribute `ref`, type-checked against its definition."""
        op_token = self.lexer.peek()
        op = op_token.text.lower() if op_token.kind == WORD else ""
        if op == "pr":
            self.lexer.advance()
            return Present(to_attr_path(ref))
        if op not in COMPARISON_OPERATORS:
            raise self.fail(op_token, _OPERATORS_TEXT)
        self.lexer.advance()
        value_token = self.lexer.peek()
        if value_token.kind in (STRING_TOKEN, NUMBER):
            value: Literal = value_token.value  # type: ignore[assignment]
        elif value_token.kind == WORD and value_token.text.lower() in _LITERALS:
            value = _LITERALS[value_token.text.lower()]
        else:
            raise self.fail(value_token, "a value: a JSON string, number, true, false or null")
        self.lexer.advance()
        return self.bind_comparison(name, ref, op, value, value_token)

    def bind_comparison(self, name: Lexeme, ref: AttributeRef, op: str, value: Literal,
                        value_token: Lexeme) -> Filter:
        path = to_attr_path(ref)
        if value is None:
            if op == EQ:
                return Not(Present(path))
            if op == NE:
                return Present(path)
            raise UnsupportedComparison(value_token.position,
                                        f"null can only be compared with eq or ne, not {op}")
        definition = ref.definition
        if definition.type == COMPLEX:
            value_sub = ref.attribute.sub_attribute("value") if ref.sub_attribute is None else None
            if not (ref.attribute.multi_valued and value_sub is not None):
                raise UnsupportedComparison(name.position, f"{name.text!r} is complex: compare one "
                                                           "of its sub-attributes, or test it with 'pr'")
            ref = AttributeRef(ref.schema, ref.attribute, value_sub)
            path, definition = to_attr_path(ref), value_sub
        if op not in ALLOWED_OPERATORS[definition.type]:
            raise UnsupportedComparison(name.position, f"operator {op!r} is not supported for "
                                                       f"{name.text!r} (type {definition.type})")
        return Compare(path, op, _coerce(definition.type, value, value_token, name))

    # -- PATCH path ---------------------------------------------------------------------
    def patch_path(self) -> PatchPath:
        name = self.word("an attribute path")
        ref = self.attribute_ref(name, None, queried=False)
        if self.lexer.peek().kind != LBRACKET:
            return PatchPath(to_attr_path(ref))
        selector = self.value_filter(name, ref)
        following = self.lexer.peek()
        if following.kind == WORD and following.text.startswith(".") and not following.spaced:
            self.lexer.advance()
            ref = self.sub_attribute(following, ref)
        return PatchPath(to_attr_path(ref), selector)


def fold_balanced(node: Callable[[Filter, Filter], Filter], items: list[Filter]) -> Filter:
    """Fold `items` into a tree of depth log2(n); the left half takes the odd item."""
    if len(items) == 1:
        return items[0]
    middle = (len(items) + 1) // 2
    return node(fold_balanced(node, items[:middle]), fold_balanced(node, items[middle:]))


def _coerce(attribute_type: str, value: Literal, token: Lexeme, name: Lexeme) -> Literal:
    """The literal as the attribute's type needs it, or a SyntaxProblem at the literal."""
    def mismatch(expected: str) -> SyntaxProblem:
        return UnsupportedComparison(token.position, f"{name.text!r} is of type {attribute_type}: "
                                                     f"expected {expected}, found {token.describe()}")

    if attribute_type in (STRING, REFERENCE, BINARY):
        if not isinstance(value, str):
            raise mismatch("a string literal")
        return value
    if attribute_type == BOOLEAN:
        if not isinstance(value, bool):
            raise mismatch("true or false")
        return value
    if attribute_type in (INTEGER, DECIMAL):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise mismatch("a number")
        return value
    if attribute_type == DATETIME:
        if not isinstance(value, str) or parse_datetime(value) is None:
            raise mismatch('a dateTime string such as "2011-05-13T04:42:34Z"')
        return value
    raise mismatch("a comparable value")
