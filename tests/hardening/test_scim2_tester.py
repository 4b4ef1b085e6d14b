"""python-scim's conformance checker, scim2-tester, run against the server in process.

The checker discovers the server (`/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`), then
creates, reads, queries, replaces, patches and deletes resources of every type with generated
values, reading every answer with scim2-models' default policy, which refuses every member it
does not know. It runs in both compatibility modes: an RFC-exact client must pass in strict mode
too. `/ServiceProviderConfig` returns scimflask's compatibility extension only when asked for
(docs/compatibility.md), so the checker reads the plain RFC 7643 §5 document.
"""

from __future__ import annotations

import random

import pytest

from tests.conftest import TOKEN

pytest.importorskip("scim2_tester")
pytest.importorskip("scim2_client.engines.wsgi")

from scim2_client.engines.wsgi import WSGISCIMClient  # noqa: E402
from scim2_tester import check_server  # noqa: E402
from scim2_tester.utils import Status  # noqa: E402

BASE_URL = "http://localhost/scim/v2"
PASSED = (Status.SUCCESS, Status.SKIPPED)


def _check(app) -> list:
    client = WSGISCIMClient(app, base_url=BASE_URL, headers={"Authorization": f"Bearer {TOKEN}"})
    state = random.getstate()
    random.seed(7643)  # the checker draws generated values from `random`
    try:
        return check_server(client)
    finally:
        random.setstate(state)


@pytest.mark.parametrize("mode", ["lenient", "strict"])
def test_checker_finds_nothing_under_its_default_policy(make_app, mode):
    results = _check(make_app(SCIM_COMPATIBILITY=mode))

    assert [(result.title, result.reason) for result in results if result.status not in PASSED] == []
    assert len(results) > 100  # discovery, then CRUD and PATCH checks of every resource type

