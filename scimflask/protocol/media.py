"""Request bodies: media types and JSON documents, checked before anything reads them (RFC 7644 §3.1, §3.8).

The bytes come from the HTTP layer (`scimflask.views.http.json_object`); this module never sees a request."""

from __future__ import annotations

import json

from ..errors import InvalidSyntax, ScimError
from .messages import SCIM_JSON

# JSON nested deeper than this is refused before Python's recursion limit is near.
MAX_JSON_DEPTH = 64


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def _deeper_than(value: dict | list, limit: int) -> bool:
    """Whether a parsed document nests containers more than `limit` deep.

    Walks containers only (a SCIM body has a few dozen), so it costs far less than scanning
    the text character by character; the C parser itself stops at Python's recursion limit.
    """
    stack: list[tuple[dict | list, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = list(item.values()) if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def is_json_content_type(mimetype: str) -> bool:
    return mimetype in ("", "application/json", SCIM_JSON) or mimetype.endswith("+json")


def check_media_type(mimetype: str) -> None:
    """Refuse (415) a body whose Content-Type is not JSON."""
    if not is_json_content_type(mimetype):
        raise ScimError(f"Content-Type {mimetype!r} is not supported; send {SCIM_JSON} or application/json",
                        status=415, scim_type="invalidSyntax")


def parse_json(raw: bytes) -> object:
    """Parse a request body as JSON, or raise the SCIM error that says what is wrong with it."""
    if not raw.strip():
        raise InvalidSyntax("request body is empty; a JSON object is required")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidSyntax(f"request body is not valid UTF-8 (byte {exc.start})") from None
    try:
        body = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise InvalidSyntax(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:
        raise InvalidSyntax(f"request body is not valid JSON: {exc}") from None
    # Nesting deeper than the limit needs more opening brackets than the limit (counted in C).
    if (isinstance(body, (dict, list)) and text.count("{") + text.count("[") > MAX_JSON_DEPTH
            and _deeper_than(body, MAX_JSON_DEPTH)):
        raise InvalidSyntax(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    if "\\u" in text and _has_lone_surrogate(body):
        # JSON allows "\\ud800" escapes that decode to no Unicode character; nothing downstream
        # (databases, the response encoder) can store or echo them, so refuse them here, once.
        raise InvalidSyntax("request body contains an unpaired UTF-16 surrogate escape")
    return body


def _has_lone_surrogate(value: object) -> bool:
    """Whether any string (key or value) in a parsed JSON document is not valid Unicode."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
