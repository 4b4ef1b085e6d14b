"""Shared fixtures: one table of backends, and an authenticated SCIM test client per backend.

Every protocol test runs against each backend in BACKENDS. Backends that need a server run only
when their URL is in the environment (CI sets them); otherwise they skip and say why. Each test
gets a tenant of its own, so tests never see each other's data, even on a shared database.
"""

from __future__ import annotations

import os
import uuid

import pytest

TOKEN = "test-token-0123456789"
POSTGRES_URL = os.environ.get("SCIMFLASK_TEST_POSTGRES_URL")
MYSQL_URL = os.environ.get("SCIMFLASK_TEST_MYSQL_URL")
REDIS_URL = os.environ.get("SCIMFLASK_TEST_REDIS_URL")

pytest_plugins = ["scimflask.testing"]


def _needs(url: str | None, variable: str):
    return pytest.mark.skipif(not url, reason=f"{variable} is not set (CI sets it; see .ci/run)")


BACKENDS = [
    pytest.param("memory", id="memory"),
    pytest.param("sqlite", id="sqlite"),
    pytest.param("fakeredis", id="fakeredis"),
    pytest.param("postgres", id="postgres",
                 marks=[pytest.mark.postgres, _needs(POSTGRES_URL, "SCIMFLASK_TEST_POSTGRES_URL")]),
    pytest.param("mysql", id="mysql",
                 marks=[pytest.mark.mysql, _needs(MYSQL_URL, "SCIMFLASK_TEST_MYSQL_URL")]),
    pytest.param("redis", id="redis",
                 marks=[pytest.mark.redis, _needs(REDIS_URL, "SCIMFLASK_TEST_REDIS_URL")]),
]

_shared: dict[str, object] = {}


def _shared_sql_engine(url: str):
    """One engine per database for the whole run (tables are created once)."""
    if url not in _shared:
        from sqlalchemy import create_engine

        driver_url = url
        if url.startswith("postgresql://"):
            driver_url = "postgresql+psycopg://" + url[len("postgresql://"):]
        _shared[url] = create_engine(driver_url, pool_pre_ping=True)
    return _shared[url]


def storage_config(backend: str) -> dict:
    """SCIM_STORAGE_URI and SCIM_STORAGE_OPTIONS for a backend id."""
    if backend == "memory":
        return {"SCIM_STORAGE_URI": "memory://"}
    if backend == "sqlite":
        return {"SCIM_STORAGE_URI": "sqlite://"}
    if backend == "fakeredis":
        import fakeredis

        if "fakeredis" not in _shared:
            _shared["fakeredis"] = fakeredis.FakeRedis()
        return {"SCIM_STORAGE_URI": "redis://fake", "SCIM_STORAGE_OPTIONS": {"client": _shared["fakeredis"]}}
    if backend == "postgres":
        return {"SCIM_STORAGE_URI": POSTGRES_URL, "SCIM_STORAGE_OPTIONS": {"engine": _shared_sql_engine(POSTGRES_URL)}}
    if backend == "mysql":
        return {"SCIM_STORAGE_URI": MYSQL_URL, "SCIM_STORAGE_OPTIONS": {"engine": _shared_sql_engine(MYSQL_URL)}}
    if backend == "redis":
        return {"SCIM_STORAGE_URI": REDIS_URL}
    raise ValueError(backend)


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def tenant() -> str:
    return "t-" + uuid.uuid4().hex[:12]


@pytest.fixture
def make_app(backend, tenant):
    """Build an app on the test's backend; keyword arguments override configuration."""
    from scimflask import create_app

    def factory(**config):
        base = {
            **storage_config(backend),
            "SCIM_BEARER_TOKENS": (TOKEN,),
            "SCIM_DEFAULT_TENANT": tenant,
            "SCIM_SECRET_KEY": "test-secret",
            "TESTING": True,
        }
        base.update(config)
        return create_app(base)

    return factory


@pytest.fixture
def app(make_app):
    return make_app()


class ScimClient:
    """A Flask test client that sends the bearer token and JSON the way Entra ID does."""

    def __init__(self, app, prefix: str = "/scim/v2", token: str | None = TOKEN) -> None:
        self.client = app.test_client()
        self.prefix = prefix
        self.token = token

    def request(self, method: str, path: str, json=None, headers=None, **kwargs):
        all_headers = {}
        if self.token is not None:
            all_headers["Authorization"] = f"Bearer {self.token}"
        if json is not None:
            import json as jsonlib

            kwargs["data"] = jsonlib.dumps(json)
            all_headers["Content-Type"] = "application/scim+json; charset=utf-8"
        all_headers.update(headers or {})
        return self.client.open(self.prefix + path, method=method, headers=all_headers, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.request("POST", path, json=json, **kw)

    def put(self, path, json=None, **kw):
        return self.request("PUT", path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self.request("PATCH", path, json=json, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


@pytest.fixture
def client(app) -> ScimClient:
    return ScimClient(app)


SERVICE_MARKS = ("postgres", "mysql", "redis")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI (SCIMFLASK_REQUIRE_SERVICES=1) a service-backed test may not skip: it fails."""
    outcome = yield
    report = outcome.get_result()
    if (os.environ.get("SCIMFLASK_REQUIRE_SERVICES") and report.skipped
            and any(item.get_closest_marker(mark) for mark in SERVICE_MARKS)):
        report.outcome = "failed"
        report.longrepr = f"service-backed test skipped although SCIMFLASK_REQUIRE_SERVICES is set: {report.longrepr}"


BACKEND_IDS = ("memory", "sqlite", "fakeredis", "postgres", "mysql", "redis")


def pytest_collection_modifyitems(config, items):
    """`SCIMFLASK_TEST_BACKENDS=memory,sqlite` keeps only those backends' parametrisations;
    tests that run on no particular backend stay when `memory` (the reference) is selected.
    tox's backend factors use it, so each cell runs its backend's tests once."""
    wanted = os.environ.get("SCIMFLASK_TEST_BACKENDS")
    if not wanted:
        return
    selected = {name.strip() for name in wanted.split(",") if name.strip()}
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        tokens = set(callspec.id.split("-")) if callspec is not None else set()
        backends = tokens.intersection(BACKEND_IDS)
        wanted_here = backends & selected if backends else "memory" in selected
        (keep if wanted_here else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
