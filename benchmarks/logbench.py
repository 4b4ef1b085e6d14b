"""The provisioning log's two promises, measured in process: `python -m benchmarks.logbench`.

1. Query speed at scale: one tenant holds N log entries (default 1,000,000; 2% failures spread
   through a week), seeded straight through the backend's batch append (`append_logs`, no
   HTTP). The admin API's log endpoint is called as a WSGI app, many times: the newest page of
   50 failures, the next page by its cursor, and a text search for one user's entries (about
   20 of them, spread over the whole log). Target: p50 < 50 ms.
2. Write cost: PATCH (replace one attribute) and POST (create) with the log on and with
   SCIM_LOG_ENABLED=False, in alternating short rounds (on-off, off-on, ...) in one process,
   so the machine's drift falls on both sides alike. The log-on tenant already holds a full
   log (the default cap, 100,000 entries, or N if smaller), so retention prunes as it does in
   a steady deployment; the background writer's work is inside the timing. Target: throughput
   on / off >= 0.95. "CPU on/off" is the same ratio from this process's CPU time.

Server time only (no client, no HTTP), as in `benchmarks/inprocess.py`:

    python -m benchmarks.logbench                                   # sqlite,postgres,redis, 1M entries
    python -m benchmarks.logbench --backends sqlite --entries 100000
    python -m benchmarks.logbench --quick --entries 2000 --backends sqlite   # the smoke test's run
    python -m benchmarks.logbench --write-cost-only --backends memory,sqlite --rounds 40
    python -m benchmarks.logbench --write-cost-only --breakdown --entries 20000   # where the cost goes

`--breakdown` adds a table of the log's steps, timed while the log-on side runs
(`benchmarks/log_breakdown.py`). `--served` adds the write cost as a deployment sees it: both
apps under gunicorn, driven by HTTP clients (`benchmarks/log_served.py`). `--instructions` adds
it in instructions counted by valgrind, which the machine's load does not move
(`benchmarks/log_instructions.py`):

    python -m benchmarks.logbench --write-cost-only --served --entries 100000 --rounds 10
    python -m benchmarks.logbench --write-cost-only --instructions --entries 100000

PostgreSQL's log table is ANALYZEd after seeding, standing in for autovacuum (as run.py does).
Everything seeded is removed at the end: the SQLite directory, the PostgreSQL tables of a
table prefix of this run's own (`logbench_<hex>_`), the Redis keys of a key prefix of its own
(database 14). A run killed half-way leaves those behind.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from werkzeug.test import EnvironBuilder

from scimflask.storage.capabilities import LogEntry, LogQuery

from .directory import PATCH_OP, seed_users, user_document, user_id
from .log_breakdown import COLUMNS, Breakdown
from .log_instructions import instruction_cost
from .log_instructions import render as render_instructions
from .log_served import render as render_served
from .log_served import served_write_cost
from .report import round_spread

BACKENDS = ("memory", "sqlite", "postgres", "redis")
DEFAULT_BACKENDS = "sqlite,postgres,redis"
REQUIRED = ("memory", "sqlite")  # need no service: failing them fails the run
POSTGRES_URL = os.environ.get("SCIMFLASK_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SCIMFLASK_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
ADMIN_TOKEN = "logbench-admin-token"
SCIM_TOKEN = "logbench-scim-token"
ADMIN_PREFIX = "/scim-admin"
PAGE = 50
QUERY_TARGET_MS = 50.0
COMMON_WORD = "example"  # in the userName of every person the synthetic log names
RATIO_TARGET = 0.95
DEFAULT_MAX_ENTRIES = 100_000  # SCIM_LOG_MAX_ENTRIES_PER_TENANT's default: the write tenant's steady state
SEED_BATCH = 2_000
SPAN = timedelta(days=7)  # seeded entries lie in the last week, well inside the 30-day retention
FAILURE_SHARE = 0.02
MIN_ENTRIES = 1_000  # about 20 failures; a full second page takes 5,000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_started = time.monotonic()


def log(message: str) -> None:
    """Progress on stderr, so stdout holds only the tables."""
    print(f"[{time.monotonic() - _started:6.1f}s] {message}", file=sys.stderr, flush=True)


# -- stores ---------------------------------------------------------------------------------
class Unavailable(Exception):
    """The backend's service cannot be reached; the run reports it and goes on."""


