"""The benchmark workloads (what identity providers send) as load scripts, each returning measurement rows.

A row is a dict: `workload`, `n` (directory or group size), the headline `value` and its `unit`,
`p50_ms` / `p99_ms`, `errors`, and `kind` -- "throughput" rows are compared with the ceiling's
concurrent req/s, "latency" rows (one client, sequential) with the ceiling's one-client p50.
"""

from __future__ import annotations

import http.client
import json
import random
import statistics
from dataclasses import dataclass
from urllib.parse import quote

from .directory import PATCH_OP, external_id, user_document, user_id, user_name, work_email
from .directory import group_id as seeded_group_id
from .load import Client, LoadResult, run_load

PREFIX = "/scim/v2"
GROUP_BATCH = 100
SCAN_SECONDS = 0.25  # a lookup slower than this is treated as a scan
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


@dataclass
class Target:
    """A running server and how hard to drive it."""

    port: int
    token: str
    concurrency: int
    duration: float
    request_timeout: float = 60.0

    def load(self, script, *, concurrency: int | None = None, duration: float | None = None) -> LoadResult:
        concurrency = concurrency or self.concurrency
        return run_load(self.port, self.token, script, concurrency=concurrency,
                        duration=duration or self.duration, processes=min(2, concurrency),
                        timeout=self.request_timeout)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def _per_second(result: LoadResult, label: str, per_request: int = 1) -> float:
    """Units per second of server time for one sequential client: per_request / mean latency."""
    latencies = result.latencies.get(label, [])
    return per_request * len(latencies) / sum(latencies) if latencies else 0.0


def _row(workload: str, n: int | None, value: float, unit: str, kind: str, result: LoadResult,
         label: str | None, **extra) -> dict:
    return {
        "workload": workload, "n": n, "value": round(value, 1), "unit": unit, "kind": kind,
        "p50_ms": _ms(result.percentile(label, 0.5)) if label else None,
        "p99_ms": _ms(result.percentile(label, 0.99)) if label else None,
        "requests": result.count(), "errors": result.total_errors(),
        "error_samples": result.error_samples[:2], **extra,
    }


def _filter_path(resource: str, expression: str, extra: str = "") -> str:
    return f"{PREFIX}/{resource}?filter={quote(expression)}{extra}"


def _total(data: bytes) -> int | None:
    try:
        return json.loads(data)["totalResults"]
    except (ValueError, KeyError, TypeError):
        return None


def _get(target: Target, path: str) -> tuple[int, bytes]:
    """One GET outside any timed load (what a --keep run finds in the store)."""
    connection = http.client.HTTPConnection("127.0.0.1", target.port, timeout=target.request_timeout)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {target.token}"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def user_count(target: Target) -> int:
    status, data = _get(target, f"{PREFIX}/Users?count=0")
    total = _total(data) if status == 200 else None
    if total is None:
        raise RuntimeError(f"could not count the users kept from the previous run (HTTP {status})")
    return total


def existing_group(target: Target, name: str) -> str | None:
    """The id of the seeded group `name` if the store holds it."""
    status, _ = _get(target, f"{PREFIX}/Groups/{seeded_group_id(name)}?excludedAttributes=members")
    return seeded_group_id(name) if status == 200 else None


# -- the ceiling ---------------------------------------------------------------------------
def ceiling(target: Target, *, concurrency: int | None = None) -> LoadResult:
    """The bare-Flask ListResponse, hammered as hard as the SCIM workloads are."""
    def script(slot: int, client: Client) -> None:
        while not client.expired():
            client.send("ceiling", "GET", f"{PREFIX}/Users")

    return target.load(script, concurrency=concurrency)


# -- Entra ID's first cycle ----------------------------------------------------------------
def entra_cycle(target: Target, users: int) -> dict:
    """Per user: `userName eq` lookup (a miss), then POST; users/s over the whole run."""
    concurrency = target.concurrency

    def script(slot: int, client: Client) -> None:
        for i in range(slot, users, concurrency):
            if client.expired():
                return
            status, data = client.send(
                "entra.lookup", "GET", _filter_path("Users", f'userName eq "{user_name(i, "entra")}"'))
            if status == 200 and _total(data) != 0:
                client._error("entra.lookup", f"lookup of a new user found {_total(data)}")
            client.send("entra.create", "POST", f"{PREFIX}/Users", user_document(i, "entra"), ok=(201,))

    result = target.load(script)
    created = result.count("entra.create")
    return _row("Entra initial cycle (lookup miss + POST)", created, created / result.elapsed,
                "users/s", "throughput", result, "entra.create", requests_per_unit=2,
                lookup_p50_ms=_ms(result.percentile("entra.lookup", 0.5)))


