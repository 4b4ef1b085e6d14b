"""The reference order of a query, and keyset positions in it (RFC 9865 cursors)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from scimflask.filter.evaluate import parse_datetime
from scimflask.filter.path import definition_of
from scimflask.filter.sort import sort_key
from scimflask.model import Keyset, Sort
from scimflask.schema.catalog import DATETIME, Catalog, ResourceType
from scimflask.storage import StaleKeyset

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MICROSECOND = timedelta(microseconds=1)


def created_key(key: tuple) -> tuple:
    """The reference key of `meta.created` (`(0, aware datetime)` or `(1,)`) with the instant
    as integer microseconds: same order, but ints compare far faster than aware datetimes."""
    return key if len(key) == 1 else (0, (key[1] - EPOCH) // MICROSECOND)


class Ordering:
    """Orders rows exactly as `scimflask.filter.sort.sort_documents` does: by the reference
    `sort_key` (reversed when descending), ties by `id` ascending. Rows of the default order
    carry `created_key`s (see `Tenant.created`)."""

    def __init__(self, sort: Sort | None, resource_type: ResourceType, catalog: Catalog) -> None:
        self.sort = sort
        self.resource_type = resource_type
        self.catalog = catalog
        self.descending = sort is not None and sort.descending
        self._datetimes = sort is None or definition_of(catalog, resource_type, sort.path).type == DATETIME

    def key(self, document: dict) -> tuple:
        return sort_key(document, self.sort, self.resource_type, self.catalog)

    def sort_rows(self, rows: list[tuple[tuple, str]]) -> None:
        """Sort `(key, id)` rows in place into the query's order."""
        if not self.descending:
            rows.sort()  # key, then id: one pass (keys of one attribute are mutually comparable)
            return
        rows.sort(key=lambda row: row[1])
        rows.sort(key=lambda row: row[0], reverse=True)

    def keyset(self, key: tuple, id: str) -> Keyset:
        """The JSON-serialisable position of a row: its sort value (None if missing) and id."""
        value = key[1] if len(key) > 1 else None
        if self.sort is None and value is not None:  # a `created_key`
            value = EPOCH + value * MICROSECOND
        if isinstance(value, datetime):
            value = value.isoformat()
        return Keyset(value=value, id=id)

    def start_after(self, keyset: Keyset, rows: list[tuple[tuple, str]]) -> int:
        """Index of the first of the sorted `rows` that lies strictly after `keyset`, found by
        bisection ("after" is false then true along the order)."""
        value = keyset.value
        if self._datetimes and value is not None:
            value = parse_datetime(value)
        position = (1,) if value is None else (0, value)
        if self.sort is None:
            position = created_key(position)
        low, high = 0, len(rows)
        try:
            while low < high:
                middle = (low + high) // 2
                key, id = rows[middle]
                if key == position:
                    after = id > keyset.id
                else:
                    after = (key < position) == self.descending
                if after:
                    high = middle
                else:
                    low = middle + 1
        except TypeError:  # a position of another sort attribute's type
            raise StaleKeyset("the keyset does not fit this query's sort order") from None
        return low
