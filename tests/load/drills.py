"""Failure drills: disturbances `run_load` applies while the clients run.

`StorageOutage` cuts the TCP proxy between gunicorn and the backend for a few seconds;
`WorkerKiller` SIGKILLs gunicorn workers at moments when writes are in flight. Both record
when they acted, so a test can tell the exchanges they caused from the others.
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
            pid = chooser.choice(server.worker_pids())
            in_flight = len(ledger.writes_in_flight())
            os.kill(pid, signal.SIGKILL)
            self.done.append(Kill(time.monotonic(), pid, in_flight))
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
