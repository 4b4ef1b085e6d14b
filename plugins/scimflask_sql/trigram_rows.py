"""MySQL/MariaDB: the `trigrams` rows of a resource, written in the transaction that writes its
`values` rows (writes.py) and built for existing rows by the schema step (substring_schema.py).

One row per (resource, indexed attribute, trigram of any of the attribute's values): a
multi-valued attribute (`emails.value`) has one set for all its values, since a candidate is
a resource and the LIKE on its `values` rows decides per value. A write replaces the rows of
the attributes whose `values` rows it replaces (`RowDiff`), so a PATCH of `title` touches none.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, bindparam, delete, insert

from scimflask.storage.substring import trigrams

from .statements import Statements, chunks
from .substring import INDEXED
from .tables import SqlTables


def trigram_rows(tenant: str, resource_id: str, value_rows: Iterable[dict]) -> list[dict]:
    """The `trigrams` rows of `value_rows` (rows of one resource, from values.py)."""
    grams: dict[str, set[str]] = {}
    for row in value_rows:
        field = INDEXED.get((row["attr"], row["sub"]))
        if field is not None and row["key"] is not None:
            grams.setdefault(field, set()).update(trigrams(row["key"]))
    return [{"tenant": tenant, "field": field, "trigram": gram, "resource_id": resource_id}
            for field in sorted(grams) for gram in sorted(grams[field])]


def indexed_fields(attrs: Iterable[str]) -> list[str]:
    """The indexed fields of the top-level attributes `attrs` (values.attr texts)."""
    wanted = set(attrs)
    return sorted(field for (attr, _), field in INDEXED.items() if attr in wanted)


class TrigramRows:
    """The statements that keep one resource's `trigrams` rows in step with its values."""

    def __init__(self, tables: SqlTables, statements: Statements) -> None:
        self.tables = tables
        self.statements = statements

    def replace(self, connection: Connection, tenant: str, resource_id: str, gone: Iterable[str],
                new_rows: list[dict]) -> None:
        """The rows of the attributes `gone` (values.attr texts) go; those of `new_rows` come."""
        fields = indexed_fields(gone)
        if fields:
            t = self.tables.trigrams
            statement = self.statements.cached(("trigrams_delete",), lambda: delete(t).where(
                t.c.tenant == bindparam("tenant"), t.c.resource_id == bindparam("rid"),
                t.c.field.in_(bindparam("fields", expanding=True))))
            connection.execute(statement, {"tenant": tenant, "rid": resource_id, "fields": fields})
        self.insert(connection, trigram_rows(tenant, resource_id, new_rows))

    def insert(self, connection: Connection, rows: list[dict]) -> None:
        statement = self.statements.cached(("trigrams_insert",), lambda: insert(self.tables.trigrams))
        for chunk in chunks(rows):
            connection.execute(statement, chunk)

    def clear(self, connection: Connection, tenant: str, resource_id: str) -> None:
        t = self.tables.trigrams
        connection.execute(delete(t).where(t.c.tenant == tenant, t.c.resource_id == resource_id))
