"""Built-in SQL storage plugin: SQLite, PostgreSQL (psycopg 3) and MySQL/MariaDB (PyMySQL)."""

from scimflask import hookimpl

from .storage import SqlStorage

__all__ = ["SqlStorage"]


@hookimpl
def scimflask_register_storage(registry) -> None:
    registry.add(SqlStorage)
