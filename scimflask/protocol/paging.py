"""Index paging (RFC 7644 §3.4.2.4) and cursor paging (RFC 9865) parameters and cursors.

A cursor is opaque to clients and unforgeable: JSON holding the position (a backend keyset, or
an offset for backends without keyset support), the moment it was issued and a hash of the
query it belongs to, signed by itsdangerous (URL-safe: only RFC 3986 unreserved characters).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

from itsdangerous import BadData, URLSafeSerializer

from ..errors import ExpiredCursor, InvalidCursor, InvalidValue
from ..model import Keyset

MAX_CURSOR_LENGTH = 2048
# Larger start indexes name a page past any directory; clamping keeps them within every
# backend's integer range (SQL OFFSET, Redis ranges) and the answer is the same empty page.
MAX_START_INDEX = 2**31 - 1


@dataclass(frozen=True)
class Paging:
    """The paging a request asked for. `cursor` is None for index paging, "" for a first
    cursor page, else the client's cursor text."""

    start_index: int
    count: int
    cursor: str | None


def _int_param(name: str, raw: object) -> int:
    if isinstance(raw, bool):
        raise InvalidValue(f"{name} must be an integer")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str):
        text = raw.strip()
        if text.lstrip("+-").isdigit() and len(text) <= 20:
            return int(text)
    raise InvalidValue(f"{name} must be an integer, not {str(raw)[:40]!r}")


def parse_paging(start_index: object, count: object, cursor: object, *, default_count: int,
                 max_count: int) -> Paging:
    """Clamp as RFC 7644 §3.4.2.4 says: startIndex < 1 means 1, count < 0 means 0, and a count
    above the maximum is lowered to it. A cursor and a startIndex together are ambiguous."""
    if cursor is not None and start_index is not None:
        raise InvalidValue("use either 'startIndex' (index paging) or 'cursor' (cursor paging), not both")
    index = 1 if start_index is None else min(max(1, _int_param("startIndex", start_index)), MAX_START_INDEX)
    size = default_count if count is None else max(0, _int_param("count", count))
    size = min(size, max_count)
    if cursor is not None and not isinstance(cursor, str):
        raise InvalidCursor("cursor must be a string")
    if cursor is not None and size == 0 and count is not None:
        raise InvalidValue("count must be positive with cursor paging", scim_type="invalidCount")
    return Paging(start_index=index, count=size, cursor=cursor)


@dataclass(frozen=True)
class CursorPosition:
    """Where a cursor page starts: after a keyset, or at a 0-based offset."""

    keyset: Keyset | None = None
    offset: int = 0


class CursorCodec:
    """Signs and checks cursors; `timeout` is RFC 9865's cursorTimeout.

    `keys` are secrets newest first: the first signs, every one verifies, so cursors issued
    before a key rotation keep paging. itsdangerous derives the signing key from each secret
    with a salt of its own (HMAC), so a secret shared with the app's sessions never signs
    cursors directly.
    """

    SALT = "scimflask.cursor"

    def __init__(self, keys: Sequence[str | bytes], timeout: int) -> None:
        if not keys:
            raise ValueError("CursorCodec needs at least one key")
        # itsdangerous signs with the last key of its list and verifies with all of them.
        self._serializer = URLSafeSerializer(
            list(reversed(keys)), salt=self.SALT,
            signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256})
        self.timeout = timeout

    @staticmethod
    def query_fingerprint(*parts: object) -> str:
        """A short hash of what defines a result set (tenant, type, filter, sort)."""
        return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()[:16]

    def encode(self, position: CursorPosition, fingerprint: str) -> str:
        body: dict = {"f": fingerprint, "t": int(time.time())}
        if position.keyset is not None:
            body["k"] = [position.keyset.value, position.keyset.id]
        else:
            body["o"] = position.offset
        return self._serializer.dumps(body)

    def decode(self, cursor: str, fingerprint: str) -> CursorPosition:
        if cursor == "":
            return CursorPosition()
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise InvalidCursor("cursor is not one this server issued")
        try:
            body = self._serializer.loads(cursor)
        except BadData:
            raise InvalidCursor("cursor is not one this server issued") from None
        if not isinstance(body, dict) or body.get("f") != fingerprint:
            raise InvalidCursor("cursor belongs to a different query; repeat the same filter and sort")
        if time.time() - body.get("t", 0) > self.timeout:
            raise ExpiredCursor(f"cursor has expired (cursorTimeout is {self.timeout} seconds)")
        if "k" in body:
            value, last_id = body["k"]
            return CursorPosition(keyset=Keyset(value=value, id=last_id))
        return CursorPosition(offset=int(body.get("o", 0)))
