"""Tokens and the operating capabilities on SQL: tenant records, the provisioning log and
rate-limit counters (the tables of schema version 2, tables.py).

Each method is one transaction. A counter hit is one upsert, so workers never lose a hit;
deleting a tenant removes its rows from every table in one transaction.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.dialects import mysql, postgresql, sqlite

from scimflask.model import Token
from scimflask.storage import Storage
from scimflask.storage.capabilities import (
    CounterSupport,
    LogEntry,
    ProvisioningLogSupport,
    Tenant,
    TenantSupport,
)

from .engine import UNAVAILABLE
from .tables import SqlTables
from .values import parse_stamp, stamp

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class SqlOperating(Storage, TenantSupport, ProvisioningLogSupport, CounterSupport):
    """The token, tenant, log and counter methods of `SqlStorage`, which provides `tables`,
    `_transaction()` (a connection in a transaction) and `_write(work)` (`work(connection)` in
    a write transaction, retried on deadlocks).

    A `Storage` itself, so the contract wraps these methods as it wraps the resource methods:
    the driver errors of `base_exceptions` become `StorageUnavailable`.
    """

    base_exceptions = UNAVAILABLE
    tables: SqlTables

    # -- tokens -----------------------------------------------------------------------------
    def add_token(self, token: Token) -> None:
        t = self.tables.tokens

        def work(connection: Connection) -> None:
            connection.execute(delete(t).where(t.c.id == token.id))
            connection.execute(insert(t), {
                "id": token.id, "tenant": token.tenant, "secret_hash": token.secret_hash,
                "created": stamp(token.created), "description": token.description,
                "last_used": _stamp_or_none(token.last_used), "expires": _stamp_or_none(token.expires),
            })

        self._write(work)

    def find_token(self, secret_hash: str) -> Token | None:
        t = self.tables.tokens
        with self._transaction() as connection:
            row = connection.execute(select(t).where(t.c.secret_hash == secret_hash)).first()
        return None if row is None else _token(row)

    def list_tokens(self, tenant: str | None = None) -> list[Token]:
        t = self.tables.tokens
        statement = select(t).order_by(t.c.created, t.c.id)
        if tenant is not None:
            statement = statement.where(t.c.tenant == tenant)
        with self._transaction() as connection:
            return [_token(row) for row in connection.execute(statement)]

    def delete_token(self, token_id: str) -> bool:
        t = self.tables.tokens
        return self._write(lambda connection: connection.execute(
            delete(t).where(t.c.id == token_id)).rowcount == 1)

    def touch_token(self, token_id: str, when: datetime) -> None:
        t = self.tables.tokens
        self._write(lambda connection: connection.execute(
            update(t).where(t.c.id == token_id).values(last_used=stamp(when))))

    def update_token(self, token: Token) -> bool:
        t = self.tables.tokens
        return self._write(lambda connection: connection.execute(
            update(t).where(t.c.id == token.id).values(
                last_used=_stamp_or_none(token.last_used), expires=_stamp_or_none(token.expires),
                description=token.description)).rowcount == 1)

    # -- tenants ----------------------------------------------------------------------------
    def put_tenant(self, tenant: Tenant) -> None:
        t = self.tables.tenants
        fields = {"created": stamp(tenant.created), "disabled": tenant.disabled,
                  "description": tenant.description}
        self._write(lambda connection: connection.execute(
            _upsert(connection, t, {"id": tenant.id, **fields}, [t.c.id], fields)))

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        t = self.tables.tenants
        with self._transaction() as connection:
            row = connection.execute(select(t).where(t.c.id == tenant_id)).first()
        return None if row is None else _tenant(row)

    def list_tenants(self) -> list[Tenant]:
        t = self.tables.tenants
        with self._transaction() as connection:
            return [_tenant(row) for row in connection.execute(select(t).order_by(t.c.created, t.c.id))]

    def delete_tenant(self, tenant_id: str) -> bool:
        """One transaction: dependent rows first, so no foreign key ever points at a gone row."""
        tables = self.tables

        def work(connection: Connection) -> bool:
            for table in (tables.members, tables.values, tables.uniques, tables.resources,
                          tables.tokens, tables.log):
                connection.execute(delete(table).where(table.c.tenant == tenant_id))
            c = tables.counters
            low, high = _key_range(tenant_id)
            connection.execute(delete(c).where(c.c.key >= low, c.c.key < high))
            t = tables.tenants
            return connection.execute(delete(t).where(t.c.id == tenant_id)).rowcount == 1

        return self._write(work)

    # -- provisioning log -------------------------------------------------------------------
    def append_log(self, entry: LogEntry) -> None:
        self.append_logs([entry])

    def append_logs(self, entries: list[LogEntry]) -> None:
        """One transaction and one executemany for a batch (the log writes in batches)."""
        rows = [{
            "tenant": entry.tenant, "id": entry.id, "time": stamp(entry.time), "method": entry.method,
            "path": entry.path, "status": entry.status, "outcome": entry.outcome,
            "token_id": entry.token_id, "resource_type": entry.resource_type,
            "resource_id": entry.resource_id, "detail": entry.detail,
            "changed": json.dumps(list(entry.changed), ensure_ascii=False),
        } for entry in entries]
        if rows:
            self._write(lambda connection: connection.execute(insert(self.tables.log), rows))

    def query_log(self, tenant: str, *, limit: int = 100, before: str | None = None,
                  since: datetime | None = None) -> list[LogEntry]:
        g = self.tables.log
        statement = select(g).where(g.c.tenant == tenant).order_by(g.c.id.desc()).limit(max(limit, 0))
        if before is not None:
            statement = statement.where(g.c.id < before)
        if since is not None:
            statement = statement.where(g.c.time >= stamp(since))
        with self._transaction() as connection:
            return [_log_entry(row) for row in connection.execute(statement)]

    def prune_log(self, tenant: str, *, keep: int | None = None,
                  older_than: datetime | None = None) -> int:
        g = self.tables.log

        def work(connection: Connection) -> int:
            deleted = 0
            if keep is not None:
                statement = delete(g).where(g.c.tenant == tenant)
                if keep > 0:  # everything older than the oldest entry kept goes
                    oldest_kept = connection.execute(
                        select(g.c.id).where(g.c.tenant == tenant).order_by(g.c.id.desc())
                        .offset(keep - 1).limit(1)).scalar()
                    statement = None if oldest_kept is None else statement.where(g.c.id < oldest_kept)
                if statement is not None:
                    deleted += connection.execute(statement).rowcount
            if older_than is not None:
                deleted += connection.execute(delete(g).where(
                    g.c.tenant == tenant, g.c.time < stamp(older_than))).rowcount
            return deleted

        return self._write(work)

    # -- counters ---------------------------------------------------------------------------
    def hit_counter(self, key: str, window_seconds: int, now: datetime) -> int:
        """One upsert on `(key, window_start)`; the first hit of a window also sweeps windows
        that ended before it began (of every key), in its own short transaction."""
        c = self.tables.counters
        start = _window_start(now, window_seconds)
        row = {"key": key, "window_start": start, "window_end": start + window_seconds, "count": 1}

        def work(connection: Connection) -> int:
            upsert = _upsert(connection, c, row, [c.c.key, c.c.window_start], {"count": c.c.count + 1})
            dialect = connection.dialect
            if dialect.name in ("postgresql", "sqlite") and dialect.insert_returning:  # SQLite >= 3.35
                return connection.execute(upsert.returning(c.c.count)).scalar_one()
            # The upsert holds the row's lock (SQLite: the database's) until commit: read it back.
            connection.execute(upsert)
            return connection.execute(select(c.c.count).where(
                c.c.key == key, c.c.window_start == start).with_for_update()).scalar_one()

        count = self._write(work)
        if count == 1:
            self._write(lambda connection: connection.execute(delete(c).where(c.c.window_end < start)))
        return count


def _upsert(connection: Connection, table, row: dict, key_columns: list, changes: dict):
    """INSERT `row`, or apply `changes` to the row with the same key, as one statement."""
    name = connection.dialect.name
    if name in ("postgresql", "sqlite"):
        insert_ = postgresql.insert(table) if name == "postgresql" else sqlite.insert(table)
        return insert_.values(row).on_conflict_do_update(index_elements=key_columns, set_=changes)
    return mysql.insert(table).values(row).on_duplicate_key_update(**changes)


def _stamp_or_none(value: datetime | None) -> str | None:
    return None if value is None else stamp(value)


def _token(row) -> Token:
    return Token(row.id, row.tenant, row.secret_hash, parse_stamp(row.created), row.description,
                 None if row.last_used is None else parse_stamp(row.last_used),
                 None if row.expires is None else parse_stamp(row.expires))


def _tenant(row) -> Tenant:
    return Tenant(row.id, parse_stamp(row.created), bool(row.disabled), row.description)


def _log_entry(row) -> LogEntry:
    return LogEntry(row.id, row.tenant, parse_stamp(row.time), row.method, row.path, row.status,
                    row.outcome, row.token_id, row.resource_type, row.resource_id,
                    tuple(json.loads(row.changed)), row.detail)


def _key_range(tenant_id: str) -> tuple[str, str]:
    """Counter keys of a tenant start with `<tenant>:`: the range [`<tenant>:`, `<tenant>;`)
    under the binary collation of the key column (`;` follows `:`)."""
    return f"{tenant_id}:", f"{tenant_id};"


def _window_start(now: datetime, window_seconds: int) -> int:
    """The epoch second at which the fixed window containing `now` starts."""
    seconds = (now - _EPOCH) // timedelta(seconds=1)
    return seconds // window_seconds * window_seconds
