"""Run one counter-hammering function in several forked processes and collect what they saw."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable


def counts_from_forked_processes(target: Callable, args: tuple, processes: int) -> list[int]:
    """Start `processes` forks of `target(*args, barrier, results)`, released together by the
    barrier; each puts the list of counts it got on `results`. Returns all counts, sorted."""
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(processes), context.Queue()
    workers = [context.Process(target=target, args=(*args, barrier, results)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    counts = sorted(count for _ in workers for count in results.get(timeout=60))
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    return counts
