"""The database going away mid-run gives StorageUnavailable; its return needs no restart.

A small TCP proxy between the storage and PostgreSQL is cut (listener and live connections
closed) and restored on the same port, as a database restart or a network partition looks to
the app.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy.engine import make_url

from scimflask.model import RequestContext, Resource
from scimflask.storage import StorageUnavailable

from .sql_helpers import POSTGRES, drop, new_storage, unique_prefix
from .tcp_proxy import Proxy

CTX = RequestContext(tenant="outage")


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
