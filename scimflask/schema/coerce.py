"""Turn one JSON value sent by a client into the canonical value of an attribute.

POST, PUT and PATCH all go through `coerce_attribute_value`, so a value means the same thing
whichever operation carries it. The shape of a value must match its definition (RFC 7643 §2.3,
§2.4): a multi-valued attribute takes an array, a single-valued one never does, a complex one
takes an object. A mismatch is 400 invalidValue naming the attribute and the expected shape;
the tolerances of `tolerances.py` are the only exceptions, and only while `ValueRules` allows
them. Per type:

- string / reference: a JSON string without NUL characters, at most `MAX_STRING_LENGTH` chars.
- boolean: JSON true/false (the strings "true"/"false" only under `boolean-strings`).
- integer: a JSON integer (not a boolean, not a float, not a string) in the signed 64-bit range
  every storage backend can hold.
- decimal: a JSON number (not a boolean); NaN and infinities are rejected.
- dateTime: an xsd:dateTime string (RFC 7643 §2.3.5), validated and kept exactly as sent.
- binary: a base64 (RFC 4648 §4) string, validated and kept as sent.
- complex: an object; sub-attribute names are matched case-insensitively and canonicalised,
  nulls are dropped, readOnly sub-attributes are ignored (RFC 7644 §3.5.1: "values provided
  SHALL be ignored"), and an unknown sub-attribute is 400 invalidValue (the value does not fit
  the resource schema, RFC 7644 §3.12).
- "Clear" (RFC 7643 §2.5: null, unassigned and an empty array are the same state): null, an
  empty array for a multi-valued attribute, or a complex value left empty once nulls are
  dropped -> None; `""` too for a single-valued attribute under `empty-string-clears`.
- A multi-valued attribute holds at most `ValueRules.max_multi_values` elements (Group
  `members` are exempt: callers pass `bounded=False`), and at most one element may carry
  `primary: true` (RFC 7643 §2.4).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
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
from .tolerances import (
    BOOLEAN_STRINGS,
    EMPTY_STRING_CLEARS,
    MANAGER,
    MANAGER_BARE_ID,
    MANAGER_IN_LIST,
    Compatibility,
)

MAX_STRING_LENGTH = 64 * 1024
DEFAULT_MAX_MULTI_VALUES = 100
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

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
_EXPECTED = {
    STRING: "a string", REFERENCE: "a string", BOOLEAN: "a boolean", INTEGER: "an integer",
    DECIMAL: "a decimal number", DATETIME: "an xsd:dateTime string", BINARY: "a base64 string",
    COMPLEX: "an object",
}


@dataclass(frozen=True)
class ValueRules:
    """How strictly request values are read: the tolerances in force and the multi-value bound.

    Built once per app from SCIM_COMPATIBILITY and SCIM_MAX_MULTI_VALUES; the defaults are the
    configuration defaults.
    """

    compatibility: Compatibility = field(default_factory=Compatibility)
    max_multi_values: int = DEFAULT_MAX_MULTI_VALUES

    def allows(self, tolerance: str) -> bool:
        return self.compatibility.allows(tolerance)


DEFAULT_RULES = ValueRules()


def _describe(value: object) -> str:
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def _wrong_type(path: str, expected: str, value: object) -> InvalidValue:
    return InvalidValue(f"Attribute '{path}' must be {expected}, got {_describe(value)}.")


def too_many_values(path: str, count: int, rules: ValueRules) -> InvalidValue:
    """The error for a multi-valued attribute over the bound (also checked after PATCH)."""
    return InvalidValue(f"Attribute '{path}' has {count} values; at most {rules.max_multi_values} "
                        "are allowed.")


def _string(value: object, path: str, rules: ValueRules) -> str:
    if not isinstance(value, str):
        raise _wrong_type(path, "a string", value)
    if "\x00" in value:
        raise InvalidValue(f"Attribute '{path}' must not contain NUL characters.")
    if len(value) > MAX_STRING_LENGTH:
        raise InvalidValue(f"Attribute '{path}' is longer than {MAX_STRING_LENGTH} characters.")
    return value


def _boolean(value: object, path: str, rules: ValueRules) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false") and rules.allows(BOOLEAN_STRINGS):
        return value.lower() == "true"
    raise _wrong_type(path, "a boolean", value)


def _integer(value: object, path: str, rules: ValueRules) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _wrong_type(path, "an integer", value)
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise InvalidValue(f"Attribute '{path}' is outside the 64-bit integer range.")
    return value


def _decimal(value: object, path: str, rules: ValueRules) -> int | float:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise _wrong_type(path, "a decimal number", value)
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidValue(f"Attribute '{path}' must be a finite decimal number.")
    return value


def _datetime(value: object, path: str, rules: ValueRules) -> str:
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


def _binary(value: object, path: str, rules: ValueRules) -> str:
    if not isinstance(value, str):
        raise _wrong_type(path, "a base64 string", value)
    try:
        if not _BASE64_TEXT.fullmatch(value):
            raise ValueError(value)
        base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        raise InvalidValue(f"Attribute '{path}' must be base64-encoded binary data.") from None
    return value


_COERCERS: dict[str, Callable[[object, str, ValueRules], object]] = {
    STRING: _string,
    REFERENCE: _string,
    BOOLEAN: _boolean,
    INTEGER: _integer,
    DECIMAL: _decimal,
    DATETIME: _datetime,
    BINARY: _binary,
}


def coerce_value(attr: Attribute, value: object, *, path: str,
                 rules: ValueRules = DEFAULT_RULES) -> object:
    """One value of a simple attribute, checked against its type and returned canonical."""
    try:
        coercer = _COERCERS[attr.type]
    except KeyError:
        raise InvalidValue(f"Attribute '{path}' is complex and needs an object.") from None
    return coercer(value, path, rules)


def coerce_complex(attr: Attribute, value: object, *, path: str,
                   rules: ValueRules = DEFAULT_RULES) -> dict:
    """One value of a complex attribute: canonical sub-attribute names, coerced, nulls dropped."""
    if not isinstance(value, dict):
        if path == MANAGER and isinstance(value, str) and rules.allows(MANAGER_BARE_ID):
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
        coerced = coerce_attribute_value(sub, sub_value, path=f"{path}.{sub.name}", rules=rules)
        if coerced is not None:
            out[sub.name] = coerced
    return out


def clears(value: object, rules: ValueRules) -> bool:
    """Whether a value sent for a single-valued attribute means "clear it"."""
    return value is None or (value == "" and rules.allows(EMPTY_STRING_CLEARS))


def _unwrap_single(value: object, path: str, rules: ValueRules) -> object:
    """The value itself; a one-element array only where `manager-in-list` applies."""
    if isinstance(value, list) and len(value) == 1 and path == MANAGER and rules.allows(MANAGER_IN_LIST):
        return value[0]
    return value


def _single(attr: Attribute, value: object, path: str, rules: ValueRules) -> object:
    """A single value of `attr` (simple or complex), or None for "clear"."""
    value = _unwrap_single(value, path, rules)
    if isinstance(value, list):
        raise InvalidValue(f"Attribute '{path}' is single-valued and must be "
                           f"{_EXPECTED.get(attr.type, 'a single value')}, got an array.")
    if clears(value, rules):
        return None
    if attr.type == COMPLEX:
        return coerce_complex(attr, value, path=path, rules=rules) or None
    return coerce_value(attr, value, path=path, rules=rules)


def coerce_element(attr: Attribute, value: object, *, path: str,
                   rules: ValueRules = DEFAULT_RULES) -> object:
    """One element of multi-valued `attr` (None: an element with nothing in it)."""
    if isinstance(value, list):
        raise InvalidValue(f"Attribute '{path}' takes one element here, an object, not an array.")
    if value is None:
        return None
    if attr.type == COMPLEX:
        if not isinstance(value, dict):
            raise InvalidValue(f"Each value of '{path}' must be an object, got {_describe(value)}.")
        return coerce_complex(attr, value, path=path, rules=rules) or None
    return coerce_value(attr, value, path=path, rules=rules)


def _check_single_primary(elements: list, path: str) -> None:
    primaries = sum(1 for e in elements if isinstance(e, dict) and e.get("primary") is True)
    if primaries > 1:
        raise InvalidValue(
            f"Attribute '{path}' has {primaries} values with primary true; at most one is allowed."
        )


def _multi(attr: Attribute, value: object, path: str, rules: ValueRules, bounded: bool) -> list | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise InvalidValue(f"Attribute '{path}' is multi-valued and must be an array, "
                           f"got {_describe(value)}.")
    if bounded and len(value) > rules.max_multi_values:
        raise too_many_values(path, len(value), rules)
    out = []
    for element in value:
        if isinstance(element, list):
            raise _wrong_type(path, "an array of values", element)
        coerced = coerce_element(attr, element, path=path, rules=rules)
        if coerced is not None:
            out.append(coerced)
    _check_single_primary(out, path)
    return out or None


def coerce_attribute_value(attr: Attribute, value: object, *, path: str,
                           rules: ValueRules = DEFAULT_RULES, bounded: bool = True) -> object:
    """The canonical value of `attr` as sent in a request body or PATCH operation.

    Multi-valued attributes return a list, complex ones dicts; None means "clear the
    attribute". `bounded=False` lifts the element bound (Group members have their own limits).
    """
    if attr.multi_valued:
        return _multi(attr, value, path, rules, bounded)
    return _single(attr, value, path, rules)
