"""Where each backend keeps its data for a benchmark run, and how to wipe it first.

Every run starts from an empty store: a new SQLite file; a dedicated `scimflask_bench` database
on PostgreSQL and MariaDB (created if missing, its `scim_*` tables dropped); Redis database 14,
flushed. The memory backend keeps its data inside the single gunicorn worker, so it runs with
one worker and is seeded through the benchmark app's own seed route.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

# The database the runner owns on PostgreSQL and MariaDB (its `scim_*` tables are dropped).
BENCH_DATABASE = os.environ.get("SCIMFLASK_BENCH_DATABASE", "scimflask_bench")
POSTGRES_URL = os.environ.get("SCIMFLASK_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
MYSQL_URL = os.environ.get("SCIMFLASK_BENCH_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
REDIS_URL = os.environ.get("SCIMFLASK_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
# SQLite: a file that outlives the run (for --keep), instead of a new one in the run's directory.
SQLITE_FILE = os.environ.get("SCIMFLASK_BENCH_SQLITE_FILE")


class Unavailable(Exception):
    """The backend's service cannot be prepared; the run reports it and goes on."""


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


@dataclass
class Backend:
    name: str
    in_process: bool = False  # data lives in the server process (memory://)
    uri: str = ""
    # SCIM_STORAGE_OPTIONS for the runner's seeding processes (never the server's).
    seed_options: dict = field(default_factory=dict)
    # Seeding parallelism (threads: per-user creates; SQL stores are seeded in bulk, bulk.py).
    seed_processes: int = 2
    seed_threads: int = 8
    keep: bool = False  # reuse the directory a previous run left (see run.py --keep)

    def prepare(self, workdir: Path, *, keep: bool = False) -> None:
        """Point `uri` at an empty store (with `keep`: at the store a previous run left, for
        the services that outlive a run), or raise Unavailable."""
        self.keep = keep
        try:
            getattr(self, f"_prepare_{self.name}")(workdir)
        except Unavailable:
            raise
        except Exception as exc:  # any driver error means: this service is not usable now
            raise Unavailable(f"{type(exc).__name__}: {exc}".splitlines()[0][:200]) from None

    def _prepare_memory(self, workdir: Path) -> None:
        self.uri = "memory://"

    def _prepare_sqlite(self, workdir: Path) -> None:
        if SQLITE_FILE:
            path = Path(SQLITE_FILE).resolve()
            if not self.keep:
                for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                    stale.unlink(missing_ok=True)
        else:
            path = Path(tempfile.mkdtemp(prefix="sqlite-", dir=workdir)) / "bench.db"
        self.uri = f"sqlite:///{path}"
        # One writer: with two seeding processes taking turns at the lock, the WAL is never
        # free to restart, and it grew to 70 GB while bulk-seeding 940,000 users.
        self.seed_processes, self.seed_threads = 1, 1

    def _prepare_postgres(self, workdir: Path) -> None:
        import psycopg

        base = urlsplit(POSTGRES_URL)
        plain = urlunsplit(base._replace(scheme="postgresql"))
        with psycopg.connect(plain, autocommit=True, connect_timeout=5) as connection:
            exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (BENCH_DATABASE,)).fetchone()
            if not exists:
                connection.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')
        bench = _with_database(plain, BENCH_DATABASE)
        with psycopg.connect(bench, autocommit=True, connect_timeout=5) as connection:
            tables = [row[0] for row in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'scim\\_%'")]
            if tables and not self.keep:
                connection.execute("DROP TABLE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE")
        self.uri = _with_database(POSTGRES_URL, BENCH_DATABASE)
        # Seeding only: commits need not wait for the WAL flush (the server keeps the default).
        self.seed_options = {"engine_options": {"pool_size": 8, "connect_args": {
            "connect_timeout": 10, "options": "-c synchronous_commit=off"}}}

    def _prepare_mysql(self, workdir: Path) -> None:
        import pymysql

        parts = urlsplit(MYSQL_URL)
        connection = pymysql.connect(host=parts.hostname, port=parts.port or 3306, user=parts.username or "root",
                                     password=parts.password or "", connect_timeout=5, autocommit=True)
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE IF NOT EXISTS `{BENCH_DATABASE}`")
                cursor.execute("SELECT table_name FROM information_schema.tables "
                               "WHERE table_schema = %s AND table_name LIKE 'scim\\_%%'", (BENCH_DATABASE,))
                tables = [row[0] for row in cursor.fetchall()]
                if tables and not self.keep:
                    cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
                    cursor.execute("DROP TABLE " + ", ".join(f"`{BENCH_DATABASE}`.`{t}`" for t in tables))
                    cursor.execute("SET FOREIGN_KEY_CHECKS = 1")
        finally:
            connection.close()
        self.uri = _with_database(MYSQL_URL, BENCH_DATABASE)
        # Seeding only: LOAD DATA LOCAL (bulk.py) needs the client's consent.
        self.seed_options = {"engine_options": {"pool_size": 8, "connect_args": {
            "connect_timeout": 10, "local_infile": True}}}

    def _prepare_redis(self, workdir: Path) -> None:
        import redis

        # No read timeout: after a 1,000,000-user run FLUSHDB takes longer than any short one.
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5, socket_timeout=None)
        try:
            if not self.keep:
                client.flushdb()
        finally:
            client.close()
        self.uri = REDIS_URL

    def refresh_statistics(self) -> None:
        """`refresh_statistics` of the PostgreSQL or MariaDB store after seeding (a SQLite
        store's own seeding processes refresh it, bulk.py)."""
        if self.name in ("postgres", "mysql"):
            from scimflask_sql.engine import database_url
            from sqlalchemy import create_engine
            from sqlalchemy.pool import NullPool

            engine = create_engine(database_url(self.uri), poolclass=NullPool)
            try:
                refresh_statistics(engine)
            finally:
                engine.dispose()


