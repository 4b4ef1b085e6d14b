"""SCIM_STORAGE_TIMEOUT: read from the configuration, handed to the backend as the storage option
`storage_timeout`, and enforced by the client, so a store that stops answering without
closing anything (a stalled network) fails a call with StorageUnavailable instead of holding it.

The stall test un-stalls the proxy after RELEASE seconds, more than the 1 s timeout it sets
and less than the backends' own defaults (Redis: 5 s sockets): a call that is not bounded by
the configured timeout then simply succeeds late, and the test sees no StorageUnavailable.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from scimflask import Query, RequestContext, create_app
from scimflask.config import ConfigKeys, ConfigValueError, from_environ, validate
from scimflask.errors import ConfigurationError
from scimflask.storage import StorageUnavailable

from .harness import URL_VARIABLES, proxy_for, through_proxy

RELEASE = 4.0  # seconds until the stalled proxy forwards again
CTX = RequestContext(tenant="stall")


def _config(uri: str, **extra) -> dict:
    return {"SCIM_STORAGE_URI": uri, "SCIM_SECRET_KEY": "x", "SCIM_DEFAULT_TENANT": CTX.tenant,
            "SCIM_LOG_ENABLED": False, **extra}


@pytest.mark.parametrize("text, seconds", [("10", 10.0), ("2.5", 2.5), (" 1 ", 1.0)])
def test_the_environment_gives_seconds(text, seconds):
    config = validate(_config("memory://", **from_environ({"SCIM_STORAGE_TIMEOUT": text})))
    assert config[ConfigKeys.STORAGE_TIMEOUT] == seconds


@pytest.mark.parametrize("value", ["0", "-1", "soon", 0, -2.5, True, float("inf"), "nan"])
def test_a_timeout_must_be_positive_seconds(value):
    with pytest.raises(ConfigValueError, match="SCIM_STORAGE_TIMEOUT"):
        validate(_config("memory://", SCIM_STORAGE_TIMEOUT=value))


def test_unset_leaves_the_backend_options_alone():
    """Backends that take no options (memory://, most third-party ones) keep working."""
    assert validate(_config("memory://"))[ConfigKeys.STORAGE_TIMEOUT] is None
    create_app(_config("memory://"))


def test_a_backend_without_timeouts_refuses_one_rather_than_ignore_it():
    with pytest.raises(ConfigurationError, match="storage_timeout"):
        create_app(_config("memory://", SCIM_STORAGE_TIMEOUT=3))


@pytest.fixture
def proxy(storage_url):
    relay = proxy_for(storage_url)
    yield relay
    relay.stop()


def test_a_stalled_store_fails_the_call_instead_of_holding_it(storage_url, proxy):
    state = create_app(_config(through_proxy(storage_url, proxy), SCIM_STORAGE_TIMEOUT=1)).extensions["scim"]
    storage = state.storage
    try:
        storage.query(CTX, "User", Query(count=1))  # connected and working
        proxy.stall()
        release = threading.Timer(RELEASE, proxy.restore)
        release.start()
        try:
            with pytest.raises(StorageUnavailable):
                storage.query(CTX, "User", Query(count=1))
        finally:
            release.cancel()
            proxy.restore()
        storage.query(CTX, "User", Query(count=1))  # and it recovers by itself
    finally:
        storage.close()


@pytest.mark.postgres
def test_a_commit_the_stalled_network_delivers_late_never_lands():
    """PostgreSQL: the COMMIT of a write that failed on the deadline is still in the network (here,
    in the proxy); when the network heals it arrives, and it must find the transaction already
    rolled back by the server, or a client that got a 503 and then read "absent" would see the
    write appear afterwards."""
    from scimflask_sql.engine import build_engine, database_url

    url = os.environ.get(URL_VARIABLES["postgres"])
    if not url:
        pytest.skip(f"{URL_VARIABLES['postgres']} is not set (CI sets it; see .ci/run)")
    relay = proxy_for(url)
    direct = build_engine(database_url(url))
    stalled = build_engine(database_url(through_proxy(url, relay)), timeout=1)
    table = f"held_commit_{uuid.uuid4().hex[:8]}"
    with direct.begin() as connection:
        connection.execute(text(f"CREATE TABLE {table} (n int)"))
    try:
        with pytest.raises(DBAPIError), stalled.begin() as connection:
            connection.execute(text(f"INSERT INTO {table} VALUES (1)"))
            relay.stall()  # the COMMIT below goes into the stall and the deadline fails it
        relay.restore()
        time.sleep(1.0)  # the proxy delivers what it held
        with direct.connect() as connection:
            assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0
    finally:
        relay.stop()
        with direct.begin() as connection:
            connection.execute(text(f"DROP TABLE {table}"))
        stalled.dispose()
        direct.dispose()
