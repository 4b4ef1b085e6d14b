"""Tokens and the operating capabilities on SQL: tenant records, the provisioning log and
rate-limit counters (the tables of schema versions 2, 3, 5 and 6, tables.py).

Each method is one transaction. A counter hit is one upsert, so workers never lose a hit;
deleting a tenant removes its rows from every table in one transaction.

A log entry's words (`LogEntry.words`) are kept per identity (`log_identity_words`) under a
key this process assigned the identity (`IdentityKeys`), which the entry's row names: a batch
writes the words of the identities whose key is new or no longer trusted stored, skipping the
rows already there, in the transaction that writes its entries. Pruning collects the words of
keys it leaves without entries, once their newest entry is old enough that no process still
trusts them stored. The text search reads them (`_log_statement`).

The log's hourly counters are rows of `counters` too, keyed `<tenant>:~log:<hour>:<name>` (the
hour zero-padded, so one tenant's hours from a given one on are one key range) and stored with
the entries they count, in the same transaction. Their `window_end` is NEVER, so the sweep of
rate-limit windows leaves them alone; `prune_log(older_than=...)` and `delete_tenant` remove
them (a counter key starting with `<tenant>:` belongs to the tenant).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from sqlalchemy import (
    Connection,
    Table,
    and_,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite

from scimflask.model import Token
from scimflask.storage import Storage, StorageUnavailable
from scimflask.storage.capabilities import (
    CounterSupport,
    LogEntry,
    LogHour,
    LogQuery,
    ProvisioningLogSupport,
    Tenant,
    TenantSupport,
    hour_number,
)
from scimflask.storage.log_words import MAX_WORDS, IdentityKeys, KeyedEntry

from .engine import UNAVAILABLE
from .statements import copy_rows
from .tables import SqlTables
from .values import parse_stamp, stamp

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# The `window_end` of the log's hourly counters: after every window the rate limiter sweeps.
NEVER = 2 ** 62
_LOG_HOURS = ":~log:"
_HOUR_DIGITS = 10
MAX_COUNTER_NAME = 100
_LAST = "\U0010ffff"  # the highest code point: above every word that starts with a prefix
# Entries holding a word with a given prefix past which walking the log newest first (and
# checking each entry's words) finds a page sooner than listing every such entry does.
COMMON_WORD = 2_000
COLLECT_BATCH = 500  # identity keys per statement collecting words pruning left unused


class SqlOperating(Storage, TenantSupport, ProvisioningLogSupport, CounterSupport):
    """The token, tenant, log and counter methods of `SqlStorage`, which provides `tables`,
    `_transaction()` (a connection in a transaction) and `_write(work)` (`work(connection)` in
    a write transaction, retried on deadlocks).

    A `Storage` itself, so the contract wraps these methods as it wraps the resource methods:
    the driver errors of `base_exceptions` become `StorageUnavailable`.
    """

    base_exceptions = UNAVAILABLE
    tables: SqlTables
    identity_keys: IdentityKeys

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
                          tables.tokens, tables.identity_words, tables.log):
                connection.execute(delete(table).where(table.c.tenant == tenant_id))
            c = tables.counters
            low, high = _key_range(tenant_id)
            connection.execute(delete(c).where(c.c.key >= low, c.c.key < high))
            t = tables.tenants
            return connection.execute(delete(t).where(t.c.id == tenant_id)).rowcount == 1

        try:
            return self._write(work)
        finally:
            self.identity_keys.forget(tenant_id)

    # -- provisioning log -------------------------------------------------------------------
    def append_log(self, entry: LogEntry) -> None:
        self.append_logs([entry])

    def append_logs(self, entries: list[LogEntry]) -> None:
        """One transaction for a batch (the log writes in batches): the entries, the words of
        the identities whose key is new or no longer trusted stored (`IdentityKeys`; those of
        the latter skip the rows already there), then the hourly counters they change, in one
        statement. Words and counters go in key order, so two workers lock the rows they share
        in the same order."""
        if not entries:
            return
        keys, due = self.identity_keys.assign(entries)
        rows = [_log_row(entry, key) for entry, key in zip(entries, keys, strict=True)]
        words, again = identity_word_rows(entries, due)
        counters = [{"key": key, "window_start": start, "window_end": NEVER, "count": count}
                    for (key, start), count in sorted(_hour_counts(entries).items())]

        def work(connection: Connection) -> None:
            insert_rows(connection, self.tables.log, rows)
            insert_rows(connection, self.tables.identity_words, words)
            insert_rows(connection, self.tables.identity_words, again, ignore_duplicates=True)
            connection.execute(self._counter_additions(connection.dialect.name), counters)

        self._write(work)
        self.identity_keys.stored(entries, keys, due)

    def _counter_additions(self, dialect: str):
        """INSERT counter rows, or add their `count` to the rows of the same key and window:
        one statement for many rows (PostgreSQL: one multi-row INSERT; SQLite, MariaDB: the
        driver's executemany), compiled once."""

        def build():
            c = self.tables.counters
            if dialect == "mysql":
                statement = mysql.insert(c)
                return statement.on_duplicate_key_update(count=c.c.count + statement.inserted["count"])
            statement = postgresql.insert(c) if dialect == "postgresql" else sqlite.insert(c)
            return statement.on_conflict_do_update(index_elements=[c.c.key, c.c.window_start],
                                                   set_={"count": c.c.count + statement.excluded["count"]})

        return self.statements.cached(("counter_additions", dialect), build)

    def query_log(self, tenant: str, query: LogQuery | None = None) -> list[LogEntry]:
        """One statement; failures, one resource's entries and the entries holding a word are
        read by their indexes. A text search first counts, for its words longest first, the
        entries holding a word it starts, up to COMMON_WORD + 1 (one index range of at most that
        many keys), until one is rare: its list of ids then bounds the work, and the other words
        are checked on those entries only (see `_log_statement`)."""
        query = query or LogQuery()
        with self._transaction() as connection:
            common: set[str] = set()
            words = query.text_words[:MAX_WORDS]  # longest first (`log_words.query_words`)
            for prefix in words:
                if self._entries_holding(connection, tenant, prefix) <= COMMON_WORD:
                    common.update(word for word in words if word != prefix)
                    break
                common.add(prefix)
            statement = _log_statement(self.tables, tenant, query, frozenset(common))
            return [_log_entry(row) for row in connection.execute(statement)]

    def _entries_holding(self, connection: Connection, tenant: str, prefix: str) -> int:
        """How many entries hold a word starting with `prefix`, counted up to COMMON_WORD + 1:
        the identities holding one (a range of the word index), then their entries (a range of
        `(tenant, identity, id)` each), stopping at the bound."""
        g, w = self.tables.log, self.tables.identity_words
        found = (select(literal(1)).select_from(w).join(g, and_(g.c.tenant == tenant, g.c.identity == w.c.identity))
                 .where(word_condition(w, tenant, prefix)).limit(COMMON_WORD + 1).subquery())
        return connection.execute(select(func.count()).select_from(found)).scalar() or 0

    def log_hours(self, tenant: str, since: datetime) -> list[LogHour]:
        c = self.tables.counters
        low, high = _hour_key(tenant, hour_number(since)), f"{tenant}{_LOG_HOURS[:-1]};"
        try:
            with self._transaction() as connection:
                rows = connection.execute(select(c.c.key, c.c.count).where(c.c.key >= low, c.c.key < high)
                                          .order_by(c.c.key)).all()
        except self.base_exceptions as exc:  # a method the contract's wrapper does not know yet
            raise StorageUnavailable(f"{type(self).__name__}: {type(exc).__name__}") from exc
        hours: dict[int, dict[str, int]] = {}
        for key, count in rows:
            hour, _, name = key[len(tenant) + len(_LOG_HOURS):].partition(":")
            hours.setdefault(int(hour), {})[name] = count
        return [LogHour.from_counts(hour, counts) for hour, counts in sorted(hours.items())]

    def prune_log(self, tenant: str, *, keep: int | None = None,
                  older_than: datetime | None = None) -> int:
        """The entries go by their indexes; then the words of identities they leave without
        entries (`_collect_words`)."""
        g = self.tables.log

        def work(connection: Connection) -> int:
            deleted, pruned = 0, []
            if keep is not None:
                condition = None if keep > 0 else true()
                if keep > 0:  # everything older than the oldest entry kept goes
                    oldest_kept = connection.execute(
                        select(g.c.id).where(g.c.tenant == tenant).order_by(g.c.id.desc())
                        .offset(keep - 1).limit(1)).scalar()
                    condition = None if oldest_kept is None else g.c.id < oldest_kept
                if condition is not None:
                    pruned += _pruned_identities(connection, g, tenant, condition)
                    deleted += connection.execute(delete(g).where(g.c.tenant == tenant, condition)).rowcount
            if older_than is not None:
                condition = g.c.time < stamp(older_than)
                pruned += _pruned_identities(connection, g, tenant, condition)
                deleted += connection.execute(delete(g).where(g.c.tenant == tenant, condition)).rowcount
                c = self.tables.counters
                connection.execute(delete(c).where(c.c.key >= _hour_key(tenant, 0),
                                                   c.c.key < _hour_key(tenant, hour_number(older_than))))
            self._collect_words(connection, tenant, pruned)
            return deleted

        return self._write(work)

    def _collect_words(self, connection: Connection, tenant: str, pruned: list[tuple[str, str]]) -> None:
        """Delete the words of the keys in `pruned` ((key, its newest pruned entry's time))
        that have no entry left, unless that entry is recent enough for a process to trust
        their words stored still (`IdentityKeys.collectable_before`): such words stay, unused,
        until the tenant goes."""
        g, w = self.tables.log, self.tables.identity_words
        before = stamp(datetime.fromtimestamp(self.identity_keys.collectable_before(time.time()), timezone.utc))
        keys = sorted({key for key, newest in pruned if newest < before})
        unused = ~exists().where(g.c.tenant == tenant, g.c.identity == w.c.identity)
        for start in range(0, len(keys), COLLECT_BATCH):
            batch = keys[start:start + COLLECT_BATCH]
            connection.execute(delete(w).where(w.c.tenant == tenant, w.c.identity.in_(batch), unused))

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


def _log_row(entry: LogEntry, identity: str | None) -> tuple:
    """The `log` row of `entry`, in the table's column order (tables.py, `insert_rows`)."""
    return (entry.tenant, entry.id, stamp(entry.time), entry.method, entry.path, entry.status, entry.outcome,
            entry.token_id, entry.resource_type, entry.resource_id,
            json.dumps(entry.changed, ensure_ascii=False), entry.detail, entry.scim_type, entry.user_name,
            entry.display_name, entry.external_id, entry.search_text() or None, entry.request_id,
            entry.duration_ms, entry.client, entry.user_agent, identity)


def _pruned_identities(connection: Connection, g: Table, tenant: str, condition) -> list[tuple[str, str]]:
    """(identity key, time of its newest entry) of the entries `condition` is about to prune."""
    return [tuple(row) for row in connection.execute(
        select(g.c.identity, func.max(g.c.time)).where(g.c.tenant == tenant, condition, g.c.identity.is_not(None))
        .group_by(g.c.identity))]


def _log_entry(row) -> LogEntry:
    return LogEntry(row.id, row.tenant, parse_stamp(row.time), row.method, row.path, row.status,
                    row.outcome, row.token_id, row.resource_type, row.resource_id,
                    tuple(json.loads(row.changed)), row.detail, row.scim_type, row.user_name,
                    row.display_name, row.external_id, row.request_id, row.duration_ms, row.client,
                    row.user_agent)


def identity_word_rows(entries: Sequence[KeyedEntry],
                       due: dict[tuple[str, str], list[str]]) -> tuple[list[tuple], list[tuple]]:
    """The `log_identity_words` rows (tenant, word, key) of the words `IdentityKeys.assign`
    found due for `entries`, in key order, in two lists: those of keys new in this batch (a key
    that is the id of one of its entries: no row of it can exist), and those stored again,
    whose rows may be there already."""
    ids = {entry.id for entry in entries}
    new: list[tuple] = []
    again: list[tuple] = []
    for row in sorted((tenant, word, key) for (tenant, key), found in due.items() for word in found):
        (new if row[2] in ids else again).append(row)
    return new, again


def insert_rows(connection: Connection, table: Table, rows: list[tuple], *, ignore_duplicates: bool = False) -> None:
    """INSERT `rows` (tuples in the table's column order) as the driver takes many rows best,
    without SQLAlchemy's processing of each row's parameters (which cost the log's writer more
    than SQLite's own work): PostgreSQL a COPY, SQLite and PyMySQL one DB-API executemany
    (PyMySQL sends it as multi-row INSERTs). `ignore_duplicates`: a row whose key is taken is
    skipped (PostgreSQL: one INSERT … SELECT from arrays of the columns, as COPY cannot skip)."""
    if not rows:
        return
    preparer = connection.dialect.identifier_preparer
    names = ", ".join(preparer.quote(column.name) for column in table.columns)
    dialect = connection.dialect.name
    if dialect == "postgresql":
        if not ignore_duplicates:
            copy_rows(connection, table, [column.name for column in table.columns], rows)
            return
        arrays = tuple(list(values) for values in zip(*rows, strict=True))
        connection.exec_driver_sql(f"INSERT INTO {preparer.format_table(table)} ({names}) SELECT * FROM "
                                   f"unnest({', '.join(['%s::text[]'] * len(arrays))}) ON CONFLICT DO NOTHING", arrays)
        return
    verb = "INSERT"
    if ignore_duplicates:
        verb = "INSERT OR IGNORE" if dialect == "sqlite" else "INSERT IGNORE"
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"  # PyMySQL: "%s"
    connection.exec_driver_sql(f"{verb} INTO {preparer.format_table(table)} ({names}) "
                               f"VALUES ({', '.join([marker] * len(table.columns))})", rows)


def word_condition(w, tenant: str, prefix: str):
    """Word index rows of `tenant` whose word starts with `prefix`. The range lets every
    planner seek the primary key (SQLite turns LIKE into a range only under NOCASE); a word
    never holds U+10FFFF (it is no letter), so the range is exact, and LIKE says the same
    (`autoescape`: % and _ are plain characters; a word holds neither anyway)."""
    return and_(w.c.tenant == tenant, w.c.word >= prefix, w.c.word < prefix + _LAST,
                w.c.word.startswith(prefix, autoescape=True))


def _log_statement(tables: SqlTables, tenant: str, query: LogQuery, common: frozenset[str] = frozenset()):
    """SELECT the entries `query` matches, newest first (`LogQuery` says what each field means).

    Each word of the text restricts the entries to those whose identity holds a word it starts
    (`log_identity_words`), in one of two exact forms. A rare word (not in `common`) is a list
    of entry ids, `id IN (...)`: the database reads that range of the word index, the ids of
    those keys' entries, then those entries. A common one is `EXISTS (...)` on the words of the
    entry's identity (`(tenant, identity, word)` index): the database walks the log newest first
    and stops at `limit`, which a common word reaches soon, instead of sorting every entry
    holding it (seconds at a million entries on SQLite). A text whose every word is common but
    whose words together are rare walks far: that is its worst case."""
    g, w = tables.log, tables.identity_words
    conditions = [g.c.tenant == tenant]
    equal = ((g.c.resource_id, query.resource_id), (g.c.method, query.method),
             (g.c.resource_type, query.resource_type), (g.c.outcome, "failure" if query.failures_only else None))
    conditions += [column == value for column, value in equal if value is not None]
    if query.before is not None:
        conditions.append(g.c.id < query.before)
    if query.after is not None:
        conditions.append(g.c.id > query.after)
    if query.since is not None:
        conditions.append(g.c.time >= stamp(query.since))
    if query.until is not None:
        conditions.append(g.c.time < stamp(query.until))
    if query.status_range is not None:
        conditions.append(g.c.status.between(*query.status_range))
    words = query.text_words
    if len(words) > MAX_WORDS:  # more words than an entry keeps: no match (`query_words`)
        conditions.append(false())
        words = ()
    for prefix in words:
        if prefix in common:
            # The words of the entry's identity, by (tenant, identity, word); no range on `word`,
            # which would let SQLite pick the (tenant, word) key and scan the whole prefix for each entry.
            conditions.append(exists().where(w.c.tenant == tenant, w.c.identity == g.c.identity,
                                             w.c.word.startswith(prefix, autoescape=True)))
        else:
            # The ids of those keys' entries, so that the log is read by id: compared with the
            # key itself, SQLite (the log has no statistics there) would walk the whole log.
            keyed = g.alias()
            conditions.append(g.c.id.in_(select(keyed.c.id).where(
                keyed.c.tenant == tenant,
                keyed.c.identity.in_(select(w.c.identity).where(word_condition(w, tenant, prefix))))))
    return select(g).where(*conditions).order_by(g.c.id.desc()).limit(query.limit)


def _hour_key(tenant: str, hour: int, name: str = "") -> str:
    return f"{tenant}{_LOG_HOURS}{hour:0{_HOUR_DIGITS}d}" + (f":{name[:MAX_COUNTER_NAME]}" if name else "")


def _hour_counts(entries: list[LogEntry]) -> dict[tuple[str, int], int]:
    """(counter key, window start) -> what `entries` add to it."""
    counts: dict[tuple[str, int], int] = {}
    for entry in entries:
        hour = hour_number(entry.time)
        for name, count in entry.hour_counts().items():
            key = (_hour_key(entry.tenant, hour, name), hour * 3600)
            counts[key] = counts.get(key, 0) + count
    return counts


def _key_range(tenant_id: str) -> tuple[str, str]:
    """Counter keys of a tenant start with `<tenant>:`: the range [`<tenant>:`, `<tenant>;`)
    under the binary collation of the key column (`;` follows `:`)."""
    return f"{tenant_id}:", f"{tenant_id};"


def _window_start(now: datetime, window_seconds: int) -> int:
    """The epoch second at which the fixed window containing `now` starts."""
    seconds = (now - _EPOCH) // timedelta(seconds=1)
    return seconds // window_seconds * window_seconds