def refresh_statistics(engine) -> None:
    """Update the query planner's statistics of the `scim_*` tables after a bulk load, as the
    database's own background job would (autovacuum is off on the benchmark machine's
    PostgreSQL).

    On PostgreSQL that job also moves the GIN indexes' pending lists (rows inserted since,
    up to `gin_pending_list_limit`, 4 MB by default) into the index proper; a manual ANALYZE
    does not, and every substring lookup then reads the whole list (at 10,000 users, 2 → 15 ms
    for an `ew`), so this does it too."""
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        dialect = connection.dialect.name
        if dialect == "mysql":
            for (table,) in connection.exec_driver_sql("SHOW TABLES").all():
                if table.startswith("scim_"):
                    connection.exec_driver_sql(f"ANALYZE TABLE `{table}`").fetchall()
            return
        connection.exec_driver_sql("ANALYZE")
        if dialect == "postgresql":
            connection.exec_driver_sql(CLEAN_GIN_PENDING_LISTS).fetchall()


# PostgreSQL: move every GIN index's pending list into the index (see `refresh_statistics`).
CLEAN_GIN_PENDING_LISTS = (
    "SELECT gin_clean_pending_list(i.indexrelid) FROM pg_index AS i "
    "JOIN pg_class AS c ON c.oid = i.indexrelid JOIN pg_am AS a ON a.oid = c.relam "
    "JOIN pg_namespace AS n ON n.oid = c.relnamespace "
    "WHERE a.amname = 'gin' AND n.nspname = 'public'")
BACKENDS = ("memory", "sqlite", "postgres", "mysql", "redis")
# The run fails (exit status 1) when one of these could not be served at all.
REQUIRED = ("memory", "sqlite")


def backend(name: str) -> Backend:
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose from {', '.join(BACKENDS)}")
    return Backend(name, in_process=name == "memory")
