"""Run the scimflask benchmarks: `python benchmarks/run.py [--quick] [--backends ...]`.

Starts the bare-Flask ceiling and scimflask on each backend under gunicorn, drives them over
HTTP from forked client processes, and writes JSON and Markdown to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import secrets
import shlex
import shutil
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import report, seeding, workloads  # noqa: E402
from benchmarks.backends import BACKENDS, REQUIRED, SQLITE_FILE, Unavailable, backend  # noqa: E402
from benchmarks.server import THREADS, Gunicorn, ServerError  # noqa: E402
from benchmarks.workloads import LOOKUPS, Target  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TENANT = "bench"
FAMILY_FILTER = 'name.familyName sw "Fam1"'
# What --only can pick: the Entra cycle, the lookups (every size), the group batches (every
# size), PATCH of one attribute, the listings, and the big group grown by PATCH; `substring` is
# the `co` / `sw` / `ew` lookups alone (part of `lookups`).
FAMILIES = ("entra", "lookups", "substring", "group-batches", "patch", "listing", "group-growth")
SUBSTRING_LOOKUPS = ("userName co", "userName sw", "userName ew")
_started = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - _started:6.1f}s] {message}", flush=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke run: small directory, 0.6 s per workload")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated, from: " + ", ".join(BACKENDS))
    parser.add_argument("--users", type=int, nargs="+", default=None,
                        help="directory sizes for the scaling runs; the largest is N for every other workload "
                             "(default 1000 10000; --quick: 200 300)")
    parser.add_argument("--members", type=int, default=None,
                        help="size M the big group is grown to by PATCH (default min(N, 5000))")
    parser.add_argument("--scaling-only", action="store_true",
                        help="only the scaling workloads (lookups and membership batches per size)")
    parser.add_argument("--only", default=None,
                        help="comma-separated workload families to run, from: " + ", ".join(FAMILIES)
                             + " (default all; users are seeded either way)")
    parser.add_argument("--keep", action="store_true",
                        help="PostgreSQL, MariaDB, Redis (SQLite with SCIMFLASK_BENCH_SQLITE_FILE): reuse the directory the previous run left (users and "
                             "scale groups already there are not seeded again), e.g. to re-measure a 1,000,000 step")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (memory:// always runs 1)")
    parser.add_argument("--duration", type=float, default=None, help="seconds per timed workload (default 5, quick 0.6)")
    parser.add_argument("--concurrency", type=int, default=None, help="client connections (default workers x 4)")
    args = parser.parse_args(argv)
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    args.only = set(FAMILIES) if args.only is None else {f.strip() for f in args.only.split(",") if f.strip()}
    if args.only - set(FAMILIES):
        parser.error(f"unknown workload family in --only; choose from {', '.join(FAMILIES)}")
    if args.keep and ({"memory"} | ({"sqlite"} if SQLITE_FILE is None else set())) & set(args.backends):
        parser.error("--keep needs a store that outlives a run: postgres, mysql, redis, or sqlite with "
                     "SCIMFLASK_BENCH_SQLITE_FILE set")
    for name in args.backends:
        if name not in BACKENDS:
            parser.error(f"unknown backend {name!r}; choose from {', '.join(BACKENDS)}")
    args.users = sorted(set(args.users or ([200, 300] if args.quick else [1000, 10000])))
    args.duration = args.duration or (0.6 if args.quick else 5.0)
    args.members = args.members or min(args.users[-1], 5000)
    args.concurrency = args.concurrency or args.workers * THREADS
    return args


def chosen_lookups(only: set[str]) -> list[str]:
    """The lookup workloads the `--only` families pick, in `LOOKUPS` order."""
    return [name for name in LOOKUPS
            if "lookups" in only or ("substring" in only and name in SUBSTRING_LOOKUPS)]


class RssSampler:
    """Samples the server workers' total RSS in the background; keeps the peak."""

    def __init__(self, server: Gunicorn) -> None:
        self.server, self.peak, self._stop = server, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, self.server.worker_rss_kib())


