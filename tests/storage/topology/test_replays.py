"""The Entra ID and Okta provisioning replays (tests/views/test_*_replay.py), request for
request, against an app whose storage URL names a real Sentinel or Cluster topology."""

from __future__ import annotations

import inspect
import uuid

import pytest

import tests.views.test_entra_replay as entra
import tests.views.test_okta_replay as okta
from scimflask import create_app
from tests.conftest import TOKEN, ScimClient

from ..redis_helpers import unique_prefix
from .conftest import drop_keys, storage_url


def _replays() -> list:
    """Every replay test of those modules: the functions that take just a SCIM client."""
    found = []
    for module in (entra, okta):
        for name, function in vars(module).items():
            if name.startswith("test_") and list(inspect.signature(function).parameters) == ["client"]:
                found.append(pytest.param(function, id=name.removeprefix("test_")))
    return found


@pytest.mark.parametrize("replay", _replays())
def test_identity_provider_replay(topology, replay):
    app = create_app({
        "SCIM_STORAGE_URI": storage_url(topology, unique_prefix()),
        "SCIM_BEARER_TOKENS": (TOKEN,),
        "SCIM_DEFAULT_TENANT": "t-" + uuid.uuid4().hex[:12],
        "SCIM_SECRET_KEY": "test-secret",
        "TESTING": True,
    })
    storage = app.extensions["scim"].storage
    try:
        replay(ScimClient(app))
    finally:
        drop_keys(storage)
        storage.close()


def test_every_replay_is_found():
    assert len(_replays()) >= 4
