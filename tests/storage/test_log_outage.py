"""The provisioning log's reads on an unreachable store: `StorageUnavailable` from every backend
(the admin API and the console then answer 503, never 500)."""

from __future__ import annotations

import socket
from datetime import datetime, timezone

import pytest
from scimflask_redis import RedisStorage

from scimflask.schema import default_catalog
from scimflask.storage import StorageUnavailable
from scimflask.storage.capabilities import LogQuery

from .sql_helpers import new_storage

NOW = datetime(2024, 5, 1, tzinfo=timezone.utc)


def _refused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(params=["sqlite", "redis"])
def unreachable(request):
    if request.param == "sqlite":
        storage = new_storage("sqlite:////nonexistent-scimflask-dir/scim.db")
    else:
        storage = RedisStorage.from_uri(f"redis://127.0.0.1:{_refused_port()}/0?socket_connect_timeout=1",
                                        {}, default_catalog())
    yield storage
    storage.close()


@pytest.mark.parametrize("call", [
    lambda s: s.log_hours("acme", NOW),
    lambda s: s.query_log("acme", LogQuery(failures_only=True, text="ada", resource_id="u-1")),
    lambda s: s.prune_log("acme", keep=1, older_than=NOW),
], ids=["log_hours", "query_log", "prune_log"])
def test_log_reads_of_an_unreachable_store_are_storage_unavailable(unreachable, call):
    with pytest.raises(StorageUnavailable):
        call(unreachable)


def test_health_and_log_of_an_unreachable_store_are_503(monkeypatch):
    from scimflask import create_app
    from tests.ops.conftest import ADMIN_TOKEN, AdminClient

    app = create_app({"SCIM_STORAGE_URI": "memory://", "SCIM_ADMIN_TOKENS": (ADMIN_TOKEN,)})
    storage = app.extensions["scim"].storage

    def down(*args, **kwargs):
        raise StorageUnavailable("down")

    for name in ("log_hours", "query_log", "list_tokens", "get_tenant"):
        monkeypatch.setattr(storage, name, down)
    admin = AdminClient(app)
    for path in ("/tenants/acme/health", "/tenants/acme/log?outcome=failure", "/tenants/acme/log.csv"):
        answer = admin.call("GET", path)
        assert answer.status_code == 503 and answer.get_json()["status"] == 503, path
