"""Instructions per request, counted by valgrind: a cost measure the machine's load cannot move.

On a shared 2-core machine the timings of `benchmarks.inprocess` move by ±20% from one minute
to the next, which hides a 5% change. `valgrind --tool=callgrind` counts the instructions the
server process executes instead of timing them: the same code and the same requests give the
same count whatever else the machine runs. Each workload runs twice, with a few requests and
with many more; the difference divided by the extra requests is the cost of one request,
without start-up and seeding:

    python -m benchmarks.instructions --backend memory --only ceiling,get-by-id,patch-title
    python -m benchmarks.instructions --backend sqlite --requests 100

The count covers this process only: a database server's own work (PostgreSQL, MariaDB, Redis)
is not in it, and on those backends the driver's wait loops add a little that depends on how
fast the answer came. SQLite and memory are fully counted. Needs `valgrind` on PATH.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys

from .directory import seed_users
from .inprocess import TOKEN, _call, _environ, _storage_uri, _workloads

SEEDED = 200     # users in the directory the requests address
WARM = 20        # requests in both runs: the difference leaves them out
COLLECTED = re.compile(r"Collected : (\d+)")


def run_requests(backend: str, workload: str, count: int, uri: str) -> None:
    """The child: build the app on `uri`, then send WARM + `count` requests of `workload`."""
    import scimflask

    from .apps import ceiling_app

    random.seed(1)
    if workload == "ceiling":
        app = ceiling_app()
        prepared = [_environ("GET", "/scim/v2/Users", 'filter=userName eq "x"')] * (WARM + count)
    else:
        app = scimflask.create_app({"SCIM_STORAGE_URI": uri, "SCIM_BEARER_TOKENS": (TOKEN,),
                                    "SCIM_DEFAULT_TENANT": "inprocess", "SCIM_SECRET_KEY": "s",
                                    "SCIM_LOG_ENABLED": False})
        state = app.extensions["scim"]
        if backend not in ("memory", "sqlite"):
            state.storage.delete_tenant("inprocess")
        seed_users(state, "inprocess", 0, SEEDED, threads=1)
        make = _workloads(SEEDED)[workload]
        prepared = [_environ(*make(random.randrange(SEEDED))) for _ in range(WARM + count)]
    for environ, data in prepared:
        status = _call(app, environ, data)
        if status >= 400:
            raise SystemExit(f"{workload}: HTTP {status}")


def callgrind(module: str, *arguments: str, timeout: float = 3600) -> int:
    """Instructions valgrind counts for `python -m module arguments...`; RuntimeError if the
    run fails."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
               sys.executable, "-m", module, *arguments]
    # A fixed hash seed: set and dict orders, and so the work they cause, repeat run to run.
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONHASHSEED": "0"}, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    found = COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"valgrind run of {module} {' '.join(arguments[:2])} failed\n{done.stderr[-2000:]}")
    return int(found.group(1))


def count_instructions(backend: str, workload: str, count: int) -> int:
    """Instructions valgrind counts for one child run of `count` requests (after seeding)."""
    try:
        return callgrind("benchmarks.instructions", "--child", backend, workload, str(count), _storage_uri(backend),
                         timeout=1800)
    except RuntimeError as exc:
        raise SystemExit(f"{workload} on {backend}: {exc}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="memory")
    parser.add_argument("--requests", type=int, default=100, help="extra requests of the longer run")
    parser.add_argument("--only", default="ceiling,get-by-id,lookup-userName,patch-title,create-user")
    parser.add_argument("--child", nargs=4, metavar=("BACKEND", "WORKLOAD", "COUNT", "URI"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        backend, workload, count, uri = args.child
        run_requests(backend, workload, int(count), uri)
        return 0
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed: apt-get install valgrind")
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(names) - set(_workloads(SEEDED))
    if unknown:
        raise SystemExit(f"unknown workload(s): {', '.join(sorted(unknown))}")
    print(f"{'workload':<22} {'instructions':>13} {'x ceiling':>9}")
    ceiling = None
    for name in (["ceiling"] if "ceiling" not in names else []) + names:
        few = count_instructions(args.backend, name, 0)
        many = count_instructions(args.backend, name, args.requests)
        per_request = (many - few) // args.requests
        if name == "ceiling":
            ceiling = per_request
        if name in names:
            print(f"{name:<22} {per_request:>13,} {per_request / ceiling:>9.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
