"""The database going away mid-run gives StorageUnavailable; its return needs no restart.

A small TCP proxy between the storage and PostgreSQL is cut (listener and live connections
closed) and restored on the same port, as a database restart or a network partition looks to
the app.
"""

from __future__ import annotations

import socket
import threading
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy.engine import make_url

from scimflask.model import RequestContext, Resource
from scimflask.storage import StorageUnavailable

from .sql_helpers import POSTGRES, drop, new_storage, unique_prefix

CTX = RequestContext(tenant="outage")


class Proxy:
    """Forwards 127.0.0.1:<port> to an upstream address until cut."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self._sockets: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            sockets, self._sockets = self._sockets, []
        for sock in [listener, *sockets]:
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream, timeout=5)
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.close()
                except OSError:
                    pass


@pytest.mark.parametrize("uri", [POSTGRES])
def test_outage_is_503_and_recovery_needs_no_restart(uri):
    url = make_url(uri)
    proxy = Proxy((url.host or "127.0.0.1", url.port or 5432))
    proxy.start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    storage = new_storage(proxied, table_prefix=unique_prefix())
    try:
        now = datetime.now(timezone.utc)
        user = storage.create(CTX, Resource("User", str(uuid.uuid4()), {"userName": "steady"}, now, now))

        proxy.cut()
        with pytest.raises(StorageUnavailable):
            storage.get(CTX, "User", user.id)
        with pytest.raises(StorageUnavailable):
            storage.ping()

        proxy.start()  # same port: the database is back
        assert storage.get(CTX, "User", user.id).data == {"userName": "steady"}
        storage.ping()
    finally:
        proxy.cut()
        proxy.start()
        drop(storage)
        proxy.cut()
