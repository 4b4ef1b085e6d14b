"""/healthz, /readyz and the Prometheus exposition."""

from __future__ import annotations

from flask import Flask

from scimflask import Scim, create_app
from scimflask.storage.errors import StorageUnavailable
from tests.conftest import TOKEN, ScimClient


def test_healthz_and_readyz(app):
    client = app.test_client()
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200


def test_readyz_is_503_when_storage_is_down(app, monkeypatch):
    storage = app.extensions["scim"].storage

    def down() -> None:
        raise StorageUnavailable("connection refused to 10.0.0.7")

    monkeypatch.setattr(storage, "ping", down)
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.get_json() == {"status": "unavailable"}  # no internal detail
    assert app.test_client().get("/healthz").status_code == 200


def test_health_is_opt_in_when_embedded_and_has_a_prefix():
    host = Flask("host")

    @host.get("/healthz")
    def own_health():
        return "host's own"

    Scim(host, SCIM_STORAGE_URI="memory://")
    assert host.test_client().get("/healthz").get_data(as_text=True) == "host's own"
    app = create_app({"SCIM_STORAGE_URI": "memory://", "SCIM_HEALTH_PREFIX": "/ops"})
    assert app.test_client().get("/ops/readyz").status_code == 200
    assert app.test_client().get("/healthz").status_code == 404


def test_metrics_exposition(make_app):
    app = make_app(SCIM_METRICS_ENABLED=True)
    other = make_app(SCIM_METRICS_ENABLED=True)  # a second app in the process does not clash
    client = ScimClient(app)
    client.get("/Users")
    client.get("/Users")
    client.get("/Users/missing")
    ScimClient(app, token="wrong").get("/Users")
    text = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'scim_requests_total{endpoint="scim.users",method="GET",status="200"} 2.0' in text or \
        'method="GET",status="200"} 2.0' in text
    assert 'status="404"} 1.0' in text and 'status="401"} 1.0' in text
    assert "scim_request_duration_seconds_bucket" in text
    assert "scim_storage_errors_total 0.0" in text
    assert 'status="200"' not in other.test_client().get("/metrics").get_data(as_text=True)


def test_metrics_count_storage_errors(make_app, monkeypatch):
    app = make_app(SCIM_METRICS_ENABLED=True)
    storage = app.extensions["scim"].storage

    def down(*args, **kwargs):
        raise StorageUnavailable("down")

    monkeypatch.setattr(storage, "query", down)
    assert ScimClient(app).get("/Users").status_code == 503
    assert "scim_storage_errors_total 1.0" in app.test_client().get("/metrics").get_data(as_text=True)


def test_metrics_off_by_default(app):
    assert app.test_client().get("/metrics").status_code == 404
    assert TOKEN  # the default app still serves SCIM


def test_multiprocess_directory_is_private_and_removed_by_its_maker_only():
    """`scimflask serve` runs gunicorn inside `multiprocess_metrics()`; forked workers leave
    through the same code when they exit, and must not remove the directory under the others."""
    import os

    from scimflask.ops.metrics import MULTIPROC_DIR, multiprocess_metrics

    before = os.environ.get(MULTIPROC_DIR)
    context = multiprocess_metrics()
    directory = context.__enter__()
    try:
        assert os.environ[MULTIPROC_DIR] == directory and os.listdir(directory) == []
        pid = os.fork()
        if pid == 0:  # a worker's exit
            context.__exit__(None, None, None)
            os._exit(0)
        assert os.waitpid(pid, 0)[1] == 0
        assert os.path.isdir(directory) and os.environ[MULTIPROC_DIR] == directory
    finally:
        context.__exit__(None, None, None)
    assert not os.path.exists(directory)
    assert os.environ.get(MULTIPROC_DIR) == before
