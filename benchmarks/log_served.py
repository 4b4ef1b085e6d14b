"""The provisioning log's write cost through a served app: `python -m benchmarks.logbench --served`.

logbench's own write cost is server time in process, one request at a time: the strictest
reading, since nothing else (HTTP, other requests) shares the cost. This measures what a
deployment sees. The log-on and the log-off app (the same tenants and seeded log as in process,
`WriteSide`) each run under gunicorn (one worker, gthread, 4 threads: `server.Gunicorn`), driven
by keep-alive HTTP clients in a forked process (`load.run_load`) in alternating rounds of
`--seconds` each (on-off, off-on, ...), so the machine's drift falls on both sides alike. The
bare-Flask ceiling under the same server is measured once per backend, before the rounds, as the
scale of the figures. Each log-on request makes one entry: the entries the log-on server stored
(read after it exited, which stores its waiting ones) are counted against the requests it
answered.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from pathlib import Path

from .directory import PATCH_OP, user_document, user_id
from .load import run_load
from .report import round_spread
from .server import Gunicorn

CONCURRENCY = 4
WARM_UP_SECONDS = 1.0


def _script(workload: str, mode: str, users: int, tag: str):
    """A client thread's loop: PATCH a random user, or POST a new one (names unique per round
    and thread)."""

    def patch(slot: int, client) -> None:
        rng = random.Random(f"{tag}-{slot}")
        while not client.expired():
            body = {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "title",
                                                           "value": f"T{rng.random()}"}]}
            client.send("write", "PATCH", f"/scim/v2/Users/{user_id(rng.randrange(users))}", body)

    def post(slot: int, client) -> None:
        made = 0
        while not client.expired():
            made += 1
            client.send("write", "POST", "/scim/v2/Users",
                        user_document(made, prefix=f"ls{mode}{tag}s{slot}n"), ok=(201,))

    return patch if workload == "patch" else post


def _rate(port: int, token: str, script, seconds: float) -> tuple[int, float]:
    """(requests answered, seconds) of one round; an error fails the run."""
    result = run_load(port, token, script, concurrency=CONCURRENCY, duration=seconds, processes=1)
    if result.total_errors():
        raise RuntimeError(f"served round: {result.total_errors()} errors, e.g. {result.error_samples[:1]}")
    return result.count(), result.elapsed


def ceiling_rate(seconds: float, logs: Path) -> float:
    """Requests/s of the bare-Flask ceiling app (one fixed ListResponse) under the same server."""

    def get(slot: int, client) -> None:
        while not client.expired():
            client.send("ceiling", "GET", "/scim/v2/Users")

    with Gunicorn("benchmarks.apps:ceiling_app()", 1, {}, logs / "ceiling.log", "/scim/v2/Users") as server:
        _rate(server.port, "none", get, WARM_UP_SECONDS)
        count, elapsed = _rate(server.port, "none", get, seconds)
    return count / elapsed


def served_write_cost(store, args, rows: list[dict]) -> None:
    """Log on against log off, each under gunicorn, for each workload."""
    from .logbench import (  # logbench imports this module: read at call time
        DEFAULT_MAX_ENTRIES,
        RATIO_TARGET,
        SCIM_TOKEN,
        WORKLOADS,
        WriteSide,
        log,
    )

    log_entries = min(args.entries, DEFAULT_MAX_ENTRIES)
    log(f"[{store.name}] served write cost: two tenants of {args.users:,} users, the log-on one with "
        f"{log_entries:,} entries")
    sides = {mode: WriteSide(store, mode, args.users, log_entries, kind="-served") for mode in ("on", "off")}
    for side in sides.values():
        side.close()  # the servers below open the store themselves
    logs = Path(tempfile.mkdtemp(prefix="scimflask-logbench-served-"))
    servers = {mode: Gunicorn("benchmarks.apps:configured_app()", 1,
                              {"BENCH_APP_CONFIG": json.dumps(side.config)}, logs / f"{mode}.log",
                              "/scim/v2/ServiceProviderConfig", {"Authorization": f"Bearer {SCIM_TOKEN}"})
               for mode, side in sides.items()}
    answered = {mode: 0 for mode in servers}
    own: list[dict] = []

    def run(mode: str, workload: str, tag: str, seconds: float) -> tuple[int, float]:
        count, elapsed = _rate(servers[mode].port, SCIM_TOKEN, _script(workload, mode, args.users, tag), seconds)
        answered[mode] += count
        return count, elapsed

    try:
        ceiling = ceiling_rate(args.seconds, logs)
        log(f"[{store.name}] served: bare-Flask ceiling {ceiling:,.0f} req/s")
        for server in servers.values():
            server.start()
        for label, workload in WORKLOADS.items():
            for mode in servers:  # warm-up: caches, pools, the writer thread, the first prune
                run(mode, workload, "w", WARM_UP_SECONDS)
            totals = {mode: [0, 0.0] for mode in servers}
            ratios = []
            for round_number in range(args.rounds):
                rate = {}
                for mode in ("on", "off") if round_number % 2 == 0 else ("off", "on"):
                    count, elapsed = run(mode, workload, f"{round_number}", args.seconds)
                    totals[mode][0] += count
                    totals[mode][1] += elapsed
                    rate[mode] = count / elapsed
                ratios.append(rate["on"] / rate["off"])
            on, off = (totals[mode][0] / totals[mode][1] for mode in ("on", "off"))
            own.append({"backend": store.name, "workload": label, "rps_on": on, "rps_off": off,
                        "ratio": on / off, "round_ratios": ratios, "ceiling": ceiling,
                        "rounds": args.rounds, "seconds": args.seconds,
                        "target": f"{'met' if on / off >= RATIO_TARGET else 'MISSED'} (>= {RATIO_TARGET:g})"})
            log(f"[{store.name}] served {label}: on {on:,.0f} req/s, off {off:,.0f} req/s, on/off {on / off:.3f}")
    finally:
        for server in servers.values():
            server.stop()  # SIGTERM: the worker stores its waiting entries as it exits
        shutil.rmtree(logs, ignore_errors=True)  # a server that failed to start quoted its log's tail
    stored = {mode: _stored(side) for mode, side in sides.items()}
    if stored["off"]:
        raise RuntimeError("the served log-off side stored entries: the modes are mixed up")
    for row in own:  # the entries of both workloads, warm-ups included, against every answered request
        row.update(stored=stored["on"], sent=answered["on"])
    rows.extend(own)


def _stored(side) -> int:
    """Entries of the side's tenant stored since its seeding (read through an app of its own)."""
    import scimflask
    from scimflask.storage.capabilities import LogQuery

    state = scimflask.create_app(dict(side.config)).extensions["scim"]
    try:
        return len(state.log.query(side.tenant, LogQuery(limit=10_000_000, since=side.began)))
    finally:
        state.close()


def render(rows: list[dict]) -> list[str]:
    """The served table's Markdown lines (none without rows)."""
    if not rows:
        return []
    lines = ["", "### Provisioning log: write cost served (gunicorn 1 worker × 4 threads, "
                 f"{CONCURRENCY} keep-alive HTTP clients)", "",
             "| backend | workload | rounds × seconds | req/s ceiling | req/s log on | req/s log off | on/off | "
             "per round: median (min–max) | entries stored | target |",
             "|---|---|---|---:|---:|---:|---:|---|---:|---|"]
    for row in rows:
        spread = round_spread(row["round_ratios"])
        lines.append(f"| {row['backend']} | {row['workload']} | {row['rounds']} × {row['seconds']:g} s | "
                     f"{row['ceiling']:,.0f} | {row['rps_on']:,.1f} | {row['rps_off']:,.1f} | {row['ratio']:.3f} | "
                     f"{spread} | {row['stored']:,} / {row['sent']:,} | {row['target']} |")
    return lines