# -- lookups -------------------------------------------------------------------------------
LOOKUPS = {
    "userName eq": lambda i: f'userName eq "{user_name(i)}"',
    "externalId eq": lambda i: f'externalId eq "{external_id(i)}"',
    'emails[type eq "work"].value eq': lambda i: f'emails[type eq "work"].value eq "{work_email(i)}"',
    # Substrings that hold one user's whole number, so each matches exactly one user
    # ("r12@" is not in "user112@"): answered from the trigram indexes.
    "userName co": lambda i: f'userName co "r{i}@"',
    "userName sw": lambda i: f'userName sw "{user_name(i)[:-len("example.com")]}"',
    "userName ew": lambda i: f'userName ew "r{i}@example.com"',
}


def lookup(target: Target, name: str, users: int) -> dict:
    """Random hits on a directory of `users` seeded users; every 25th answer is checked."""
    expression = LOOKUPS[name]

    def script(slot: int, client: Client) -> None:
        rng = random.Random(slot)
        sent = 0
        while not client.expired():
            i = rng.randrange(users)
            status, data = client.send("lookup", "GET", _filter_path("Users", expression(i)))
            sent += 1
            if sent == 1 and slot > 0 and client.latencies["lookup"][-1] > SCAN_SECONDS:
                return  # answered by a scan: leave it to one client so the run ends on time
            if status == 200 and sent % 25 == 1 and _total(data) != 1:
                client._error("lookup", f"{name} for user {i} found {_total(data)}")

    result = target.load(script)
    slow = (result.percentile("lookup", 0.5) or 0) > SCAN_SECONDS
    return _row(f"lookup {name}", users, result.rate("lookup"), "req/s", "throughput", result, "lookup",
                note="slow (a scan?): the other clients stopped after one request" if slow else "")


# -- incremental cycle ---------------------------------------------------------------------
def patch_one_attribute(target: Target, users: int) -> dict:
    """PATCH replace of `title` on random users (what Entra sends for a changed attribute)."""
    def script(slot: int, client: Client) -> None:
        rng = random.Random(1000 + slot)
        k = 0
        while not client.expired():
            k += 1
            body = {"schemas": [PATCH_OP],
                    "Operations": [{"op": "Replace", "path": "title", "value": f"Title {slot}-{k}"}]}
            client.send("patch", "PATCH", f"{PREFIX}/Users/{user_id(rng.randrange(users))}", body, ok=(200, 204))

    result = target.load(script)
    return _row("PATCH replace one attribute", users, result.rate("patch"), "req/s", "throughput",
                result, "patch")


# -- listing -------------------------------------------------------------------------------
def listing(target: Target, users: int, *, cursor: bool, expression: str | None, time_limit: float) -> dict:
    """Walk every page with count=100 (one client) and check the pages add up to totalResults."""
    query = f"&filter={quote(expression)}" if expression else ""
    seen: list[int] = []

    def script(slot: int, client: Client) -> None:
        start, total, got, next_cursor = 1, None, 0, ""
        while not client.expired():
            if cursor:
                path = f"{PREFIX}/Users?count=100&cursor={quote(next_cursor)}{query}"
            else:
                path = f"{PREFIX}/Users?count=100&startIndex={start}{query}"
            status, data = client.send("page", "GET", path)
            if status != 200:
                return
            body = json.loads(data)
            total = body["totalResults"]
            got += len(body.get("Resources", ()))
            start += 100
            next_cursor = body.get("nextCursor")
            if (cursor and not next_cursor) or (not cursor and start > total):
                break
        if total is not None and got != total and not client.expired():
            client._error("page", f"pages held {got} resources, totalResults said {total}")
        seen.append(got)

    result = target.load(script, concurrency=1, duration=time_limit)
    paging = "cursor" if cursor else "index"
    name = f"list all, {paging} paging" + (f', filter {expression}' if expression else "")
    complete = result.elapsed < time_limit
    return _row(name, users, _per_second(result, "page"), "pages/s", "latency", result, "page",
                seconds=round(result.elapsed, 2), complete=complete,
                note="" if complete else f"stopped after {time_limit:.0f}s")


