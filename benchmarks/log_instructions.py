"""The provisioning log's write cost in instructions: `python -m benchmarks.logbench --instructions`.

logbench's timed comparison moves by about ±0.04 from one run to the next on a shared 2-core
machine, as much as the gap it measures. The number of instructions a process executes does
not move with the machine's load (see `benchmarks/instructions.py`), so this counts them with
`valgrind --tool=callgrind`:
- For each workload and side (the same tenants and seeded log as the timed comparison,
  `WriteSide`), a child under valgrind builds the side's app and sends WARM requests, then
  either none or `--requests` more. The difference of the two counts, divided by the extra
  requests, is one request's cost without start-up. On SQLite each child works on its own copy
  of the side's file, so both start from the same pages.
- In the child the log's waiting entries are stored every BATCH requests, as its writer does
  at about 1,000 requests a second. The writer wakes by the clock, which valgrind slows about
  fiftyfold, so the child stores them itself.
- Pruning is counted apart. At the steady state one entry is pruned for each one written, in
  runs of PRUNED (the interval at the default cap). A child prunes PRUNED entries the parent
  appended beyond the cap, and another prunes none; their difference per entry is added to the
  log-on side.

The count covers this process only. The database server's own work (Redis's scripts,
PostgreSQL's inserts and its pruning scan) is in neither side; SQLite is fully counted.
Needs `valgrind` on PATH.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from scimflask_sql.engine import is_memory_sqlite
from sqlalchemy.engine import make_url

from .directory import user_document
from .instructions import callgrind

WARM = 20      # requests in both runs of a pair: the difference leaves them out
BATCH = 250    # requests per stored batch in the child
PRUNED = 2_000  # entries one prune removes at the default cap (PRUNE_SHARE of 100,000)


def run_requests(config: dict, workload: str, count: int, users: int, prefix: str) -> None:
    """The child: the side's app, WARM + `count` requests, the log stored every BATCH."""
    import scimflask

    from . import logbench

    random.seed(1)
    app = scimflask.create_app(config)
    state = app.extensions["scim"]
    state.log._wake_writer = lambda: None  # the child stores the batches itself
    state.log._due_for_pruning = lambda tenant, added=1: False  # counted by `run_prune`
    prepared = []
    for number in range(WARM + count):
        if workload == "patch":
            method, path, query, body = logbench._patch(random.randrange(users))
        else:
            method, path, query, body = "POST", "/scim/v2/Users", "", user_document(number, prefix=prefix)
        prepared.append(logbench.prepare(method, path, query, body))
    for number, item in enumerate(prepared, 1):
        status, answer = logbench.call(app, item)
        if status >= 400:
            raise SystemExit(f"{workload}: HTTP {status} {answer[:200]!r}")
        if number % BATCH == 0:
            state.log.flush()
    state.close()


def run_prune(config: dict, tenant: str, keep: int) -> None:
    """The child: prune the tenant's log to `keep` entries, as the writer does at the cap."""
    import scimflask

    state = scimflask.create_app(config).extensions["scim"]
    state.log.store.prune_log(tenant, keep=keep, older_than=datetime.now(timezone.utc) - state.log.retention)
    state.close()


def _count(*arguments: str) -> int:
    """Instructions valgrind counts for one child run."""
    return callgrind("benchmarks.log_instructions", *arguments)


@contextlib.contextmanager
def _own_copy(config: dict) -> Iterator[dict]:
    """`config` for one child. On SQLite, pointed at a copy of the side's file made for this
    child alone: the work SQLite does (the pages it reads, when the WAL is checkpointed) depends
    on what the file holds. Children sharing the file each start from what the previous ones
    left, and the same run was seen to count 10 % more or less for that alone."""
    url = make_url(config["SCIM_STORAGE_URI"])
    if url.get_backend_name() != "sqlite" or is_memory_sqlite(url):
        yield config
        return
    with contextlib.closing(sqlite3.connect(url.database)) as source:
        # Every committed page into the main file, which is all that is copied.
        busy, in_wal, moved = source.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy or moved != in_wal:
        raise RuntimeError(f"{url.database}: a transaction kept the WAL from being checkpointed; "
                           "nothing may write meanwhile")
    with tempfile.TemporaryDirectory(prefix="scimflask-li-") as directory:
        path = os.path.join(directory, "copy.db")
        shutil.copyfile(url.database, path)
        yield {**config, "SCIM_STORAGE_URI": url.set(database=path).render_as_string(hide_password=False)}


