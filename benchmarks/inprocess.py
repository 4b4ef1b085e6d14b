"""Server-side cost of one request, measured in-process (no HTTP, no client in the way).

The HTTP benchmarks report shares of a bare-Flask ceiling, but on a 2-core machine the client
takes part of the CPU and the figures move with the load average. This tool calls the WSGI apps
directly with a prepared environ, so it shows the time the server itself spends per request,
for scimflask and for the bare-Flask ceiling, and optionally profiles one workload:

    python -m benchmarks.inprocess --backend memory --users 10000
    python -m benchmarks.inprocess --backend sqlite --users 10000 --profile lookup-userName
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import tempfile
import time

from werkzeug.test import EnvironBuilder

from .apps import ceiling_app
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
    parser.add_argument("--profile", help="profile this workload with pyinstrument")
    parser.add_argument("--only", help="comma-separated workloads to time")
    parser.add_argument("--config", action="append", default=[], metavar="KEY=JSON",
                        help="extra app configuration, e.g. SCIM_LOG_ENABLED=false")
    args = parser.parse_args(argv)

    import scimflask

    app = scimflask.create_app({"SCIM_STORAGE_URI": _storage_uri(args.backend), "SCIM_BEARER_TOKENS": (TOKEN,),
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
    ceiling = ceiling_app()
    workloads = _workloads(args.users)
    names = args.only.split(",") if args.only else list(workloads)

    def run(name: str, count: int) -> tuple[float, float]:
        make = workloads[name]
        warm = 20
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
        start, cpu = time.perf_counter(), time.process_time()
        for env, data in prepared:
            code = _call(target, env, data)
            if code >= 400:
                raise SystemExit(f"{name}: HTTP {code}")
        return (time.perf_counter() - start) / count, (time.process_time() - cpu) / count

    if args.profile:
        from pyinstrument import Profiler
        profiler = Profiler(interval=0.0002)
        profiler.start()
        run(args.profile, args.requests)
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False))
        return 0
    # Wall time includes the database's side of each round trip; CPU time is this process
    # alone and moves less with the machine's load.
    base, base_cpu = run("ceiling", args.requests)
    print(f"{'workload':<22} {'wall us':>9} {'x ceiling':>9} {'cpu us':>9} {'x ceiling':>9}")
    for name in names:
        wall, cpu = (base, base_cpu) if name == "ceiling" else run(name, args.requests)
        print(f"{name:<22} {wall * 1e6:>9.0f} {wall / base:>9.2f} {cpu * 1e6:>9.0f} {cpu / base_cpu:>9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