def measure_ceiling(workers: int, args, logs: Path) -> dict:
    with Gunicorn("benchmarks.apps:ceiling_app()", workers, {}, logs / f"ceiling-{workers}.log",
                  "/scim/v2/Users") as server:
        target = Target(server.port, "none", args.concurrency, args.duration)
        concurrent = workloads.ceiling(target)
        sequential = workloads.ceiling(target, concurrency=1)
    return {"rps": concurrent.rate("ceiling"),
            "p50_ms": round(concurrent.percentile("ceiling", 0.5) * 1000, 2),
            "p99_ms": round(concurrent.percentile("ceiling", 0.99) * 1000, 2),
            "seq_p50_ms": round(sequential.percentile("ceiling", 0.5) * 1000, 3),
            "errors": concurrent.total_errors() + sequential.total_errors()}


def merge_ceilings(first: dict, second: dict) -> dict:
    merged = {}
    for workers, a in first.items():
        b = second.get(workers, a)
        merged[workers] = {
            "rps": (a["rps"] + b["rps"]) / 2, "p50_ms": round((a["p50_ms"] + b["p50_ms"]) / 2, 2),
            "p99_ms": round((a["p99_ms"] + b["p99_ms"]) / 2, 2),
            "seq_p50_ms": round((a["seq_p50_ms"] + b["seq_p50_ms"]) / 2, 3),
            "samples": [a["rps"], b["rps"]], "errors": a["errors"] + b["errors"],
        }
    return merged


