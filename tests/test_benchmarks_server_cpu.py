"""benchmarks.server_cpu reads a local process's CPU time from /proc as the kernel counts it."""

from __future__ import annotations

import time

from benchmarks.server_cpu import ServerCpu, processes_cpu


def _own_name() -> str:
    with open("/proc/self/comm") as file:
        return file.read().strip()


def test_a_process_cpu_time_is_read_from_proc():
    before = processes_cpu((_own_name(),))
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:  # burn 0.3 s of this process's CPU
        pass
    spent = processes_cpu((_own_name(),)) - before
    assert 0.25 <= spent  # other processes of the same name may only add
    assert processes_cpu(("no-such-process-name",)) == 0


def test_only_a_backend_with_a_server_has_server_cpu():
    assert ServerCpu("postgres", "postgresql://127.0.0.1/test").available
    assert ServerCpu("mysql", "mysql+pymysql://127.0.0.1/test").available
    assert not ServerCpu("sqlite", "sqlite://").available
    assert ServerCpu("memory", "memory://").read() is None
