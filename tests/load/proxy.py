"""A TCP proxy in the test process that can make the storage "disappear" and come back.

gunicorn talks to the database through the proxy. `cut()` closes every open connection and
then answers each new one by closing it at once, which is what a database that restarts or a
network that drops looks like to a driver. `stall()` keeps every connection open and accepts
new ones but forwards no byte either way, which is what a hung server or a black-holed network
looks like: only the client's own timeouts end its wait. `restore()` forwards again (bytes
held during a stall are then delivered, as a healed network delivers them).
"""

from __future__ import annotations

import select
import socket
import threading
import time

BUFFER = 65536
STALL_POLL = 0.05  # seconds between looks at the stall switch


class TcpProxy:
    """Forward 127.0.0.1:`port` to `target` with one thread per connection."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._cut = False
        self._stalled = False
        self._stopped = False
        self._acceptor = threading.Thread(target=self._accept_loop, name="proxy-accept", daemon=True)
        self._acceptor.start()

    @property
    def is_cut(self) -> bool:
        return self._cut

    def cut(self) -> None:
        """Drop every connection now and refuse (accept, then close) new ones."""
        with self._lock:
            self._cut = True
            doomed = list(self._open)
            self._open.clear()
        for sock in doomed:
            _close(sock)

    def stall(self) -> None:
        """Hold every byte, in both directions, of open and new connections, from the moment
        this returns (a pipe looks at the switch between two polls)."""
        self._stalled = True
        time.sleep(3 * STALL_POLL)

    def restore(self) -> None:
        with self._lock:
            self._cut = False
            self._stalled = False

    def stop(self) -> None:
        self._stopped = True
        self.cut()
        _close(self._listener)
        self._acceptor.join(timeout=5)

    def _accept_loop(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # listener closed by stop()
            if self._cut:
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._cut:
                    _close(client)
                    _close(upstream)
                    continue
                self._open.update((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream), name="proxy-pipe",
                             daemon=True).start()

    def _pipe(self, client: socket.socket, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        try:
            while True:
                if self._stalled:
                    time.sleep(STALL_POLL)
                    if self._cut or self._stopped:
                        return
                    continue
                readable, _, _ = select.select(list(peers), [], [], STALL_POLL)
                if self._cut or self._stopped:
                    return
                for sock in readable:
                    data = sock.recv(BUFFER)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except (OSError, ValueError):
            return  # a side closed (by cut() or by its owner)
        finally:
            with self._lock:
                self._open.discard(client)
                self._open.discard(upstream)
            _close(client)
            _close(upstream)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
