"""CPU time the database server spends, read on this machine: the part of a request's cost
that an in-process timing (`benchmarks.inprocess`) does not see.

On a machine whose cores are shared by the server, the database and the load, a request's
throughput is bounded by all the CPU it costs, its own process's and the database's. Redis
reports its own (`INFO cpu`); PostgreSQL and MariaDB are local processes whose CPU time /proc
holds (every process of the server's name, with the time of its children that ended, so a
connection that closed still counts). Only a server on this machine can be read; SQLite and
memory have no server.
"""

from __future__ import annotations

import os

# The process names (/proc/<pid>/comm) of each database server.
SERVER_PROCESSES = {"postgres": ("postgres",), "mysql": ("mariadbd", "mysqld")}


def processes_cpu(names: tuple[str, ...]) -> float:
    """CPU seconds (user and system, with ended children's) of every process named one of
    `names`; processes that end while this reads are skipped."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as file:
                stat = file.read()
        except OSError:
            continue
        name, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        if name in names:
            total += sum(int(field) for field in rest[11:15])  # utime, stime, cutime, cstime
    return total / ticks


class ServerCpu:
    """Reads the CPU seconds a backend's database server has used so far (None: no server)."""

    def __init__(self, backend: str, storage_uri: str) -> None:
        self.backend = backend
        self._redis = None
        if backend == "redis":
            import redis

            self._redis = redis.Redis.from_url(storage_uri)

    @property
    def available(self) -> bool:
        return self.backend == "redis" or self.backend in SERVER_PROCESSES

    def read(self) -> float | None:
        if self._redis is not None:
            info = self._redis.info("cpu")
            return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
        names = SERVER_PROCESSES.get(self.backend)
        return None if names is None else processes_cpu(names)
