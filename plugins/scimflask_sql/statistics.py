"""Planner statistics kept fresh by the storage itself, so indexed lookups stay indexed.

Without statistics the planners pick the wrong index for scimflask's lookups: SQLite walks
every resource of the tenant through `ix_resources_created` and probes the `IN (SELECT ...)`
list per row; PostgreSQL (with autovacuum off, or before its first auto-analyze) drives a
`userName eq` by `ix_values_num` in a nested loop over every user. Both grow linearly with the
directory.

`PlannerStatistics.tick()` is called before each transaction. Every `interval` calls of this
process it makes a cheap check and refreshes the statistics of the scimflask tables when they
are missing, or when the directory has grown `GROWTH` times since they were gathered:

- SQLite has no background ANALYZE. The row count ANALYZE recorded for `resources` (in
  `sqlite_stat1`) is compared with `count(*)`; ANALYZE runs with `analysis_limit`, so it costs
  milliseconds at any size. A connection loads statistics only when it opens (ANALYZE by one
  connection does not reach the others), so when the recorded count changed, this process's
  pool is renewed (a shared in-memory database has one connection, which ran ANALYZE itself).
- PostgreSQL: tables never analysed (`pg_stat_user_tables.last_analyze` and
  `last_autoanalyze` NULL) or modified more than their live row count since, are analysed;
  one process at a time (advisory lock). With autovacuum on, auto-analyze gets there first
  and this never fires. The provisioning log (`log` and its word index `log_identity_words`) is
  checked too: it is usually the largest table, grows without the directory growing, and its
  text search joins the two, a plan that needs their statistics. Each table is judged by its
  own counts, so a growing log is analysed whatever the directory does.
- MySQL/MariaDB: InnoDB recalculates persistent statistics by itself (innodb_stats_auto_recalc).

SQLite leaves the log alone: its trigger follows the size of `resources`, so statistics taken
of the log then would go stale as the log grows on its own, and statistics that call a large
table small mislead its planner more than none (without them it prefers the index matching
the most leading columns, which is what every log query has).

A failure here is logged and never fails the request that happened to trigger the check.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Connection, Engine, func, select, text
from sqlalchemy.exc import DBAPIError

from .engine import is_memory_sqlite
from .tables import SqlTables

INTERVAL = 256        # storage calls of one process between two checks
GROWTH = 2            # refresh when the directory is this many times the analysed size
MIN_ROWS = 64         # below this, every plan is cheap: no statistics needed yet
ANALYSIS_LIMIT = 1000  # SQLite: rows sampled per index (what PRAGMA optimize recommends)
_PG_LOCK_ID = 0x5C1F1A6  # advisory lock key for "scimflask analyze"

log = logging.getLogger(__name__)


class PlannerStatistics:
    """Checks, every `interval` storage calls, that the planner's statistics are current."""

    def __init__(self, tables: SqlTables, *, interval: int = INTERVAL) -> None:
        self.tables = tables
        self.interval = interval
        self._calls = 0
        self._loaded: int | None = None   # SQLite: the analysed row count our pool has loaded
        self._lock = threading.Lock()

    def tick(self, engine: Engine) -> None:
        """Count one storage call; the first and then every `interval`-th runs `refresh`."""
        self._calls += 1
        if (self._calls - 1) % self.interval:
            return
        if not self._lock.acquire(blocking=False):
            return  # another thread of this process is checking right now
        try:
            self.refresh(engine)
        except DBAPIError as exc:
            log.warning("could not refresh planner statistics: %s", exc)
        finally:
            self._lock.release()

    def refresh(self, engine: Engine) -> bool:
        """Analyse the scimflask tables if their statistics are missing or stale; True if it did."""
        dialect = engine.dialect.name
        if dialect == "sqlite":
            return self._refresh_sqlite(engine, shared_connection=is_memory_sqlite(engine.url))
        if dialect == "postgresql":
            return self._refresh_postgresql(engine)
        return False

    # -- SQLite -------------------------------------------------------------------------
    def _sqlite_analysed_rows(self, connection: Connection) -> int | None:
        if connection.exec_driver_sql(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'").first() is None:
            return None
        stat = connection.execute(text("SELECT stat FROM sqlite_stat1 WHERE tbl = :table AND idx IS NOT NULL"),
                                  {"table": self.tables.resources.name}).scalar()
        return None if stat is None else int(stat.split()[0])

    def _refresh_sqlite(self, engine: Engine, *, shared_connection: bool) -> bool:
        with engine.connect() as connection:
            with connection.begin():
                analysed = self._sqlite_analysed_rows(connection)
                rows = connection.execute(select(func.count()).select_from(self.tables.resources)).scalar_one()
        analysed_now = analysed
        if rows >= MIN_ROWS and (analysed is None or rows >= GROWTH * analysed):
            with engine.connect().execution_options(scim_write=True) as connection:
                with connection.begin():
                    connection.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
                    for table in self._directory_tables():
                        connection.exec_driver_sql(f'ANALYZE "{table}"')
                    analysed_now = self._sqlite_analysed_rows(connection)
        if analysed_now != self._loaded and not shared_connection:
            engine.dispose()  # pooled connections go; new ones load the current statistics
        self._loaded = analysed_now
        return analysed_now != analysed

    # -- PostgreSQL ---------------------------------------------------------------------
    def _refresh_postgresql(self, engine: Engine) -> bool:
        names = self._directory_tables() + self._log_tables()
        with engine.connect() as connection:
            with connection.begin():
                rows = connection.execute(text(
                    "SELECT relname, n_live_tup, n_mod_since_analyze, "
                    "last_analyze IS NULL AND last_autoanalyze IS NULL AS never "
                    "FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname = ANY(:names)"
                ), {"names": names}).all()
                stale = [row.relname for row in rows
                         if row.n_live_tup + row.n_mod_since_analyze >= MIN_ROWS
                         and (row.never or row.n_mod_since_analyze >= (GROWTH - 1) * max(row.n_live_tup, 1))]
                if not stale:
                    return False
                if not connection.execute(text("SELECT pg_try_advisory_xact_lock(:key)"),
                                          {"key": _PG_LOCK_ID}).scalar():
                    return False  # another process is analysing
                for table in stale:
                    connection.exec_driver_sql(f'ANALYZE "{table}"')
        return True

    def _directory_tables(self) -> list[str]:
        t = self.tables
        return [t.resources.name, t.values.name, t.uniques.name, t.members.name]

    def _log_tables(self) -> list[str]:
        return [self.tables.log.name, self.tables.identity_words.name]
