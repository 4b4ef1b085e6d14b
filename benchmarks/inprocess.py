"""Server-side cost of one request, measured in-process (no HTTP, no client in the way).

The HTTP benchmarks report shares of a bare-Flask ceiling, but on a 2-core machine the client
takes part of the CPU and the figures move with the load average. This tool calls the WSGI apps
directly with a prepared environ, so it shows the time the server itself spends per request,
for scimflask and for the bare-Flask ceiling, and optionally profiles one workload:

    python -m benchmarks.inprocess --backend memory --users 10000
    python -m benchmarks.inprocess --backend sqlite --users 10000 --profile lookup-userName
    python -m benchmarks.inprocess --backend postgres --statements --only create-user,patch-title

`--statements` adds, per workload, the SQL statements per request (SQLAlchemy cursor events:
every statement sent, BEGIN and COMMIT included where SQLAlchemy sends them) and the wall time
per request spent inside the driver's execute, i.e. waiting for the database. `--server-cpu`
adds the CPU the database server spent per request (Redis, PostgreSQL, MariaDB on this
machine; `benchmarks.server_cpu`) and this process's and the server's together against the
ceiling's: on shared cores, the whole of it bounds throughput. `--profile` uses
pyinstrument when it is installed, else cProfile (the top functions by own and total time).
"""

from __future__ import annotations

import argparse
import atexit
import io
import json
import os
import random
import shutil
import sys
import tempfile
import time

from werkzeug.test import EnvironBuilder

from .apps import ceiling_app
from .backends import refresh_statistics
from .directory import (
    PATCH_OP,
    external_id,
    group_id,
    seed_group,
    seed_users,
    user_document,
    user_id,
    user_name,
    work_email,
)
from .server_cpu import ServerCpu

TOKEN = "inprocess-token"


def _environ(method: str, path: str, query: str = "", body: dict | None = None) -> tuple[dict, bytes]:
    data = json.dumps(body).encode() if body is not None else b""
    builder = EnvironBuilder(path=path, method=method, query_string=query, data=data or None,
                             headers={"Authorization": f"Bearer {TOKEN}", "Accept": "application/scim+json",
                                      **({"Content-Type": "application/scim+json"} if body is not None else {})})
    environ = builder.get_environ()
    return environ, data


def _call(app, environ: dict, data: bytes) -> int:
    env = dict(environ)
    env["wsgi.input"] = io.BytesIO(data)
    status = []

    def start_response(s, headers, exc_info=None):
        status.append(s)

    for _chunk in app(env, start_response):
        pass
    return int(status[0].split()[0])


class StatementCounter:
    """Counts the statements an engine sends and the time spent in the driver's execute, plus
    the transactions it commits (a COMMIT is a round trip that is no cursor statement)."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        self.statements = self.commits = 0
        self.driver_seconds = 0.0
        self._started: dict[int, float] = {}
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "commit", self._commit)

    def _before(self, _conn, cursor, *_args) -> None:
        self._started[id(cursor)] = time.perf_counter()

    def _after(self, _conn, cursor, *_args) -> None:
        self.statements += 1
        self.driver_seconds += time.perf_counter() - self._started.pop(id(cursor), time.perf_counter())

    def _commit(self, _conn) -> None:
        self.commits += 1

    def reset(self) -> tuple[int, int, float]:
        taken = (self.statements, self.commits, self.driver_seconds)
        self.statements = self.commits = 0
        self.driver_seconds = 0.0
        return taken


def _profile(run, name: str, count: int) -> None:
    """Profile `run(name, count)` with pyinstrument if installed, else cProfile."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        run(name, count)
        profiler.disable()
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(45)
        return
    profiler = Profiler(interval=0.0002)
    profiler.start()
    run(name, count)
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False, show_all=False))


