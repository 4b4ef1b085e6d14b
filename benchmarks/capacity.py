"""Capacity, measured: what 1,000 users cost in the store, what one shard or one database
process sustains, and what follows for sizing.

    python -m benchmarks.capacity --backend redis --users 10000
    python -m benchmarks.capacity --backend postgres --users 10000

Redis: a private `redis-server` on a free 127.0.0.1 port (or `--url`, measured under a fresh
key prefix, noisier on a shared server): INFO memory before and after seeding Entra-shaped
users through `Storage.create`, a short create and lookup run with the Redis CPU it took
(operations per Redis CPU-second is what one single-threaded shard can serve), and from the
key scheme (a tenant's keys share one hash slot) how big one tenant can grow and how a
Cluster spreads tenants. PostgreSQL: the same seeding into tables of a fresh prefix (dropped
afterwards), their rows and sizes per 1,000 users, the same short run, and the connections a
worker holds (its pool).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from scimflask.model import Query, RequestContext

from .directory import _resource, seed_users, user_document, user_id, user_name

CLUSTER_SLOTS = 16384
SHARD_SIZES_GB = (1, 8, 25)  # shard memory budgets the sizing lines are printed for
SPREAD_TENANTS = 10_000      # tenant names hashed to show a Cluster's spread
TENANT = "capacity"


def _state(uri: str, options: dict):
    import scimflask

    app = scimflask.create_app({"SCIM_STORAGE_URI": uri, "SCIM_STORAGE_OPTIONS": options,
                                "SCIM_DEFAULT_TENANT": TENANT, "SCIM_SECRET_KEY": "capacity",
                                "SCIM_LOG_ENABLED": False})
    return app.extensions["scim"]


def _timed(seconds: float, threads: int, work) -> tuple[int, float]:
    """Run `work(n)` from `threads` threads for `seconds`; (calls done, elapsed seconds)."""
    deadline = time.monotonic() + seconds
    start = time.monotonic()

    def loop(thread: int) -> int:
        done = 0
        while time.monotonic() < deadline:
            work(thread * 10_000_000 + done)
            done += 1
        return done

    with ThreadPoolExecutor(threads) as pool:
        total = sum(pool.map(loop, range(threads)))
    return total, time.monotonic() - start


def _run_mix(state, users: int, seconds: float, threads: int, measure) -> list[str]:
    """Creates, then userName lookups, each for `seconds`; `measure()` is the server's CPU
    seconds so far (None when it cannot be read)."""
    from scimflask.filter import parse_filter

    ctx = RequestContext(tenant=TENANT)
    user_type = state.catalog.resource_type("User")
    fresh = 10 * users  # numbers past the seeded ones

    def create(n: int) -> None:
        i = fresh + n
        state.storage.create(ctx, _resource(state, "User", user_id(i), user_document(i)))

    def lookup(n: int) -> None:
        text = f'userName eq "{user_name((n * 7919) % users)}"'
        page = state.storage.query(ctx, "User", Query(filter=parse_filter(text, state.catalog, user_type), count=1))
        assert page.total == 1, text

    lines = []
    for name, work in (("create", create), ("lookup by userName", lookup)):
        cpu_before = measure()
        done, elapsed = _timed(seconds, threads, work)
        cpu = None if cpu_before is None else measure() - cpu_before
        line = f"{name}: {done / elapsed:,.0f}/s from one client process ({threads} threads)"
        if cpu:
            line += f"; server CPU {cpu:.2f}s -> {done / cpu:,.0f} per server CPU-second"
        lines.append(line)
    return lines


# -- Redis ------------------------------------------------------------------------------------
class PrivateRedis:
    """A throw-away redis-server (no persistence) on a free port."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = subprocess.Popen(
            [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        import redis

        client = redis.Redis(port=self.port, socket_timeout=2)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(10)


def redis_capacity(args) -> None:
    import redis

    private = None if args.url else PrivateRedis()
    url = args.url or private.url
    prefix = f"cap-{uuid.uuid4().hex[:8]}:"
    joined = url + ("&" if "?" in url else "?") + f"prefix={prefix}"
    parts = urlsplit(url)
    node = redis.Redis(host=parts.hostname or "127.0.0.1", port=parts.port or 6379,
                       db=int((parts.path or "/0").strip("/") or 0), socket_timeout=30)
    try:
        state = _state(joined, {})
        before, keys_before = node.info("memory")["used_memory"], node.dbsize()
        started = time.monotonic()
        seed_users(state, TENANT, 0, args.users, threads=args.threads)
        seeded = time.monotonic() - started
        after, keys_after = node.info("memory")["used_memory"], node.dbsize()
        per_user = (after - before) / args.users
        print(f"redis: seeded {args.users:,} users in {seeded:.1f}s ({args.users / seeded:,.0f}/s)")
        print(f"memory: {per_user * 1000 / 2**20:.2f} MiB per 1,000 users ({per_user:,.0f} B/user, "
              f"{(keys_after - keys_before) / args.users:.2f} keys/user; INFO used_memory)")

        def cpu() -> float:
            info = node.info("cpu")
            return info["used_cpu_sys"] + info["used_cpu_user"]

        for line in _run_mix(state, args.users, args.seconds, args.threads, cpu):
            print(line)
        for gb in SHARD_SIZES_GB:
            print(f"one tenant on one shard: {gb} GiB of data holds ~{gb * 2**30 / per_user:,.0f} users "
                  f"(a tenant's keys share one hash slot, so one tenant never spans shards)")
        print(_cluster_spread())
        state.close()
    finally:
        if private:
            private.stop()
        else:
            _drop_prefix(node, prefix)


def _cluster_spread() -> str:
    """How a 3-primary Cluster spreads tenants: each tenant's slot is CRC16 of its name."""
    from redis.crc import key_slot

    shards = 3
    per_shard = Counter(min(key_slot(f"{{tenant-{n}}}".encode()) * shards // CLUSTER_SLOTS, shards - 1)
                        for n in range(SPREAD_TENANTS))
    counts = [per_shard[s] for s in range(shards)]
    return (f"cluster spread: {SPREAD_TENANTS:,} tenants over {shards} primaries -> {counts} "
            f"(max/mean {max(counts) / (SPREAD_TENANTS / shards):.3f}); any number of tenants fit in "
            f"{CLUSTER_SLOTS:,} slots, each tenant's size and write rate are bounded by one shard")


def _drop_prefix(node, prefix: str) -> None:
    batch = list(node.scan_iter(match=prefix.replace("{", "\\{").replace("}", "\\}") + "*", count=1000))
    for start in range(0, len(batch), 1000):
        node.unlink(*batch[start:start + 1000])


# -- PostgreSQL -------------------------------------------------------------------------------
def postgres_capacity(args) -> None:
    from sqlalchemy import text

    url = args.url or os.environ.get("SCIMFLASK_TEST_POSTGRES_URL") or "postgresql://postgres@127.0.0.1:5432/test"
    prefix = f"cap{uuid.uuid4().hex[:8]}_"
    state = _state(url, {"table_prefix": prefix})
    engine = state.storage.engine
    try:
        started = time.monotonic()
        seed_users(state, TENANT, 0, args.users, threads=args.threads)
        seeded = time.monotonic() - started
        print(f"postgres: seeded {args.users:,} users in {seeded:.1f}s ({args.users / seeded:,.0f}/s)")
        with engine.connect() as connection:
            connection.execute(text("ANALYZE"))
            _print_tables(connection, prefix, args.users)
        for line in _run_mix(state, args.users, args.seconds, args.threads, lambda: None):
            print(line)
        pool = engine.pool
        print(f"connections: each worker process has one pool of {pool.size()} (+{pool._max_overflow} "
              f"overflow); it held {pool.checkedin() + pool.checkedout()} after {args.threads} threads "
              f"(a gunicorn gthread worker uses at most its --threads at once)")
    finally:
        _drop_tables(engine, prefix)
        state.close()


def _print_tables(connection, prefix: str, users: int) -> None:
    from sqlalchemy import text

    rows = connection.execute(text(
        "SELECT c.relname, pg_total_relation_size(c.oid), pg_indexes_size(c.oid) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = current_schema() "
        "AND c.relname LIKE :pattern ORDER BY 2 DESC"), {"pattern": prefix + "%"}).all()
    total = indexes = 0
    for name, size, index_size in rows:
        count = connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar()
        total, indexes = total + size, indexes + index_size
        print(f"  {name[len(prefix):]:<16} {count / users * 1000:>9,.0f} rows/1,000 users "
              f"{size / users * 1000 / 2**20:>8.2f} MiB/1,000 users (indexes {index_size / users * 1000 / 2**20:.2f})")
    print(f"tables and indexes: {total / users * 1000 / 2**20:.2f} MiB per 1,000 users "
          f"(indexes {indexes / users * 1000 / 2**20:.2f} MiB); pg_total_relation_size after ANALYZE")


def _drop_tables(engine, prefix: str) -> None:
    from sqlalchemy import text

    with engine.begin() as connection:
        names = connection.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE :p"),
            {"p": prefix + "%"}).scalars().all()
        for name in names:
            connection.execute(text(f'DROP TABLE IF EXISTS "{name}" CASCADE'))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("redis", "postgres"), required=True)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--url", help="the store (default: a private redis-server; the test PostgreSQL)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each timed run")
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args(argv)
    if args.backend == "redis" and not args.url and shutil.which("redis-server") is None:
        parser.error("redis-server is not installed: pass --url redis://...")
    (redis_capacity if args.backend == "redis" else postgres_capacity)(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
