"""Built statements kept by shape, and the helpers the statement builders share.

A statement is built once per shape (compile.py says what a filter's shape is) with the tenant
and every literal as bind parameters, and kept in the storage's `Statements`: SQLAlchemy's
compiled cache then serves it, instead of expressions being rebuilt per request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Select, Table, bindparam, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeEngine

CHUNK = 500          # ids per IN (...) list: well under every driver's parameter limit
ARRAY_CHUNK = 5000   # PostgreSQL: rows per statement when they travel as one array per column
STATEMENTS = 1024    # built statements kept per storage, by shape


class Statements:
    """Built statements by shape (a tuple). Beyond `limit` the oldest goes: filters come from
    clients, so their shapes are not a bounded set."""

    def __init__(self, limit: int = STATEMENTS) -> None:
        self.limit = limit
        self._built: dict[tuple, Any] = {}

    def cached(self, key: tuple, build: Callable[[], Any]) -> Any:
        """The statement kept under `key`, built by `build()` on first use."""
        statement = self._built.get(key)
        if statement is None:
            statement = build()
            self._remember(key, statement)
        return statement

    def _remember(self, key: tuple, statement: Any) -> None:
        built = self._built
        if len(built) >= self.limit:
            try:
                del built[next(iter(built))]
            except (KeyError, StopIteration, RuntimeError):
                pass  # another thread evicted it first
        built[key] = statement

    def __iter__(self) -> Iterator[tuple]:
        """The shapes kept (a snapshot)."""
        return iter(list(self._built))


def chunks(items: list, size: int = CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# -- PostgreSQL: many rows as one array per column --------------------------------------------
def unnested(columns: Sequence[tuple[str, TypeEngine]], prefix: str = "") -> Select:
    """PostgreSQL: `SELECT unnest(:<prefix><name>) AS <name>, …`, the rows a statement reads
    from one array parameter per column (`column_arrays`). One statement on the server whatever
    the count, where an executemany is one INSERT per row (~50 ms for 100 members)."""
    return select(*[func.unnest(bindparam(prefix + name, type_=postgresql.ARRAY(kind))).label(name)
                    for name, kind in columns])


def column_arrays(rows: Sequence[dict], names: Sequence[str], prefix: str = "") -> dict[str, list]:
    """The parameters of `unnested`: one list per column, in row order."""
    return {prefix + name: [row[name] for row in rows] for name in names}


def copy_rows(connection: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple]) -> None:
    """PostgreSQL: COPY `rows` (tuples of `columns`) into `table`, FROM STDIN on psycopg's
    cursor, inside the connection's transaction. SQLAlchemy has no COPY; psycopg formats each
    row in C, which costs less than half the client CPU of an INSERT of one array per column
    (whose text arrays it quotes element by element). A driver error leaves as SQLAlchemy's,
    as from any other statement (a lost connection invalidated), so that retries and
    StorageUnavailable see it."""
    quote = connection.dialect.identifier_preparer.quote
    statement = (f"COPY {connection.dialect.identifier_preparer.format_table(table)} "
                 f"({', '.join(map(quote, columns))}) FROM STDIN")
    dbapi_error = connection.dialect.loaded_dbapi.Error
    cursor = connection.connection.driver_connection.cursor()
    try:
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except dbapi_error as exc:
        lost = connection.dialect.is_disconnect(exc, connection.connection, cursor)
        if lost:
            connection.invalidate(exc)
        raise DBAPIError.instance(statement, None, exc, dbapi_error, connection_invalidated=lost,
                                  dialect=connection.dialect) from exc
    finally:
        cursor.close()