@dataclass
class Store:
    """Where one backend's data goes for this run, and how to remove it afterwards."""

    name: str
    uri: str
    options: dict = field(default_factory=dict)
    tag: str = ""
    directory: str | None = None

    def config(self, tenant: str, **extra) -> dict:
        return {"SCIM_STORAGE_URI": self.uri, "SCIM_STORAGE_OPTIONS": dict(self.options),
                "SCIM_SECRET_KEY": "logbench", "SCIM_DEFAULT_TENANT": tenant, **extra}

    def cleanup(self) -> None:
        """Remove what this run stored (never anything of another prefix or database)."""
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)
        elif self.name == "postgres":
            _drop_postgres_tables(self.uri, self.options["table_prefix"])
        elif self.name == "redis":
            _delete_redis_keys(self.uri, self.options["prefix"])


def open_store(name: str) -> Store:
    """A fresh place for `name`'s data, its service checked; Unavailable if it cannot be used."""
    tag = secrets.token_hex(4)
    if name == "memory":
        return Store(name, "memory://", tag=tag)
    if name == "sqlite":
        directory = tempfile.mkdtemp(prefix="scimflask-logbench-")
        return Store(name, "sqlite:///" + os.path.join(directory, "log.db"), tag=tag, directory=directory)
    try:
        if name == "postgres":
            from sqlalchemy import create_engine, text

            engine = create_engine(POSTGRES_URL)
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            engine.dispose()
            return Store(name, POSTGRES_URL, {"table_prefix": f"logbench_{tag}_"}, tag)
        if name == "redis":
            import redis

            redis.Redis.from_url(REDIS_URL).ping()
            return Store(name, REDIS_URL, {"prefix": f"logbench-{tag}:"}, tag)
    except Exception as exc:  # any driver error means: this service is not usable now
        raise Unavailable(f"{type(exc).__name__}: {exc}".splitlines()[0][:160]) from None
    raise Unavailable(f"unknown backend {name!r}")


