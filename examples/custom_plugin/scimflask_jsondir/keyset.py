"""Keyset positions in the reference order, so RFC 9865 cursors resume after a row.

A keyset is the last row's sort value and id. scimflask carries it inside a signed cursor as
JSON, so values are kept in a JSON-friendly form that orders like the original: strings,
numbers and booleans as they are, dateTimes as fixed-width UTC strings.
"""

from __future__ import annotations

from datetime import datetime, timezone

from scimflask.model import Keyset
from scimflask.storage import StaleKeyset


def position(key: tuple) -> tuple:
    """A reference `sort_key` (`(0, value)` or `(1,)` when missing) in JSON-friendly form."""
    if len(key) == 1:
        return key
    value = key[1]
    if isinstance(value, datetime):
        value = value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return (0, value)


def keyset_of(key: tuple, id: str) -> Keyset:
    pos = position(key)
    return Keyset(value=pos[1] if len(pos) > 1 else None, id=id)


def start_after(rows: list[tuple[tuple, str]], keyset: Keyset, descending: bool) -> int:
    """Index of the first `(position, id)` row, in query order, strictly after `keyset`."""
    mark = (1,) if keyset.value is None else (0, keyset.value)
    try:
        for index, (pos, id) in enumerate(rows):
            if pos == mark:
                if id > keyset.id:  # ties are ordered by id ascending in both directions
                    return index
            elif (pos < mark) == descending:
                return index
    except TypeError:  # a value of another attribute's type: not a cursor of this query
        raise StaleKeyset("the keyset does not fit this query's sort order") from None
    return len(rows)
