"""The instruction-count benchmark: its requests succeed in-process, and under valgrind a request
costs a plausible count; the full run is `python -m benchmarks.instructions`."""

from __future__ import annotations

import shutil

import pytest

from benchmarks import instructions


def test_the_child_runs_each_workload_on_memory():
    for workload in ("ceiling", "get-by-id", "lookup-userName", "patch-title", "create-user"):
        instructions.run_requests("memory", workload, 3, "memory://")  # raises on an HTTP error


def test_unknown_workloads_are_refused():
    with pytest.raises(SystemExit, match="unknown workload"):
        instructions.main(["--only", "get-by-idd"])


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_a_ceiling_request_costs_a_plausible_count():
    extra = instructions.count_instructions("memory", "ceiling", 5) - instructions.count_instructions(
        "memory", "ceiling", 0)
    # Bare Flask answering one small JSON document: some hundred thousand instructions each.
    assert 50_000 * 5 < extra < 5_000_000 * 5, extra