def _drop_postgres_tables(url: str, prefix: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as connection:
        names = connection.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND left(tablename, length(:prefix)) = :prefix"), {"prefix": prefix}).scalars().all()
        for table in names:
            connection.exec_driver_sql(f'DROP TABLE IF EXISTS "{table}" CASCADE')
    engine.dispose()


def _delete_redis_keys(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    batch = []
    for key in client.scan_iter(match=prefix + "*", count=2_000):
        batch.append(key)
        if len(batch) >= 2_000:
            client.unlink(*batch)
            batch = []
    if batch:
        client.unlink(*batch)
    client.close()


def analyze(store: Store, state, tables: tuple[str, ...] = ("log",)) -> None:
    """PostgreSQL: ANALYZE the tables, standing in for autovacuum (off on the benchmark machine;
    `run.py` does the same after seeding). Without it a tenant seeded after the last ANALYZE is
    missing from the `tenant` column's statistics and gets worse plans than one seeded before:
    the write-cost sides would then differ by the order they were made in (measured: 2x on
    PATCH). Other stores need nothing."""
    if store.name != "postgres":
        return
    with state.storage.engine.begin() as connection:
        for table in tables:
            connection.exec_driver_sql(f'ANALYZE "{store.options["table_prefix"]}{table}"')


# -- synthetic log entries --------------------------------------------------------------------
# (weight, client, User-Agent) of the identity providers sending the writes.
_CLIENTS = ((60, "entra", "Azure AD SCIM Provisioning/1.0"), (30, "okta", "Okta SCIM Client 1.0.0"),
            (10, "other", "python-requests/2.31.0"))
# (weight, method, resource type, status, changed) of successful writes.
_SUCCESSES = (
    (40, "PATCH", "User", 200, ("title",)), (12, "PATCH", "User", 200, ("active",)),
    (6, "PATCH", "User", 200, ("emails", "name")), (15, "POST", "User", 201, ()),
    (5, "PUT", "User", 200, ("displayName", "emails", "name", "title")), (4, "DELETE", "User", 204, ()),
    (16, "PATCH", "Group", 200, ("members",)), (2, "POST", "Group", 201, ()),
)
# (weight, method, resource type, status, scimType, detail) of failed ones.
_FAILURES = (
    (35, "POST", "User", 409, "uniqueness", 'userName "…" is already taken'),
    (25, "PATCH", "User", 404, None, "Resource … not found"),
    (15, "PATCH", "User", 400, "invalidValue", 'Attribute "…" has an invalid value'),
    (10, "PATCH", "Group", 400, "invalidValue", 'Member "…" does not exist'),
    (10, "DELETE", "User", 404, None, "Resource … not found"),
    (5, "PUT", "User", 400, "invalidSyntax", "Request body is not valid JSON"),
)



def _slots(table: tuple) -> list[tuple]:
    """The rows of `table`, each repeated as often as its weight (the weights add up to 100):
    a pick is then one random index (seeding makes millions of picks; `random.choices` with
    weights costs several times more)."""
    return [row for row in table for _ in range(row[0])]


_CLIENT_SLOTS, _SUCCESS_SLOTS, _FAILURE_SLOTS = _slots(_CLIENTS), _slots(_SUCCESSES), _slots(_FAILURES)


def population(count: int) -> tuple[list[tuple], list[tuple]]:
    """(people, groups) the entries name: about 20 entries per person; (id, userName,
    displayName, externalId) each, groups with a displayName only."""
    people = [(user_id(i, "logu"), f"logu{i}@example.com", f"Given{i} Fam{i}", f"logu-ext-{i}")
              for i in range(max(100, count // 20))]
    groups = [(user_id(i, "logg"), None, f"Team {i}", None) for i in range(max(10, count // 5_000))]
    return people, groups


def synthetic_entry(tenant: str, micros: int, rng: random.Random, people: list, groups: list):
    """One entry as the log writes it: mostly successful writes, FAILURE_SHARE failures."""
    _, client, agent = _CLIENT_SLOTS[int(rng.random() * 100)]
    failed = rng.random() < FAILURE_SHARE
    if failed:
        _, method, kind, status, scim_type, detail = _FAILURE_SLOTS[int(rng.random() * 100)]
        changed: tuple = ()
    else:
        _, method, kind, status, changed = _SUCCESS_SLOTS[int(rng.random() * 100)]
        scim_type = detail = None
    target = rng.choice(groups if kind == "Group" else people)
    named = not (method == "POST" and failed)  # a create that failed made no resource
    endpoint = "/Groups" if kind == "Group" else "/Users"
    return LogEntry(
        id=f"{micros:015x}{rng.getrandbits(32):08x}", tenant=tenant,
        time=_EPOCH + timedelta(microseconds=micros), method=method,
        path=f"{endpoint}/{target[0]}" if method != "POST" else endpoint, status=status,
        outcome="failure" if failed else "success", token_id=f"tok-{client}", resource_type=kind,
        resource_id=target[0] if named else None, changed=changed, detail=detail, scim_type=scim_type,
        user_name=target[1], display_name=target[2], external_id=target[3],
        request_id=f"{rng.getrandbits(64):016x}", duration_ms=max(1, int(rng.lognormvariate(2.2, 0.6))),
        client=client, user_agent=agent)


def _seed_part(storage, tenant: str, count: int, seed: int, first: int, part: int, parts: int) -> None:
    """Append the batches numbered `part`, `part + parts`, ...; each batch's content depends only
    on `seed` and its position, so the log is the same however many processes write it."""
    people, groups = population(count)
    step = SPAN / timedelta(microseconds=1) / count
    began, reported = time.perf_counter(), 0
    for number, start in enumerate(range(0, count, SEED_BATCH)):
        if number % parts != part:
            continue
        rng = random.Random(seed * 1_000_003 + start)
        storage.append_logs([synthetic_entry(tenant, first + int(i * step), rng, people, groups)
                             for i in range(start, min(start + SEED_BATCH, count))])
        done = min(start + SEED_BATCH, count)
        if part == 0 and done * 10 // count > reported:
            reported = done * 10 // count
            log(f"  about {done:,} / {count:,} entries, {time.perf_counter() - began:.1f}s")


def _seed_child(config: dict, tenant: str, count: int, seed: int, first: int, part: int, parts: int) -> None:
    import scimflask

    storage = scimflask.create_app(config).extensions["scim"].storage
    try:
        _seed_part(storage, tenant, count, seed, first, part, parts)
    finally:
        storage.close()


def seed_log(storage, tenant: str, count: int, *, seed: int = 7, config: dict | None = None,
             parts: int = 1) -> float:
    """Append `count` entries in time order over the SPAN before now; return the seconds it took.

    With `parts` > 1, forked processes (each with a store of its own, built from `config`)
    write every `parts`-th batch beside this one: PostgreSQL and Redis then work while
    Python builds the next batch. SQLite has one writer at a time, so it gains nothing.
    """
    first = (datetime.now(timezone.utc) - SPAN - _EPOCH) // timedelta(microseconds=1)
    began = time.perf_counter()
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=_seed_child, args=(config, tenant, count, seed, first, part, parts))
                for part in range(1, parts)]
    for child in children:
        child.start()
    try:
        _seed_part(storage, tenant, count, seed, first, 0, parts)
    finally:
        for child in children:
            child.join()
    if any(child.exitcode != 0 for child in children):
        raise RuntimeError("a log seeding process failed")
    return time.perf_counter() - began


def seed_parts(store: Store) -> int:
    return 2 if store.name in ("postgres", "redis") else 1


# -- requests in process ----------------------------------------------------------------------
def prepare(method: str, path: str, query: str = "", body: dict | None = None,
            token: str = SCIM_TOKEN) -> tuple[dict, bytes]:
    """A WSGI environ (without its input) and the body bytes, built before any timing."""
    data = json.dumps(body).encode() if body is not None else b""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/scim+json"}
    if body is not None:
        headers["Content-Type"] = "application/scim+json"
    environ = EnvironBuilder(path=path, method=method, query_string=query, data=data or None,
                             headers=headers).get_environ()
    return environ, data


def call(app, prepared: tuple[dict, bytes]) -> tuple[int, bytes]:
    """Run one request through the WSGI app; (status, body)."""
    environ, data = prepared
    environ = dict(environ)
    environ["wsgi.input"] = io.BytesIO(data)
    status: list[str] = []

    def start_response(line, headers, exc_info=None):
        status.append(line)

    body = b"".join(app(environ, start_response))
    return int(status[0].split()[0]), body


def admin_log(app, tenant: str, query: str) -> tuple[dict, bytes]:
    return prepare("GET", f"{ADMIN_PREFIX}/tenants/{tenant}/log", query, token=ADMIN_TOKEN)


def percentile(samples: list[float], share: float) -> float:
    """Nearest rank (p95 of 200 calls: the 191st fastest)."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def time_request(app, prepared, reps: int, budget: float, first: float) -> list[float]:
    """Seconds per call, after warm-up: `reps` calls, or as many as fit in `budget` seconds but
    at least 5. `first` is how long the first call (the one checked) took: a query slower than
    a third of the budget (a scan of a million entries) gets just 2 more calls, so it cannot
    hold the run for many minutes."""
    slow = first > budget / 3
    for _ in range(0 if slow else 2):
        call(app, prepared)
    least = 2 if slow else 5
    samples: list[float] = []
    deadline = time.perf_counter() + budget
    while len(samples) < reps and (len(samples) < least or time.perf_counter() < deadline):
        start = time.perf_counter()
        status, _ = call(app, prepared)
        samples.append(time.perf_counter() - start)
        if status != 200:
            raise RuntimeError(f"admin log query answered HTTP {status}")
    return samples


# -- 1. log query speed -------------------------------------------------------------------------
def query_cases(app, tenant: str, needle: str) -> list[tuple[str, tuple, dict, float]]:
    """(label, prepared request, its first answer, seconds the first call took) for each
    measured query, answers checked: newest first, failures only, after the cursor, holding
    the needle."""
    def fetch(query: str) -> tuple[tuple, dict, float]:
        prepared = admin_log(app, tenant, query)
        start = time.perf_counter()
        status, body = call(app, prepared)
        if status != 200:
            raise RuntimeError(f"admin log {query}: HTTP {status} {body[:200]!r}")
        return prepared, json.loads(body), time.perf_counter() - start

    first_request, first, first_took = fetch(f"outcome=failure&limit={PAGE}")
    entries = first["entries"]
    ids = [entry["id"] for entry in entries]
    if not entries or len(entries) > PAGE or ids != sorted(ids, reverse=True) or \
            any(entry["outcome"] != "failure" for entry in entries) or \
            first["next"] != (ids[-1] if len(entries) == PAGE else None):
        raise RuntimeError("the failures page is not up to 50 failures, newest first, with its cursor")
    # The cursor is `next`; a small log (the smoke test's) has no second page: its last id stands in.
    next_request, second, next_took = fetch(f"outcome=failure&limit={PAGE}&before={ids[-1]}")
    if any(e["outcome"] != "failure" or e["id"] >= ids[-1] for e in second["entries"]):
        raise RuntimeError("the next failures page does not follow the cursor")
    text_request, found, text_took = fetch(f"q={needle}&limit={PAGE}")
    if not found["entries"] or any(needle not in (e["userName"] or "") for e in found["entries"]):
        raise RuntimeError(f"the text search for {needle!r} found nothing or the wrong entries")
    # A word nearly every entry holds: answered by walking the log newest first, not from the
    # list of every entry holding it.
    common_request, common, common_took = fetch(f"q={COMMON_WORD}&limit={PAGE}")
    if len(common["entries"]) != PAGE or any(COMMON_WORD not in (e["userName"] or "") for e in common["entries"]):
        raise RuntimeError(f"the text search for {COMMON_WORD!r} did not find a page of entries holding it")
    return [("failures only, newest page of 50", first_request, first, first_took),
            ("failures only, next page (cursor)", next_request, second, next_took),
            (f"text q={needle}, page of 50", text_request, found, text_took),
            (f"text q={COMMON_WORD} (a word most entries hold), page of 50", common_request, common, common_took)]


def query_speed(store: Store, args, rows: list[dict]) -> None:
    """Seed one tenant with `args.entries` entries and time the admin log queries on it."""
    import scimflask

    tenant = f"logbench-q-{store.tag}"
    config = store.config(tenant, SCIM_ADMIN_TOKENS=(ADMIN_TOKEN,),
                          SCIM_LOG_MAX_ENTRIES_PER_TENANT=max(args.entries, DEFAULT_MAX_ENTRIES))
    app = scimflask.create_app(dict(config))
    state = app.extensions["scim"]
    try:
        log(f"[{store.name}] seeding {args.entries:,} log entries into {tenant}")
        seconds = seed_log(state.storage, tenant, args.entries, config=config, parts=seed_parts(store))
        analyze(store, state)
        log(f"[{store.name}] seeded {args.entries:,} entries in {seconds:.1f}s "
            f"({args.entries / seconds:,.0f}/s)")
        people, _ = population(args.entries)
        needle = people[len(people) // 3][1]  # one user's entries, spread over the whole log
        for label, prepared, answer, took in query_cases(app, tenant, needle):
            samples = time_request(app, prepared, args.reps, args.budget, took)
            p50, p95 = statistics.median(samples) * 1000, percentile(samples, 0.95) * 1000
            verdict = "met" if p50 < QUERY_TARGET_MS else "MISSED"
            rows.append({"backend": store.name, "query": label, "entries": args.entries,
                         "hits": len(answer["entries"]), "reps": len(samples), "p50_ms": p50, "p95_ms": p95,
                         "target": f"{verdict} (p50 < {QUERY_TARGET_MS:g} ms)",
                         "seed_s": seconds})
            log(f"[{store.name}] {label}: p50 {p50:.2f} ms, p95 {p95:.2f} ms ({len(samples)} calls)")
    finally:
        state.close()


# -- 2. log write cost --------------------------------------------------------------------------
def _patch(i: int) -> tuple[str, str, str, dict]:
    return ("PATCH", f"/scim/v2/Users/{user_id(i)}", "",
            {"schemas": [PATCH_OP], "Operations": [{"op": "Replace", "path": "title", "value": f"T{i}-{random.random()}"}]})


WORKLOADS = {"PATCH replace one attribute": "patch", "POST create user": "post"}


class WriteSide:
    """One app (log on or off) with its own tenant and directory, and its request maker."""

    def __init__(self, store: Store, mode: str, users: int, log_entries: int, kind: str = "") -> None:
        import scimflask

        self.mode, self.users, self.created, self.sent = mode, users, 0, 0
        self.tenant = f"logbench-{mode}{kind}-{store.tag}"
        self.config = config = store.config(self.tenant, SCIM_BEARER_TOKENS=(SCIM_TOKEN,),
                                            SCIM_LOG_ENABLED=mode == "on")
        self.app = scimflask.create_app(dict(config))
        self.state = self.app.extensions["scim"]
        seed_users(self.state, self.tenant, 0, users, threads=1 if store.name in ("memory", "sqlite") else 4)
        if mode == "on" and log_entries:  # a log at its steady state: retention prunes for real
            seed_log(self.state.storage, self.tenant, log_entries, seed=11, config=config, parts=seed_parts(store))
        self.began = datetime.now(timezone.utc)  # entries after this one are the benchmark's

    def requests(self, workload: str, count: int, rng: random.Random) -> list[tuple[dict, bytes]]:
        made = []
        for _ in range(count):
            if workload == "patch":
                method, path, query, body = _patch(rng.randrange(self.users))
            else:
                self.created += 1
                method, path, query, body = ("POST", "/scim/v2/Users", "",
                                             user_document(self.created, prefix=f"lb{self.mode}n"))
            made.append(prepare(method, path, query, body))
        return made

    def segment(self, prepared: list) -> tuple[float, float]:
        """(wall, CPU) seconds for the requests, the log's waiting entries stored inside the
        timing (the background writer's work belongs to the cost)."""
        start, cpu = time.perf_counter(), time.process_time()
        for item in prepared:
            status, body = call(self.app, item)
            if status >= 400:
                raise RuntimeError(f"log {self.mode}: HTTP {status} {body[:200]!r}")
        self.state.log.flush()
        self.sent += len(prepared)
        return time.perf_counter() - start, time.process_time() - cpu

    def logged(self) -> int:
        """Entries stored since the benchmark began (each request makes exactly one)."""
        return len(self.state.log.query(self.tenant, LogQuery(limit=self.sent + 100, since=self.began)))

    def close(self) -> None:
        """Nothing may wait in the log: the exit hook would store it after the cleanup."""
        self.state.log.flush()
        self.state.close()


def compare(sides: dict[str, WriteSide], workload: str, args, rng: random.Random,
            breakdown: Breakdown | None = None) -> dict:
    """Alternate on/off segments (ABBA order) for `args.rounds` rounds; totals and per-round
    ratios (and `breakdown`'s figures of the timed rounds)."""
    for side in sides.values():  # warm-up: caches, pools, the writer thread, the first prune
        side.segment(side.requests(workload, max(10, args.requests // 5), rng))
    totals = {mode: [0, 0.0, 0.0] for mode in sides}
    ratios = []
    for round_number in range(args.rounds):
        order = ("on", "off") if round_number % 2 == 0 else ("off", "on")
        rate = {}
        for mode in order:
            prepared = sides[mode].requests(workload, args.requests, rng)
            with breakdown.segment(mode, len(prepared)) if breakdown else contextlib.nullcontext():
                wall, cpu = sides[mode].segment(prepared)
            totals[mode][0] += len(prepared)
            totals[mode][1] += wall
            totals[mode][2] += cpu
            rate[mode] = len(prepared) / wall
        ratios.append(rate["on"] / rate["off"])
    on, off = totals["on"], totals["off"]
    ratio = (on[0] / on[1]) / (off[0] / off[1])
    return {"rps_on": on[0] / on[1], "rps_off": off[0] / off[1], "ratio": ratio,
            "cpu_ratio": (off[2] / off[0]) / (on[2] / on[0]), "round_ratios": ratios,
            "cpu_ms": {"on": on[2] / on[0] * 1000, "off": off[2] / off[0] * 1000},
            "breakdown": breakdown.row() if breakdown else None,
            "rounds": args.rounds, "requests": args.requests,
            "target": f"{'met' if ratio >= RATIO_TARGET else 'MISSED'} (>= {RATIO_TARGET:g})"}


def write_cost(store: Store, args, rows: list[dict], instruction_rows: list[dict] | None = None) -> None:
    """Log on against log off for each workload, same store, same process, same run (and, with
    `instruction_rows`, in instructions: log_instructions.py)."""
    log_entries = min(args.entries, DEFAULT_MAX_ENTRIES)
    log(f"[{store.name}] write cost: two tenants of {args.users:,} users, the log-on one with "
        f"{log_entries:,} entries")
    sides = {mode: WriteSide(store, mode, args.users, log_entries) for mode in ("on", "off")}
    analyze(store, sides["on"].state, ("resources", "values", "uniques", "members", "log"))
    rng = random.Random(3)
    try:
        for label, workload in WORKLOADS.items():
            sent, stored = sides["on"].sent, sides["on"].logged()
            breakdown = Breakdown() if args.breakdown else None
            if breakdown is not None:
                breakdown.install(sides)
            try:
                row = compare(sides, workload, args, rng, breakdown)
            finally:
                if breakdown is not None:
                    breakdown.uninstall()
            row.update(backend=store.name, workload=label, sent=sides["on"].sent - sent,
                       stored=sides["on"].logged() - stored)
            rows.append(row)
            log(f"[{store.name}] {label}: log on {row['rps_on']:,.0f} req/s, off {row['rps_off']:,.0f} req/s, "
                f"on/off {row['ratio']:.3f}; {row['stored']:,} of {row['sent']:,} entries stored")
        if sides["off"].logged() != 0:
            raise RuntimeError("the log-off side stored entries: the modes are mixed up")
        if instruction_rows is not None:
            instruction_cost(store, args, instruction_rows, sides, WORKLOADS)
    finally:
        for side in sides.values():
            side.close()


# -- report ---------------------------------------------------------------------------------------
def _ms(value: float) -> str:
    return f"{value:.3g}" if value < 100 else f"{value:,.0f}"


def render(query_rows: list[dict], write_rows: list[dict], unavailable: dict[str, str],
           queries: bool = True) -> str:
    """Two Markdown tables (query speed unless `queries` is false, write cost); unavailable
    backends get a row each."""
    lines: list[str] = []
    if queries:
        lines += ["### Provisioning log: query speed (admin API, server time in process)", "",
                  "| backend | query | entries | hits | calls | p50 ms | p95 ms | target | seeding |",
                  "|---|---|---:|---:|---:|---:|---:|---|---|"]
        for row in query_rows:
            seeding = f"{row['seed_s']:.1f} s ({row['entries'] / row['seed_s']:,.0f} entries/s)"
            lines.append(f"| {row['backend']} | {row['query']} | {row['entries']:,} | {row['hits']} | "
                         f"{row['reps']} | {_ms(row['p50_ms'])} | {_ms(row['p95_ms'])} | {row['target']} | "
                         f"{seeding} |")
        lines += _unavailable_rows(unavailable, 9) + [""]
    lines += ["### Provisioning log: write cost (log on vs SCIM_LOG_ENABLED=False, server time in process)", "",
              "| backend | workload | rounds × requests | req/s log on | req/s log off | on/off | "
              "per round: median (min–max) | CPU on/off | entries stored | target |",
              "|---|---|---|---:|---:|---:|---|---:|---:|---|"]
    for row in write_rows:
        spread = round_spread(row["round_ratios"])
        lines.append(f"| {row['backend']} | {row['workload']} | {row['rounds']} × {row['requests']} | "
                     f"{row['rps_on']:,.1f} | {row['rps_off']:,.1f} | {row['ratio']:.3f} | {spread} | "
                     f"{row['cpu_ratio']:.3f} | {row['stored']:,} / {row['sent']:,} | {row['target']} |")
    lines += _unavailable_rows(unavailable, 10)
    broken_down = [row for row in write_rows if row.get("breakdown")]
    if broken_down:
        lines += ["", "### Where the log's write cost goes (ms per log-on request; thread CPU of each step)", "",
                  "| backend | workload | " + " | ".join(COLUMNS) + " | steps in all | process CPU on − off | "
                  "SQLite BEGIN IMMEDIATE wait, on / off |",
                  "|---|---|" + "---:|" * (len(COLUMNS) + 3)]
        for row in broken_down:
            figures, cpu = row["breakdown"], row["cpu_ms"]
            waits = figures["begin_wait_ms"]
            wait = "—" if waits is None else f"{waits['on']:.4f} / {waits['off']:.4f}"
            lines.append(f"| {row['backend']} | {row['workload']} | "
                         + " | ".join(f"{figures['steps_ms'][column]:.4f}" for column in COLUMNS)
                         + f" | {figures['log_cpu_ms']:.4f} | {cpu['on'] - cpu['off']:.4f} | {wait} |")
    return "\n".join(lines) + "\n"


def _unavailable_rows(unavailable: dict[str, str], columns: int) -> list[str]:
    return [f"| {name} | {reason.replace('|', '/')} |" + " |" * (columns - 2) for name, reason in unavailable.items()]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default=DEFAULT_BACKENDS, help="comma-separated, from: " + ", ".join(BACKENDS))
    parser.add_argument("--entries", type=int, default=None,
                        help="log entries of the queried tenant (default 1,000,000; --quick: 20,000)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: few entries, calls and rounds")
    parser.add_argument("--reps", type=int, default=None, help="calls per query (default 200; --quick: 30)")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds one query row may take at most, beyond 5 calls (default 20; --quick: 3)")
    parser.add_argument("--rounds", type=int, default=None, help="on/off rounds per workload (default 16; --quick: 2)")
    parser.add_argument("--requests", type=int, default=None,
                        help="requests per side and round (default 125; --quick: 30)")
    parser.add_argument("--users", type=int, default=None,
                        help="users of each write tenant (default 2,000; --quick: 200)")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time the log's steps during the write-cost rounds (log_breakdown.py)")
    parser.add_argument("--served", action="store_true",
                        help="also measure the write cost through gunicorn and HTTP clients (log_served.py; "
                             "not for memory, whose data lives in the serving process)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="seconds per side and round of the served write cost (default 3; --quick: 1)")
    parser.add_argument("--instructions", action="store_true",
                        help="also count the write cost in instructions under valgrind (log_instructions.py)")
    parser.add_argument("--instruction-requests", type=int, default=None,
                        help="requests counted per side and workload with --instructions (default 200; --quick: 10)")
    parser.add_argument("--write-cost-only", action="store_true",
                        help="skip the query-speed part (no million-entry seeding); --entries then only "
                             "caps the log-on tenant's seeded log")
    args = parser.parse_args(argv)
    args.backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    for name in args.backends:
        if name not in BACKENDS:
            parser.error(f"unknown backend {name!r}; choose from {', '.join(BACKENDS)}")
    quick = args.quick
    args.entries = args.entries or (20_000 if quick else 1_000_000)
    if args.entries < MIN_ENTRIES:
        parser.error(f"--entries must be at least {MIN_ENTRIES:,} (for a page of failures to read)")
    args.reps = args.reps or (30 if quick else 200)
    args.budget = args.budget or (3.0 if quick else 20.0)
    args.rounds = args.rounds or (2 if quick else 16)
    args.requests = args.requests or (30 if quick else 125)
    args.users = args.users or (200 if quick else 2_000)
    args.seconds = args.seconds or (1.0 if quick else 3.0)
    args.instruction_requests = args.instruction_requests or (10 if quick else 200)
    return args


def run_backend(name: str, args, query_rows: list[dict], write_rows: list[dict],
                served_rows: list[dict], instruction_rows: list[dict]) -> None:
    store = open_store(name)
    try:
        if not args.write_cost_only:
            query_speed(store, args, query_rows)
        write_cost(store, args, write_rows, instruction_rows if args.instructions else None)
        if args.served and name != "memory":
            served_write_cost(store, args, served_rows)
    finally:
        log(f"[{name}] removing what was seeded")
        store.cleanup()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    log(f"backends {', '.join(args.backends)}; {args.entries:,} entries; {args.reps} calls per query; "
        f"{args.rounds} rounds × {args.requests} requests")
    query_rows: list[dict] = []
    write_rows: list[dict] = []
    served_rows: list[dict] = []
    instruction_rows: list[dict] = []
    unavailable: dict[str, str] = {}
    for name in args.backends:
        try:
            run_backend(name, args, query_rows, write_rows, served_rows, instruction_rows)
        except Unavailable as exc:
            unavailable[name] = f"unavailable: {exc}"
            log(f"[{name}] unavailable: {exc}")
        except Exception as exc:  # one backend's failure must not lose the others' results
            unavailable[name] = f"failed: {type(exc).__name__}: {exc}"[:300]
            log(f"[{name}] failed: {type(exc).__name__}: {exc}")
            traceback.print_exc(file=sys.stderr)
    print("\n".join([render(query_rows, write_rows, unavailable, queries=not args.write_cost_only),
                     *render_served(served_rows), *render_instructions(instruction_rows)]))
    return 1 if any(name in unavailable for name in REQUIRED) else 0


if __name__ == "__main__":
    # Run the module as imported by its name, which log_served imports too: one copy of it (one
    # clock for the progress lines), not a second one under `__main__`.
    from benchmarks import logbench

    sys.exit(logbench.main())
