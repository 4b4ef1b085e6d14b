"""Turn one JSON value sent by a client into the canonical value of an attribute.

POST, PUT and PATCH all go through `coerce_attribute_value`, so a value means the same thing
whichever operation carries it. Decisions (RFC 7643 §2.3 types, plus what real clients send):

- string / reference: a JSON string without NUL characters, at most `MAX_STRING_LENGTH` chars.
- boolean: JSON true/false, or the strings "true"/"false" in any case -- Entra ID's default
  PATCH mode sends `"active": "False"`.
- integer: a JSON integer (not a boolean), or a string of decimal digits with an optional sign,
  for the same reason (Entra stringifies values); limited to the signed 64-bit range every
  storage backend can hold. Floats are rejected, even integral ones.
- decimal: a JSON number (not a boolean), or a numeric string; NaN and infinities are rejected.
- dateTime: an xsd:dateTime string (RFC 7643 §2.3.5), validated and kept exactly as sent.
- binary: a base64 (RFC 4648 §4) string, validated and kept as sent.
- complex: an object; sub-attribute names are matched case-insensitively and canonicalised,
  nulls are dropped, readOnly sub-attributes are ignored (RFC 7644 §3.5.1: "values provided
  SHALL be ignored"), and an unknown sub-attribute is 400 invalidValue (the value does not fit
  the resource schema, RFC 7644 §3.12). A bare scalar given for a complex attribute (or element
  of one) that has a `value` sub-attribute means `{"value": scalar}` (Entra sends `manager` as
  a bare id; `"members": ["id"]` is read the same way).
- A one-element list where a single value is expected is unwrapped (Entra's older manager form).
- "Clear": null, "" for a single-valued simple attribute (Entra clears with an empty string),
  an empty list, or a complex value left empty once nulls are dropped -> None.
- At most one element of a multi-valued attribute may carry `primary: true` (RFC 7643 §2.4).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from datetime import datetime

from ..errors import InvalidValue
from .catalog import (
    BINARY,
    BOOLEAN,
    COMPLEX,
    DATETIME,
    DECIMAL,
    INTEGER,
    READ_ONLY,
    REFERENCE,
    STRING,
    Attribute,
)

MAX_STRING_LENGTH = 64 * 1024
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")
_DECIMAL_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_XSD_DATETIME = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
    r"T(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})(?:\.[0-9]+)?"
    r"(?:Z|[+-](?P<tzh>[0-9]{2}):(?P<tzm>[0-9]{2}))?"
)
_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/]*={0,2}")

_JSON_TYPE_NAMES = {
    bool: "a boolean", int: "a number", float: "a number", str: "a string",
    list: "an array", dict: "an object", type(None): "null",
}


def _describe(value: object) -> str:
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def _wrong_type(path: str, expected: str, value: object) -> InvalidValue:
    return InvalidValue(f"Attribute '{path}' must be {expected}, got {_describe(value)}.")


def _string(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise _wrong_type(path, "a string", value)
    if "\x00" in value:
        raise InvalidValue(f"Attribute '{path}' must not contain NUL characters.")
    if len(value) > MAX_STRING_LENGTH:
        raise InvalidValue(f"Attribute '{path}' is longer than {MAX_STRING_LENGTH} characters.")
    return value


def _boolean(value: object, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _wrong_type(path, "a boolean", value)


def _integer(value: object, path: str) -> int:
    if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value):
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise _wrong_type(path, "an integer", value)
    if not _INT64_MIN <= number <= _INT64_MAX:
        raise InvalidValue(f"Attribute '{path}' is outside the 64-bit integer range.")
    return number


def _decimal(value: object, path: str) -> int | float:
    if isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value):
        number: int | float = float(value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        number = value
    else:
        raise _wrong_type(path, "a decimal number", value)
    if isinstance(number, float) and not math.isfinite(number):
        raise InvalidValue(f"Attribute '{path}' must be a finite decimal number.")
    return number


def _datetime(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise _wrong_type(path, "an xsd:dateTime string", value)
    match = _XSD_DATETIME.fullmatch(value)
    try:
        if match is None:
            raise ValueError(value)
        parts = match.groupdict()
        year, month, day, hour, minute, second = (
            int(parts[k]) for k in ("year", "month", "day", "hour", "minute", "second"))
        datetime(year, month, day, hour, minute, second)
        if parts["tzh"] is not None and (int(parts["tzh"]) > 14 or int(parts["tzm"]) > 59):
            raise ValueError(value)
    except ValueError:
        raise InvalidValue(
            f"Attribute '{path}' must be an xsd:dateTime such as 2024-05-01T12:00:00Z."
        ) from None
    return value


def _binary(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise _wrong_type(path, "a base64 string", value)
    try:
        if not _BASE64_TEXT.fullmatch(value):
            raise ValueError(value)
        base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        raise InvalidValue(f"Attribute '{path}' must be base64-encoded binary data.") from None
    return value


_COERCERS = {
    STRING: _string,
    REFERENCE: _string,
    BOOLEAN: _boolean,
    INTEGER: _integer,
    DECIMAL: _decimal,
    DATETIME: _datetime,
    BINARY: _binary,
}


def coerce_value(attr: Attribute, value: object, *, path: str) -> object:
    """One value of a simple attribute, checked against its type and returned canonical."""
    try:
        coercer = _COERCERS[attr.type]
    except KeyError:
        raise InvalidValue(f"Attribute '{path}' is complex and needs an object.") from None
    return coercer(value, path)


def coerce_complex(attr: Attribute, value: object, *, path: str) -> dict:
    """One value of a complex attribute: canonical sub-attribute names, coerced, nulls dropped."""
    if not isinstance(value, dict):
        if attr.sub_attribute("value") is not None and isinstance(value, (str, int, float)):
            value = {"value": value}
        else:
            raise _wrong_type(path, "an object", value)
    out: dict = {}
    for name, sub_value in value.items():
        sub = attr.sub_attribute(name) if isinstance(name, str) else None
        if sub is None:
            raise InvalidValue(f"Attribute '{path}' has no sub-attribute '{name}'.")
        if sub.mutability == READ_ONLY:
            continue
        if sub.name in out:
            raise InvalidValue(f"Sub-attribute '{path}.{sub.name}' is given more than once.")
        coerced = coerce_attribute_value(sub, sub_value, path=f"{path}.{sub.name}")
        if coerced is not None:
            out[sub.name] = coerced
    return out


def _single(attr: Attribute, value: object, path: str) -> object:
    """A single value of `attr` (simple or complex), or None for "clear"."""
    if isinstance(value, list):
        if len(value) > 1:
            raise InvalidValue(f"Attribute '{path}' is single-valued but got {len(value)} values.")
        value = value[0] if value else None
    if value is None:
        return None
    if attr.type == COMPLEX:
        return coerce_complex(attr, value, path=path) or None
    if value == "":
        return None
    return coerce_value(attr, value, path=path)


def _check_single_primary(elements: list, path: str) -> None:
    primaries = sum(1 for e in elements if isinstance(e, dict) and e.get("primary") is True)
    if primaries > 1:
        raise InvalidValue(
            f"Attribute '{path}' has {primaries} values with primary true; at most one is allowed."
        )


def coerce_attribute_value(attr: Attribute, value: object, *, path: str) -> object:
    """The canonical value of `attr` as sent in a request body or PATCH operation.

    Multi-valued attributes return a list (a lone element is wrapped); complex ones dicts;
    None means "clear the attribute".
    """
    if not attr.multi_valued:
        return _single(attr, value, path)
    if value is None:
        return None
    elements = value if isinstance(value, list) else [value]
    out = []
    for element in elements:
        if isinstance(element, list):
            raise _wrong_type(path, "an array of values", element)
        coerced = _single(attr, element, path)
        if coerced is not None:
            out.append(coerced)
    _check_single_primary(out, path)
    return out or None
