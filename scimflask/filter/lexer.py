"""Tokens of the filter and path grammars (RFC 7644 §3.4.2.2 Figure 1, §3.5.2 Figure 7).

Every token keeps its 1-based character position so that errors can say where the text went
wrong ("position 17: expected ..."). The lexer knows nothing about keywords: `and`, `eq` or
`not` are plain words until the parser sees them where a keyword may stand, so an attribute
may be called `not` without confusing anything.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

WORD = "word"
STRING = "string"
NUMBER = "number"
LPAREN = "("
RPAREN = ")"
LBRACKET = "["
RBRACKET = "]"
END = "end of input"

# attrPath characters: ATTRNAME is ALPHA *(ALPHA / DIGIT / "-" / "_"), plus "$" for "$ref"
# (RFC 7643 §2.1); URN prefixes add ":" and "."; "." also separates sub-attributes.
_WORD = re.compile(r"[A-Za-z$.][A-Za-z0-9_$:.\-]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"')
_SPACE = re.compile(r"[ \t\r\n]+")
_DELIMITERS = frozenset(" \t\r\n()[]")
_INT64_LIMIT = 2**63  # integers must fit a signed 64-bit column in every backend


class SyntaxProblem(Exception):
    """Raised by lexer and grammar; the caller turns it into InvalidFilter or InvalidPath."""

    def __init__(self, position: int, message: str) -> None:
        super().__init__(f"position {position}: {message}")
        self.position = position
        self.message = message


@dataclass(frozen=True)
class Lexeme:
    """One lexical unit of a filter: its kind, its text as written and where it starts."""

    kind: str
    text: str
    position: int  # 1-based
    value: object = None
    spaced: bool = False  # whitespace precedes this token

    def describe(self) -> str:
        if self.kind == END:
            return "the end of the input"
        shown = self.text if len(self.text) <= 40 else self.text[:37] + "..."
        return repr(shown)


class Lexer:
    """Produces tokens on demand, with look-ahead, so errors surface where the parser stands."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._index = 0
        self._ahead: list[Lexeme] = []

    def peek(self, offset: int = 0) -> Lexeme:
        while len(self._ahead) <= offset:
            self._ahead.append(self._scan())
        return self._ahead[offset]

    def advance(self) -> Lexeme:
        token = self.peek()
        self._ahead.pop(0)
        return token

    def _scan(self) -> Lexeme:
        text, index = self.text, self._index
        space = _SPACE.match(text, index)
        spaced = space is not None
        if space:
            index = space.end()
        position = index + 1
        if index >= len(text):
            self._index = index
            return Lexeme(END, "", position, spaced=spaced)
        char = text[index]
        if char in "()[]":
            token, index = Lexeme(char, char, position, spaced=spaced), index + 1
        elif char == '"':
            token, index = decode_string(text, index, spaced)
        elif char == "-" or char.isdigit():
            token, index = _number(text, index, spaced)
        elif (match := _WORD.match(text, index)) is not None:
            token, index = Lexeme(WORD, match.group(), position, spaced=spaced), match.end()
        else:
            raise SyntaxProblem(position, f"unexpected character {char!r}")
        self._index = index
        return token


def decode_string(text: str, index: int, spaced: bool = False) -> tuple[Lexeme, int]:
    """The JSON string literal that starts at `text[index]` as a STRING token, and the index after it.

    Public because the filter cache must cut literals out of a text exactly as the lexer reads
    them. Raises `SyntaxProblem` for a malformed literal or one holding an unpaired surrogate.
    """
    match = _STRING.match(text, index)
    if match is None:
        raise SyntaxProblem(index + 1, "unterminated or malformed JSON string literal")
    raw = match.group()
    value = json.loads(raw)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise SyntaxProblem(index + 1, "string literal contains an unpaired surrogate") from None
    return Lexeme(STRING, raw, index + 1, value, spaced), match.end()


def _number(text: str, index: int, spaced: bool) -> tuple[Lexeme, int]:
    match = _NUMBER.match(text, index)
    end = match.end() if match else index
    if match is None or not match.group() or (end < len(text) and text[end] not in _DELIMITERS):
        raise SyntaxProblem(index + 1, "malformed number (expected a JSON number)")
    raw = match.group()
    value: int | float
    if any(c in raw for c in ".eE"):
        value = float(raw)
        if not math.isfinite(value):
            raise SyntaxProblem(index + 1, f"number {raw} is out of range")
    else:
        value = int(raw) if len(raw) <= 20 else _INT64_LIMIT
        if not -_INT64_LIMIT <= value < _INT64_LIMIT:
            raise SyntaxProblem(index + 1, f"integer {raw} is out of the 64-bit range")
    return Lexeme(NUMBER, raw, index + 1, value, spaced), end
