"""Failure drills: disturbances `run_load` applies while the clients run.

`StorageOutage` cuts the TCP proxy between gunicorn and the backend for a few seconds;
`WorkerKiller` SIGKILLs gunicorn workers at moments when writes are in flight. Both record
when they acted, so a test can tell the exchanges they caused from the others.

Which worker holds a request is read from /proc: a gthread worker keeps each keep-alive client
connection it accepted, and the first worker to accept may hold most of them, so a worker chosen
at random is often an idle one (on a fast store such a drill cut no request in four kills).
"""

from __future__ import annotations

import os
import random
import signal
import time
from dataclasses import dataclass, field

from .ledger import Ledger
from .proxy import TcpProxy
from .server import GunicornServer

RESPAWN_TIMEOUT = 15.0


def sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


@dataclass
class StorageOutage:
    """Cut `proxy` `after` seconds into the run, for `duration` seconds."""

    proxy: TcpProxy
    after: float
    duration: float
    cut_at: float = 0.0
    restored_at: float = 0.0

    def __call__(self, server: GunicornServer, ledger: Ledger, started: float) -> None:
        sleep_until(started + self.after)
        self.cut_at = time.monotonic()
        self.proxy.cut()
        sleep_until(self.cut_at + self.duration)
        self.proxy.restore()
        self.restored_at = time.monotonic()


@dataclass
class Kill:
    at: float
    pid: int
    writes_in_flight: int


@dataclass
class WorkerKiller:
    """SIGKILL a worker while writes are in flight, `kills` times, `every` seconds apart.

    After each kill it waits for gunicorn to bring the worker count back (`respawned` is False
    if it did not within RESPAWN_TIMEOUT).
    """

    after: float
    every: float
    kills: int
    seed: int = 7
    done: list[Kill] = field(default_factory=list)
    respawned: bool = True

    def __call__(self, server: GunicornServer, ledger: Ledger, started: float) -> None:
        chooser = random.Random(self.seed)
        for number in range(self.kills):
            sleep_until(started + self.after + number * self.every)
            give_up = time.monotonic() + 2.0
            while len(ledger.writes_in_flight()) < 2 and time.monotonic() < give_up:
                time.sleep(0.001)
            pid = busiest_worker(server.worker_pids(), server.port) or chooser.choice(server.worker_pids())
            in_flight = len(ledger.writes_in_flight())
            # Stamped before the signal: a client can see its connection reset (and note when)
            # before this thread runs again after os.kill.
            at = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            self.done.append(Kill(at, pid, in_flight))
            self.respawned &= self.wait_for_respawn(server, pid)

    @staticmethod
    def wait_for_respawn(server: GunicornServer, killed: int) -> bool:
        deadline = time.monotonic() + RESPAWN_TIMEOUT
        while time.monotonic() < deadline:
            pids = server.worker_pids()
            if len(pids) == server.workers and killed not in pids:
                return True
            time.sleep(0.05)
        return False


def busiest_worker(pids: list[int], port: int) -> int | None:
    """The worker holding the most established client connections to `port` (Linux /proc);
    None when that cannot be read."""
    try:
        established = _established_inodes(port)
        held = {pid: sum(1 for inode in _socket_inodes(pid) if inode in established) for pid in pids}
    except OSError:
        return None
    pid, connections = max(held.items(), key=lambda item: item[1], default=(None, 0))
    return pid if connections else None


def _established_inodes(port: int) -> set[str]:
    """Inodes of the ESTABLISHED sockets whose local port is `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as lines:
                next(lines)
                for line in lines:
                    fields = line.split()
                    if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        found.add(fields[9])
        except FileNotFoundError:
            continue
    return found


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes
