"""ETags (RFC 7644 §3.14): weak validators derived from the stored version number."""

from __future__ import annotations

import re

from ..errors import PreconditionFailedError

_ETAG = re.compile(r'\s*(W/)?"([^"]*)"\s*')


def etag_for(version: int) -> str:
    return f'W/"{version}"'


def _parse_list(header: str) -> list[str] | None:
    """Opaque tags of an If-Match / If-None-Match header; None means '*'."""
    if header.strip() == "*":
        return None
    tags = []
    for part in header.split(","):
        match = _ETAG.fullmatch(part)
        if match is None:
            # RFC 9110: a malformed list matches nothing; for If-Match that is a 412.
            return []
        tags.append(match.group(2))
    return tags


def expected_version(if_match: str | None) -> int | None:
    """The version a write must find (compare-and-set), from If-Match; None = no check.

    Weak comparison is used, as SCIM's ETags are weak. An If-Match that names several
    versions cannot be a single compare-and-set; only the first numeric one is used.
    """
    if if_match is None:
        return None
    tags = _parse_list(if_match)
    if tags is None:
        return None
    for tag in tags:
        if tag.isdigit() and len(tag) < 19:
            return int(tag)
    raise PreconditionFailedError("If-Match names no current version of this resource")


def not_modified(if_none_match: str | None, version: int) -> bool:
    """Whether a GET with If-None-Match can be answered 304."""
    if if_none_match is None:
        return False
    tags = _parse_list(if_none_match)
    return tags is None or str(version) in tags