def _storage_uri(backend: str) -> str:
    if backend == "memory":
        return "memory://"
    if backend == "sqlite":
        return "sqlite:///" + os.path.join(tempfile.mkdtemp(), "bench.db")
    if backend == "postgres":
        return os.environ.get("SCIMFLASK_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    if backend == "mysql":
        return os.environ.get("SCIMFLASK_BENCH_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
    if backend == "redis":
        return os.environ.get("SCIMFLASK_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    raise SystemExit(f"unknown backend {backend}")


GROUP = "inprocess-group"
WARM = 20  # warm-up requests per workload, not timed
SQL_BACKENDS = ("sqlite", "postgres", "mysql")
BATCH = 100


def _membership(group_size: int):
    """Alternately remove a batch of 100 members by `members[value eq]` and add it back."""
    counter = iter(range(10**9))

    def make(_i):
        step = next(counter)
        batch = (step // 2) % max(group_size // BATCH, 1)
        ids = [user_id(j) for j in range(batch * BATCH, batch * BATCH + BATCH)]
        if step % 2 == 0:
            ops = [{"op": "remove", "path": f'members[value eq "{uid}"]'} for uid in ids]
        else:
            ops = [{"op": "add", "path": "members", "value": [{"value": uid} for uid in ids]}]
        return ("PATCH", f"/scim/v2/Groups/{group_id(GROUP)}", "", {"schemas": [PATCH_OP], "Operations": ops})

    return make


def _workloads(n: int):
    """(name, function i -> (method, path, query, body)) for the request shapes of the HTTP workloads."""
    def lookup(attr, value):
        return lambda i: ("GET", "/scim/v2/Users", "filter=" + f'{attr} eq "{value(i)}"', None)

    return {
        "ceiling": None,
        "lookup-userName": lookup("userName", user_name),
        "lookup-externalId": lookup("externalId", external_id),
        "lookup-emails": lookup('emails[type eq "work"].value', work_email),
        "get-by-id": lambda i: ("GET", f"/scim/v2/Users/{user_id(i)}", "", None),
        "patch-title": lambda i: ("PATCH", f"/scim/v2/Users/{user_id(i)}", "",
                                  {"schemas": [PATCH_OP], "Operations": [
                                      {"op": "Replace", "path": "title", "value": f"T{random.random()}"}]}),
        "create-user": lambda i: ("POST", "/scim/v2/Users", "", user_document(i, prefix=f"new{random.random()}")),
        "group-remove-add-100": _membership(min(n, 5_000)),
        "get-group-no-members": lambda i: ("GET", f"/scim/v2/Groups/{group_id(GROUP)}",
                                           "excludedAttributes=members", None),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="memory")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--profile", help="profile this workload (pyinstrument if installed, else cProfile)")
    parser.add_argument("--statements", action="store_true",
                        help="also report SQL statements, commits and driver time per request")
    parser.add_argument("--server-cpu", action="store_true",
                        help="also report the database server's CPU per request (Redis, PostgreSQL, MariaDB)")
    parser.add_argument("--only", help="comma-separated workloads to time")
    parser.add_argument("--config", action="append", default=[], metavar="KEY=JSON",
                        help="extra app configuration, e.g. SCIM_LOG_ENABLED=false")
    args = parser.parse_args(argv)
    workloads = _workloads(args.users)
    names = args.only.split(",") if args.only else list(workloads)
    unknown = [name for name in [*names, *([args.profile] if args.profile else [])] if name not in workloads]
    if unknown:
        parser.error(f"unknown workload(s) {', '.join(unknown)}; known: {', '.join(workloads)}")

    import scimflask

    uri = _storage_uri(args.backend)
    if uri.startswith("sqlite:///"):  # the temporary directory goes with the process
        atexit.register(shutil.rmtree, os.path.dirname(uri[len("sqlite:///"):]), True)
    app = scimflask.create_app({"SCIM_STORAGE_URI": uri, "SCIM_BEARER_TOKENS": (TOKEN,),
                                "SCIM_DEFAULT_TENANT": "inprocess", "SCIM_SECRET_KEY": "s",
                                **{key: json.loads(value) for key, value in
                                   (item.split("=", 1) for item in args.config)}})
    state = app.extensions["scim"]
    reset = getattr(state.storage, "delete_tenant", None)
    if reset and args.backend != "memory":
        reset("inprocess")
    t0 = time.perf_counter()
    seed_users(state, "inprocess", 0, args.users, threads=1 if args.backend in ("memory", "sqlite") else 8)
    seed_group(state, "inprocess", GROUP, min(args.users, 5_000))
    print(f"seeded {args.users} users and a group of {min(args.users, 5_000)} in {time.perf_counter() - t0:.1f} s",
          file=sys.stderr)
    if getattr(state.storage, "engine", None) is not None:  # the SQL stores
        refresh_statistics(state.storage.engine)
    ceiling = ceiling_app()

    server = ServerCpu(args.backend, uri) if args.server_cpu else None
    server_seconds = [0.0]  # the server's CPU over the last `run`

    def run(name: str, count: int) -> tuple[float, float]:
        make = workloads[name]
        warm = WARM
        if make is None:
            env, data = _environ("GET", "/scim/v2/Users", 'filter=userName eq "x"')
            prepared = [(env, data)] * (count + warm)
            target = ceiling
        else:
            prepared = []
            if name.startswith("group-remove-add"):
                count -= count % 2
            for _ in range(count + warm):
                method, path, query, body = make(random.randrange(args.users))
                prepared.append(_environ(method, path, query, body))
            target = app
        for env, data in prepared[:warm]:  # warm-up requests are not replayed (creates would clash)
            _call(target, env, data)
        prepared = prepared[warm:]
        before = server.read() if server is not None and target is app else None
        start, cpu = time.perf_counter(), time.process_time()
        for env, data in prepared:
            code = _call(target, env, data)
            if code >= 400:
                raise SystemExit(f"{name}: HTTP {code}")
        wall, cpu = (time.perf_counter() - start) / count, (time.process_time() - cpu) / count
        after = server.read() if before is not None else None
        server_seconds[0] = 0.0 if after is None or before is None else (after - before) / count
        return wall, cpu

    if args.profile:
        _profile(run, args.profile, args.requests)
        return 0
    counter = StatementCounter(state.storage.engine) if args.statements and args.backend in SQL_BACKENDS else None
    # Wall time includes the database's side of each round trip; CPU time is this process
    # alone and moves less with the machine's load.
    base, base_cpu = run("ceiling", args.requests)
    extra = f" {'stmts':>6} {'commits':>7} {'driver us':>9}" if counter else ""
    if server is not None:
        extra += f" {'db cpu us':>9} {'both us':>9} {'x ceiling':>9}"
    print(f"{'workload':<22} {'wall us':>9} {'x ceiling':>9} {'cpu us':>9} {'x ceiling':>9}{extra}")
    for name in names:
        if counter:
            counter.reset()
        wall, cpu = (base, base_cpu) if name == "ceiling" else run(name, args.requests)
        line = f"{name:<22} {wall * 1e6:>9.0f} {wall / base:>9.2f} {cpu * 1e6:>9.0f} {cpu / base_cpu:>9.2f}"
        if counter:
            # Warm-up requests are counted too: per request over count + warm-up.
            statements, commits, driver = counter.reset()
            requests = args.requests + WARM if name != "ceiling" else 1
            line += f" {statements / requests:>6.2f} {commits / requests:>7.2f} {driver / requests * 1e6:>9.0f}"
        if server is not None:
            database = 0.0 if name == "ceiling" else server_seconds[0]
            line += f" {database * 1e6:>9.0f} {(cpu + database) * 1e6:>9.0f} {(cpu + database) / base_cpu:>9.2f}"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
