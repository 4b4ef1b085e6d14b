"""The database going away mid-run gives StorageUnavailable; its return needs no restart.

A small TCP proxy between the storage and PostgreSQL is cut (listener and live connections
closed) and restored on the same port, as a database restart or a network partition looks to
the app.
"""

from __future__ import annotations

import socket
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy.engine import make_url

from scimflask.model import Change, Query, RequestContext, Resource, Token
from scimflask.storage import StorageUnavailable
from scimflask.storage.capabilities import LogEntry, Tenant

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


NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)
# Every method of the contract and its capabilities, the operating ones (operating.py, a mixin)
# as much as the resource ones.
CALLS = {
    "create": lambda s: s.create(CTX, Resource("User", "u", {"userName": "u"}, NOW, NOW)),
    "get": lambda s: s.get(CTX, "User", "u"),
    "update": lambda s: s.update(CTX, "User", "u", Change(data={"userName": "v"}), now=NOW),
    "delete": lambda s: s.delete(CTX, "User", "u"),
    "query": lambda s: s.query(CTX, "User", Query()),
    "count_members": lambda s: s.count_members(CTX, "g"),
    "ping": lambda s: s.ping(),
    "add_token": lambda s: s.add_token(Token("t", CTX.tenant, "h", NOW)),
    "find_token": lambda s: s.find_token("h"),
    "list_tokens": lambda s: s.list_tokens(),
    "delete_token": lambda s: s.delete_token("t"),
    "touch_token": lambda s: s.touch_token("t", NOW),
    "update_token": lambda s: s.update_token(Token("t", CTX.tenant, "h", NOW)),
    "put_tenant": lambda s: s.put_tenant(Tenant(CTX.tenant, NOW)),
    "get_tenant": lambda s: s.get_tenant(CTX.tenant),
    "list_tenants": lambda s: s.list_tenants(),
    "delete_tenant": lambda s: s.delete_tenant(CTX.tenant),
    "append_log": lambda s: s.append_log(LogEntry("1", CTX.tenant, NOW, "GET", "/Users", 200, "success")),
    "append_logs": lambda s: s.append_logs([LogEntry("1", CTX.tenant, NOW, "GET", "/Users", 200, "success")]),
    "query_log": lambda s: s.query_log(CTX.tenant),
    "prune_log": lambda s: s.prune_log(CTX.tenant, keep=1),
    "hit_counter": lambda s: s.hit_counter(f"{CTX.tenant}:k", 60, NOW),
    "log_hours": lambda s: s.log_hours(CTX.tenant, NOW),
}


def _refused_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def unreachable(request):
    """A storage whose database cannot be opened: a SQLite file in a missing directory, or a
    PostgreSQL server that refuses connections."""
    if request.param == "sqlite":
        uri = "sqlite:////nonexistent-scimflask-dir/scim.db"
    else:
        uri = f"postgresql://postgres@127.0.0.1:{_refused_port()}/none"
    storage = new_storage(uri)
    yield storage
    storage.close()


@pytest.mark.parametrize("name", sorted(CALLS))
def test_every_method_of_an_unreachable_database_raises_storage_unavailable(unreachable, name):
    with pytest.raises(StorageUnavailable):
        CALLS[name](unreachable)