def run_backend(name: str, args, workdir: Path, logs: Path, rows: list[dict], memory: list[dict]) -> None:
    store = backend(name)
    store.prepare(workdir, keep=args.keep)
    workers = 1 if store.in_process else args.workers
    token = secrets.token_urlsafe(24)
    env = {"BENCH_STORAGE_URI": store.uri, "BENCH_TOKEN": token, "BENCH_TENANT": TENANT,
           "BENCH_SECRET": secrets.token_hex(16), "BENCH_SEED_ROUTE": "1" if store.in_process else "0"}
    server = Gunicorn("benchmarks.apps:scim_app()", workers, env, logs / f"{name}.log",
                      "/scim/v2/ServiceProviderConfig", {"Authorization": f"Bearer {token}"})
    try:
        server.start()
    except ServerError as exc:
        raise Unavailable(f"server did not start: {exc}") from None
    N = args.users[-1]

    def record(row: dict, phase: str, quiet: bool = False) -> None:
        row.update(backend=name, workers=workers, phase=phase)
        rows.append(row)
        if quiet:
            return
        extra = f" p50 {row['p50_ms']} ms p99 {row['p99_ms']} ms" if row["p50_ms"] is not None else ""
        errors = f" ERRORS {row['errors']}: {row['error_samples']}" if row["errors"] else ""
        log(f"[{name}] {row['workload']} @ {row['n']}: {row['value']:,} {row['unit']}{extra}{errors}")

    try:
        target = Target(server.port, token, args.concurrency, args.duration,
                        request_timeout=5.0 if args.quick else 60.0)
        rss_start = server.worker_rss_kib()
        if not args.scaling_only and "entra" in args.only:
            record(workloads.entra_cycle(target, N), "main")

        seeded, rss_seeded, rss_load = 0, rss_start, 0
        if args.keep:
            seeded = workloads.user_count(target)
            log(f"[{name}] kept {seeded:,} users from the previous run")
        for size in args.users:
            if size < seeded:  # a step means a directory of `size` users: not this one
                log(f"[{name}] step {size:,} skipped: the kept directory holds {seeded:,} users")
                continue
            if size > seeded:
                log(f"[{name}] seeding users {seeded:,} .. {size:,}")
                began = time.monotonic()
                seeding.seed_users(store, server.port, TENANT, seeded, size)
                store.refresh_statistics()
                log(f"[{name}] seeded {size - seeded:,} users in {time.monotonic() - began:.1f}s")
                seeded = size
            rss_seeded = server.worker_rss_kib()
            with RssSampler(server) as sampler:
                for lookup in chosen_lookups(args.only):
                    row = workloads.lookup(target, lookup, size)
                    record(row, "scale")
                    if size == N:
                        record(dict(row), "main", quiet=True)
            rss_load = max(rss_load, sampler.peak)
            if "group-batches" not in args.only:
                continue
            group = workloads.existing_group(target, f"scale-{size}") if args.keep else None
            if group is None:
                group = seeding.seed_group(store, server.port, TENANT, f"scale-{size}", size)
                store.refresh_statistics()
            for row in workloads.group_batches_at_size(target, group, size, batches=min(10, size // 100 - 1)):
                record(row, "scale")

        if not args.scaling_only:
            if "patch" in args.only:
                record(workloads.patch_one_attribute(target, N), "main")
            for cursor in (False, True) if "listing" in args.only else ():
                for expression in (None, FAMILY_FILTER):
                    record(workloads.listing(target, N, cursor=cursor, expression=expression,
                                             time_limit=max(3.0, args.duration * 8)), "main")
            if "group-growth" in args.only:
                for row in workloads.big_group_growth(target, args.members, time_limit=max(5.0, args.duration * 12)):
                    record(row, "main")
        memory.append({
            "backend": name, "workers": workers, "users": seeded, "rss_start_kib": rss_start,
            "rss_load_kib": rss_load,
            "kib_per_1000_users": (rss_seeded - rss_start) / seeded * 1000 if store.in_process else None,
        })
    finally:
        server.stop()


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} cores (nproc), {cpu}, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    RESULTS.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    logs = RESULTS / f"logs-{stamp}"
    logs.mkdir()
    # The SQLite directories (gigabytes at a million users) go with the run; a kept server
    # directory (--keep) lives in its database, not here.
    workdir = Path(tempfile.mkdtemp(prefix="scimflask-bench-"))
    try:
        return _run(args, stamp, logs, workdir, argv)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run(args: argparse.Namespace, stamp: str, logs: Path, workdir: Path, argv: list[str] | None) -> int:
    log(f"backends {', '.join(args.backends)}; users {args.users}; group M={args.members}; "
        f"workers {args.workers}; {args.concurrency} clients; {args.duration:g}s per workload")

    worker_counts = sorted({1 if b == "memory" else args.workers for b in args.backends})
    first = {}
    for workers in worker_counts:
        first[workers] = measure_ceiling(workers, args, logs)
        log(f"ceiling with {workers} worker(s): {first[workers]['rps']:,.0f} req/s, p50 {first[workers]['p50_ms']} ms, "
            f"one client p50 {first[workers]['seq_p50_ms']} ms")

    rows: list[dict] = []
    memory: list[dict] = []
    unavailable: dict[str, str] = {}
    for name in args.backends:
        log(f"[{name}] starting")
        try:
            run_backend(name, args, workdir, logs, rows, memory)
        except Unavailable as exc:
            unavailable[name] = str(exc)
            log(f"[{name}] unavailable: {exc}")
        except Exception as exc:  # one backend's failure must not lose the others' results
            with open(logs / f"{name}.log", "a") as log_file:
                traceback.print_exc(file=log_file)
            unavailable[name] = f"failed: {type(exc).__name__}: {exc}"
            log(f"[{name}] failed: {type(exc).__name__}: {exc} (traceback in {logs / name}.log)")

    second = {workers: measure_ceiling(workers, args, logs) for workers in worker_counts}
    ceilings = merge_ceilings(first, second)
    report.add_ratios(rows, ceilings)
    results = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
        "command": "python benchmarks/run.py " + shlex.join(sys.argv[1:] if argv is None else argv),
        "args": {k: v for k, v in vars(args).items()}, "ceilings": ceilings, "rows": rows,
        "memory": memory, "unavailable": unavailable, "scale_sizes": args.users if len(args.users) > 1 else [],
    }
    markdown = report.render(results)
    (RESULTS / f"{stamp}.json").write_text(json.dumps(results, indent=2, default=str))
    (RESULTS / f"{stamp}.md").write_text(markdown)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2, default=str))
    (RESULTS / "latest.md").write_text(markdown)
    print()
    print(markdown)
    log(f"results in {RESULTS / stamp}.json and .md")
    failed = [name for name in REQUIRED if name in unavailable]
    if failed:
        log(f"FAILED: could not run {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