# -- big groups ----------------------------------------------------------------------------
def _add_batch(ids: list[str]) -> dict:
    return {"schemas": [PATCH_OP], "Operations": [
        {"op": "Add", "path": "members", "value": [{"value": id} for id in ids]}]}


def _remove_batch(ids: list[str]) -> dict:
    return {"schemas": [PATCH_OP], "Operations": [
        {"op": "Remove", "path": f'members[value eq "{id}"]'} for id in ids]}


def big_group_growth(target: Target, members: int, time_limit: float) -> list[dict]:
    """Grow a new group to `members` by PATCH adds of 100; then remove by `members[value eq]`
    and GET it with `excludedAttributes=members`."""
    def script(slot: int, client: Client) -> None:
        status, data = client.send("create", "POST", f"{PREFIX}/Groups",
                                   {"schemas": [CORE_GROUP], "displayName": "growing"}, ok=(201,))
        if status != 201:
            return
        gid = json.loads(data)["id"]
        for start in range(0, members, GROUP_BATCH):
            if client.expired():
                return
            ids = [user_id(i) for i in range(start, min(members, start + GROUP_BATCH))]
            client.send("add", "PATCH", f"{PREFIX}/Groups/{gid}", _add_batch(ids), ok=(200, 204))
        for b in range(10):
            ids = [user_id(i) for i in range(b * GROUP_BATCH, (b + 1) * GROUP_BATCH)]
            client.send("remove", "PATCH", f"{PREFIX}/Groups/{gid}", _remove_batch(ids), ok=(200, 204))
        for _ in range(20):
            client.send("get", "GET", f"{PREFIX}/Groups/{gid}?excludedAttributes=members")

    result = target.load(script, concurrency=1, duration=time_limit)
    adds = result.latencies.get("add", [])
    reached = min(members, len(adds) * GROUP_BATCH)
    head, tail = adds[:5], adds[-5:]
    rows = [_row(f"group grown by PATCH add of {GROUP_BATCH}", reached,
                 _per_second(result, "add", GROUP_BATCH), "members/s", "latency", result, "add",
                 first_batches_ms=_ms(statistics.median(head)) if head else None,
                 last_batches_ms=_ms(statistics.median(tail)) if tail else None,
                 note="" if reached == members else f"reached {reached} of {members} in {time_limit:.0f}s")]
    if result.count("remove"):
        rows.append(_row(f'remove {GROUP_BATCH} by members[value eq] (one PATCH)', reached,
                         _per_second(result, "remove", GROUP_BATCH), "members/s", "latency", result, "remove"))
    if result.count("get"):
        rows.append(_row("GET group excludedAttributes=members", reached, _per_second(result, "get"),
                         "req/s", "latency", result, "get"))
    return rows


def group_batches_at_size(target: Target, group_id: str, size: int, batches: int) -> list[dict]:
    """On a group of `size` members: remove 100 (by `members[value eq]`) and add them back.

    The first pair is a warm-up (not counted): it pays for whatever each worker builds on its
    first Group PATCH, which would otherwise be charged to the smallest size.
    """
    def script(slot: int, client: Client) -> None:
        for b in range(batches + 1):
            ids = [user_id(i) for i in range(b * GROUP_BATCH, (b + 1) * GROUP_BATCH)]
            warm = "warm-up " if b == 0 else ""
            client.send(f"{warm}remove", "PATCH", f"{PREFIX}/Groups/{group_id}", _remove_batch(ids), ok=(200, 204))
            client.send(f"{warm}add", "PATCH", f"{PREFIX}/Groups/{group_id}", _add_batch(ids), ok=(200, 204))

    result = target.load(script, concurrency=1, duration=600)
    return [
        _row(f"group PATCH add {GROUP_BATCH} members", size, _per_second(result, "add", GROUP_BATCH),
             "members/s", "latency", result, "add"),
        _row(f'group PATCH remove {GROUP_BATCH} by members[value eq]', size,
             _per_second(result, "remove", GROUP_BATCH), "members/s", "latency", result, "remove"),
    ]
