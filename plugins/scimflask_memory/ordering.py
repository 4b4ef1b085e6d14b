"""The reference order of a query, and keyset positions in it (RFC 9865 cursors)."""

from __future__ import annotations

from datetime import datetime

from scimflask.errors import InvalidCursor
from scimflask.filter.evaluate import parse_datetime
from scimflask.filter.path import definition_of
from scimflask.filter.sort import sort_key
from scimflask.model import Keyset, Resource, Sort
from scimflask.schema.catalog import DATETIME, Catalog, ResourceType


class Ordering:
    """Orders rows exactly as `scimflask.filter.sort.sort_documents` does: by the reference
    `sort_key` (reversed when descending), ties by `id` ascending."""

    def __init__(self, sort: Sort | None, resource_type: ResourceType, catalog: Catalog) -> None:
        self.sort = sort
        self.resource_type = resource_type
        self.catalog = catalog
        self.descending = sort is not None and sort.descending
        self._datetimes = sort is None or definition_of(catalog, resource_type, sort.path).type == DATETIME

    def key(self, document: dict) -> tuple:
        return sort_key(document, self.sort, self.resource_type, self.catalog)

    def sort_rows(self, rows: list[tuple[tuple, Resource]]) -> None:
        """Sort `(key, resource)` rows in place into the query's order."""
        rows.sort(key=lambda row: row[1].id)
        rows.sort(key=lambda row: row[0], reverse=self.descending)

    def keyset(self, key: tuple, id: str) -> Keyset:
        """The JSON-serialisable position of a row: its sort value (None if missing) and id."""
        value = key[1] if len(key) > 1 else None
        if isinstance(value, datetime):
            value = value.isoformat()
        return Keyset(value=value, id=id)

    def start_after(self, keyset: Keyset, rows: list[tuple[tuple, Resource]]) -> int:
        """Index of the first of the sorted `rows` that lies strictly after `keyset`."""
        value = keyset.value
        if self._datetimes and value is not None:
            value = parse_datetime(value)
        position = (1,) if value is None else (0, value)
        try:
            for index, (key, resource) in enumerate(rows):
                if key == position:
                    if resource.id > keyset.id:
                        return index
                elif (key < position) == self.descending:
                    return index
        except TypeError:  # a position of another sort attribute's type
            raise InvalidCursor("The cursor does not fit this query's sort order.") from None
        return len(rows)
