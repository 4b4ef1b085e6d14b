"""What replica-acknowledged writes cost: creates per second and their latency on the Redis
storage, without and with `wait_replicas=1`, on the same primary and replica.

    python -m benchmarks.replicas                       # starts a Sentinel topology on 127.0.0.1
    python -m benchmarks.replicas --topology cluster    # or a 3+3 Redis Cluster
    python -m benchmarks.replicas --url 'redis+sentinel://h1:26379,h2:26379/mymaster' --writes 5000

Each run writes under a fresh key prefix and deletes it afterwards. Figures are printed, not
judged: they depend on the machine, and on the network between primary and replica above all
(here both are on one host, so the WAIT costs little more than one extra round trip).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from scimflask.model import RequestContext, Resource
from scimflask.schema import default_catalog

NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _storage(url: str, prefix: str, wait: bool):
    from scimflask_redis import RedisStorage

    query = f"prefix={prefix}" + ("&wait_replicas=1&wait_timeout_ms=1000" if wait else "")
    return RedisStorage.from_uri(f"{url}{'&' if '?' in url else '?'}{query}", {}, default_catalog())


def measure(url: str, writes: int, threads: int, wait: bool) -> dict:
    """`writes` user creates over `threads` threads: throughput and latency percentiles."""
    prefix = f"bench-replicas:{uuid.uuid4().hex}:"
    storage = _storage(url, prefix, wait)
    ctx = RequestContext(tenant="bench")

    def create(i: int) -> float:
        started = time.perf_counter()
        storage.create(ctx, Resource("User", f"u{i}", {"userName": f"user{i}@example.org",
                                                       "externalId": f"e{i}"}, NOW, NOW))
        return time.perf_counter() - started

    for i in range(min(50, writes)):  # warm up connections and script caches
        create(-1 - i)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        latencies = sorted(pool.map(create, range(writes)))
    elapsed = time.perf_counter() - started
    storage.delete_tenant("bench")
    storage.close()
    return {"wait": wait, "threads": threads, "writes": writes, "per_second": writes / elapsed,
            "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000}


def report(rows: list[dict]) -> str:
    lines = ["| wait_replicas | threads | writes | creates/s | p50 ms | p99 ms |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {'1' if row['wait'] else '0 (off)'} | {row['threads']} | {row['writes']} | "
                     f"{row['per_second']:.0f} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} |")
    return "\n".join(lines)


def run(url: str, writes: int, thread_counts: list[int]) -> list[dict]:
    rows = []
    for threads in thread_counts:
        for wait in (False, True):
            rows.append(measure(url, writes, threads, wait))
            print(f"measured wait={wait} threads={threads}", file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a Redis storage URL whose primary has a replica (default: start one)")
    parser.add_argument("--topology", choices=("sentinel", "cluster"), default="sentinel")
    parser.add_argument("--writes", type=int, default=2000)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args(argv)
    if args.url:
        print(report(run(args.url, args.writes, args.threads)))
        return 0
    from tests.storage.redis_topology import TOPOLOGIES, missing_tools

    problem = missing_tools()
    if problem:
        print(f"cannot start a topology: {problem}; pass --url", file=sys.stderr)
        return 1
    with TOPOLOGIES[args.topology]() as topology:
        print(f"{args.topology}: {topology.url}", file=sys.stderr, flush=True)
        print(report(run(topology.url, args.writes, args.threads)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