def _count_on_copy(config: dict, kind: str, *arguments: str) -> int:
    with _own_copy(config) as own:
        return _count(kind, json.dumps(own), *arguments)


def _pair(config: dict, workload: str, requests: int, users: int, tag: str) -> int:
    """Instructions of one request: a run of WARM + `requests` against one of WARM, side by side
    (each counts its own instructions), each from the same stored state."""
    with ThreadPoolExecutor(2) as pool:
        many = pool.submit(_count_on_copy, config, "requests", workload, str(requests), str(users), f"li{tag}m")
        few = pool.submit(_count_on_copy, config, "requests", workload, "0", str(users), f"li{tag}f")
        return round((many.result() - few.result()) / requests)


def _pruning(side, keep: int) -> int:
    """Instructions of pruning one entry at the cap: a prune of PRUNED entries beyond it
    against one of none (on SQLite, a copy of the file taken before they were added; on a
    server, the same store once the first prune has removed them)."""
    from .logbench import seed_log

    storage = side.state.storage
    storage.prune_log(side.tenant, keep=keep)
    with _own_copy(side.config) as at_cap:
        seed_log(storage, side.tenant, PRUNED, seed=13, config=side.config)
        many = _count("prune", json.dumps(side.config), side.tenant, str(keep))
        few = _count("prune", json.dumps(at_cap), side.tenant, str(keep))
    return round((many - few) / PRUNED)


def instruction_cost(store, args, rows: list[dict], sides: dict, workloads: dict) -> None:
    """Instructions per request of each workload, log on and off, for `store`'s sides."""
    from .logbench import DEFAULT_MAX_ENTRIES, log

    if shutil.which("valgrind") is None:
        raise RuntimeError("valgrind is not installed: apt-get install valgrind")
    keep = min(args.entries, DEFAULT_MAX_ENTRIES)
    log(f"[{store.name}] instructions: pruning {PRUNED:,} entries at a cap of {keep:,}")
    pruning = _pruning(sides["on"], keep)
    for label, workload in workloads.items():
        counts = {mode: _pair(side.config, workload, args.instruction_requests, side.users, f"{mode}{workload}")
                  for mode, side in sides.items()}
        on = counts["on"] + pruning
        rows.append({"backend": store.name, "workload": label, "off": counts["off"], "requests_on": counts["on"],
                     "pruning": pruning, "on": on, "ratio": counts["off"] / on,
                     "requests": args.instruction_requests})
        log(f"[{store.name}] {label}: {counts['off']:,} instructions a request with the log off, {on:,} on "
            f"(pruning {pruning:,}); off/on {counts['off'] / on:.3f}")


def render(rows: list[dict]) -> list[str]:
    if not rows:
        return []
    lines = ["", "### Provisioning log: write cost in instructions (valgrind, this process only)", "",
             "| backend | workload | requests counted | log off | log on: requests | log on: pruning "
             "(per entry) | log on | off/on |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['backend']} | {row['workload']} | {row['requests']} | {row['off']:,} | "
                     f"{row['requests_on']:,} | {row['pruning']:,} | {row['on']:,} | {row['ratio']:.3f} |")
    return lines


if __name__ == "__main__":
    kind, arguments = sys.argv[1], sys.argv[2:]
    if kind == "requests":
        run_requests(json.loads(arguments[0]), arguments[1], int(arguments[2]), int(arguments[3]), arguments[4])
    else:
        run_prune(json.loads(arguments[0]), arguments[1], int(arguments[2]))
