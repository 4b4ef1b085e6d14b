"""A client-side deadline for PostgreSQL connections: a stalled network cannot hold a worker.

PostgreSQL's `statement_timeout` runs on the server: when the network stalls (a hung proxy, a
black-holed route, a frozen server) the server never sees the statement or its answer never
arrives, and libpq waits for ever, since the peer's kernel still acknowledges every byte, so
neither TCP keepalives nor `tcp_user_timeout` fire. Here each checked-out connection carries a
deadline (set at checkout, pushed on at each statement, commit and rollback); one watchdog
thread per process shuts the socket of a connection whose deadline passed. The blocked driver
call then fails at once with a connection error, the pool drops the connection, and the
request gets a 503 instead of hanging until gunicorn kills its worker.
"""

from __future__ import annotations

import os
import socket
import threading
import time

from sqlalchemy import Engine, event

POLL_SHARE = 0.1  # the watchdog looks this share of the timeout apart (at most every second)


class Deadlines:
    """Connections in use (by pool entry) and when each must have finished its current step."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        # id(pool entry) -> (deadline, fd, socket inode, process): a forked child inherits the
        # parent's entries and sockets, and must never shut those.
        self._armed: dict[int, tuple[float, int, int, int]] = {}
        self._lock = threading.Lock()
        self._pid: int | None = None  # the process whose watchdog runs, if one does
        self.expired = 0  # sockets shut by the watchdog in this process

    def attach(self, engine: Engine) -> None:
        """Arm at checkout (before any ping listener runs), re-arm per step, disarm at checkin."""

        @event.listens_for(engine, "checkout")
        def _on_checkout(dbapi_connection, record, _proxy) -> None:
            self.arm(record, dbapi_connection)

        @event.listens_for(engine, "checkin")
        def _on_checkin(_dbapi_connection, record) -> None:
            self.disarm(record)

        for name in ("close", "invalidate", "soft_invalidate", "detach"):  # each passes the entry second
            event.listen(engine, name, lambda _dbapi, record, *_rest: self.disarm(record))

        @event.listens_for(engine, "before_cursor_execute")
        def _on_statement(connection, *_args) -> None:
            self.extend(connection)

        for name in ("commit", "rollback"):
            event.listen(engine, name, self.extend)

    def arm(self, record, dbapi_connection) -> None:
        try:
            fd = dbapi_connection.fileno()
            inode = os.fstat(fd).st_ino
        except Exception:  # closed already: the driver reports that itself
            return
        with self._lock:
            self._armed[id(record)] = (time.monotonic() + self.seconds, fd, inode, os.getpid())
        self._ensure_watchdog()

    def extend(self, connection) -> None:
        try:
            record = connection.connection._connection_record
        except Exception:  # invalidated or closed: nothing is armed for it any more
            return
        key = id(record)
        with self._lock:
            armed = self._armed.get(key)
            if armed is not None:
                self._armed[key] = (time.monotonic() + self.seconds, *armed[1:])

    def disarm(self, record) -> None:
        if record is None:
            return
        with self._lock:
            self._armed.pop(id(record), None)

    def _ensure_watchdog(self) -> None:
        """A watchdog thread in this process while anything is armed (gunicorn forks workers
        after the engine may exist; a fork has no threads)."""
        pid = os.getpid()
        with self._lock:
            if self._pid == pid:
                return
            self._pid = pid
        threading.Thread(target=self._watch, name="scimflask-sql-deadline", daemon=True).start()

    def _watch(self) -> None:
        pause = min(1.0, max(0.01, self.seconds * POLL_SHARE))
        while True:
            time.sleep(pause)
            self.expire(time.monotonic())
            with self._lock:
                if not self._armed:  # idle: the next arm starts a new watchdog
                    self._pid = None
                    return

    def expire(self, now: float) -> int:
        """Shut the socket of every connection past its deadline; how many were shut."""
        shut, pid = 0, os.getpid()
        with self._lock:  # held while shutting: a disarmed connection's fd may be reused
            for key, (deadline, fd, inode, owner) in list(self._armed.items()):
                if owner != pid:
                    del self._armed[key]
                elif deadline <= now:
                    del self._armed[key]
                    shut += _shutdown(fd, inode)
        self.expired += shut
        return shut


def _shutdown(fd: int, inode: int) -> bool:
    """Shut down the socket open as `fd` if it is still the one armed (same inode)."""
    try:
        duplicate = os.dup(fd)
    except OSError:
        return False
    try:
        if os.fstat(duplicate).st_ino != inode:
            return False
        sock = socket.socket(fileno=duplicate)
        duplicate = -1  # owned by `sock` now
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            return False
        finally:
            sock.close()
        return True
    finally:
        if duplicate >= 0:
            os.close(duplicate)
