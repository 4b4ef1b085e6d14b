"""The console across workers: two app instances over one storage stand for two workers (or
two servers). The sign-in limit and signing out hold across them; a storage that fails while
counting neither locks admins out nor answers 500."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from scimflask.ops.console import throttle as console_throttle
from scimflask.ops.console.revocation import TENANT as REVOCATIONS
from scimflask.ops.console.revocation import Revocations
from scimflask.ops.console.session import COOKIE_NAME
from scimflask.ops.console.throttle import SignInThrottle
from scimflask.storage.capabilities import CounterSupport
from scimflask.storage.errors import StorageUnavailable
from tests.conftest import BACKENDS, storage_config

from .conftest import require_operations
from .test_console_support import ADMIN_TOKEN, CONSOLE, ConsoleClient, console_app, fresh_address

# Every backend whose storage two app instances can share (memory is one process's own).
SHARED = [param for param in BACKENDS if param.values[0] != "memory"]


@pytest.fixture(params=SHARED)
def workers(request, tmp_path):
    """Two console apps over one storage, as two workers of one deployment."""
    backend = request.param
    if backend == "sqlite":
        config = {"SCIM_STORAGE_URI": f"sqlite:///{tmp_path / 'shared.db'}"}
    else:
        config = storage_config(backend)
    tenant = "t-" + uuid.uuid4().hex[:12]
    apps = [console_app(**config, SCIM_DEFAULT_TENANT=tenant) for _ in range(2)]
    require_operations(apps[0])
    return apps


@pytest.fixture
def fixed_window(monkeypatch):
    """The shared counters' clock held at the start of the current minute, so a test's
    attempts all fall in one window (and never ahead of the real clock)."""
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    monkeypatch.setattr(console_throttle, "wall_clock", lambda: now)
    return now


def test_the_sign_in_limit_holds_across_workers(workers, fixed_window):
    address = fresh_address()
    first, second = (ConsoleClient(app, address=address) for app in workers)
    for attempt in range(5):  # spread over both workers: 3 on the first, 2 on the second
        client = first if attempt % 2 == 0 else second
        assert client.sign_in("guess").status_code == 401
    for client in (first, second):
        refused = client.sign_in(ADMIN_TOKEN)  # even the right token
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == "60"
    assert ConsoleClient(workers[1], address=fresh_address()).sign_in().status_code == 303


def _signed_in_cookie(app) -> str:
    response = ConsoleClient(app).post("/sign-in", {"token": ADMIN_TOKEN})
    assert response.status_code == 303
    found = [value for value in response.headers.getlist("Set-Cookie") if value.startswith(COOKIE_NAME + "=")]
    return found[0].split(";", 1)[0].split("=", 1)[1]


def _replay(app, cookie: str):
    client = app.test_client(use_cookies=False)
    client.environ_base["REMOTE_ADDR"] = fresh_address()
    return client.get(CONSOLE + "/tenants", headers={"Cookie": f"{COOKIE_NAME}={cookie}"})


def test_signing_out_ends_the_session_on_every_worker(workers):
    first, second = workers
    client = ConsoleClient(first)
    assert client.sign_in().status_code == 303
    cookie = client.client.get_cookie(COOKIE_NAME, path=CONSOLE + "/").value
    assert _replay(first, cookie).status_code == 200 and _replay(second, cookie).status_code == 200
    assert client.post("/sign-out").status_code == 303
    for app in (first, second):
        replayed = _replay(app, cookie)
        assert replayed.status_code == 303, app
        assert replayed.headers["Location"].endswith(CONSOLE + "/sign-in")
    other = _signed_in_cookie(second)  # another session of the same token is still good
    assert _replay(first, other).status_code == 200


def test_a_session_signed_out_on_either_worker_is_over(workers):
    first, second = workers
    client = ConsoleClient(first)
    assert client.sign_in().status_code == 303
    cookie = client.client.get_cookie(COOKIE_NAME, path=CONSOLE + "/").value
    on_second = ConsoleClient(second)
    on_second.client.set_cookie(COOKIE_NAME, cookie, path=CONSOLE + "/")
    on_second.get("/tenants")  # picks up the session's CSRF token
    assert on_second.post("/sign-out").status_code == 303
    assert _replay(first, cookie).status_code == 303


class _Failing(CounterSupport):
    def hit_counter(self, key, window_seconds, now):
        raise StorageUnavailable("down")


def test_a_failing_counter_falls_back_to_the_process_tally(caplog):
    throttle = SignInThrottle(limit=2, counters=_Failing())
    with caplog.at_level(logging.WARNING, logger="scimflask"):
        assert throttle.attempt("a") == 0
    assert "falls back" in caplog.text
    throttle.failed("a")
    assert throttle.attempt("a") == 0
    throttle.failed("a")
    assert throttle.attempt("a") > 0 and throttle.attempt("b") == 0


def test_a_storage_outage_does_not_lock_admins_out(monkeypatch):
    app = console_app()
    storage = app.extensions["scim"].storage

    def down(*args):
        raise StorageUnavailable("down")

    monkeypatch.setattr(storage, "hit_counter", down)
    client = ConsoleClient(app)
    assert client.sign_in("guess").status_code == 401
    assert client.sign_in().status_code == 303


def test_the_shared_counter_key_belongs_to_no_tenant():
    class Recording(CounterSupport):
        keys: list[str] = []

        def hit_counter(self, key, window_seconds, now):
            self.keys.append(key)
            return 1

    counters = Recording()
    SignInThrottle(counters=counters).attempt("198.51.100.7")
    (key,) = counters.keys
    assert key.startswith("~") and "198.51.100.7" in key  # tenant ids start with a letter or digit


def test_revocations_without_a_shared_log_hold_in_this_process():
    revocations = Revocations(object(), lifetime=60)
    now = datetime(2030, 1, 1, tzinfo=timezone.utc)
    revocations.revoke("s1", now)
    assert revocations.revoked("s1", now + timedelta(seconds=59))
    assert not revocations.revoked("s2", now)
    assert not revocations.revoked("s1", now + timedelta(seconds=61))  # expired anyway by then


def test_revocations_are_pruned_with_the_sessions_they_name():
    app = console_app()
    storage = app.extensions["scim"].storage
    revocations = Revocations(storage, lifetime=60)
    start = datetime.now(timezone.utc)
    revocations.revoke("old", start - timedelta(seconds=120))
    revocations.revoke("new", start)
    assert [entry.resource_type for entry in storage.query_log(REVOCATIONS)] == ["ConsoleSession"]
    assert Revocations(storage, lifetime=60).revoked("new", start)  # another worker's view
    assert not Revocations(storage, lifetime=60).revoked("old", start)


def test_signing_out_works_while_the_storage_is_down(monkeypatch, caplog):
    app = console_app()
    storage = app.extensions["scim"].storage
    client = ConsoleClient(app)
    assert client.sign_in().status_code == 303
    cookie = client.client.get_cookie(COOKIE_NAME, path=CONSOLE + "/").value

    def down(*args, **kwargs):
        raise StorageUnavailable("down")

    for name in ("append_log", "append_logs", "query_log"):
        monkeypatch.setattr(storage, name, down)
    assert client.get("/tenants").status_code == 503  # a session that cannot be checked is not let in
    with caplog.at_level(logging.ERROR, logger="scimflask"):
        assert client.post("/sign-out").status_code == 303
    assert "could not be recorded" in caplog.text
    monkeypatch.undo()
    assert _replay(app, cookie).status_code == 303  # this worker remembers
