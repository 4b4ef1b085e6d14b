"""python-scim's conformance checker, scim2-tester, run against the server in process.

The checker discovers the server (`/ServiceProviderConfig`, `/ResourceTypes`, `/Schemas`), then
creates, reads, queries, replaces, patches and deletes resources of every type with generated
values, reading every answer with scim2-models' strict policy. It runs in both compatibility
modes: an RFC-exact client must pass in strict mode too.

Its one complaint is by design: the strict policy refuses every attribute it does not know
(the SCIM interoperability profile's reading), and `/ServiceProviderConfig` carries scimflask's
documented compatibility extension (docs/compatibility.md). The client is therefore given the
configuration without that extension, so the rest of the checks run against the server's own
description, and the test requires that complaint to be the only one.
"""

from __future__ import annotations

import random

import pytest

from tests.conftest import TOKEN, ScimClient

pytest.importorskip("scim2_tester")
pytest.importorskip("scim2_client.engines.wsgi")

from scim2_client.engines.wsgi import WSGISCIMClient  # noqa: E402
from scim2_models import ScimPolicy, ScimProvider, ServiceProviderConfig  # noqa: E402
from scim2_tester import check_server  # noqa: E402
from scim2_tester.utils import Status  # noqa: E402

from scimflask.views.discovery import SPC_EXTENSION  # noqa: E402

BASE_URL = "http://localhost/scim/v2"
PASSED = (Status.SUCCESS, Status.SKIPPED)


def _described_config(app) -> ServiceProviderConfig:
    """What the server publishes, minus the extension a strict client would refuse."""
    published = ScimClient(app).get("/ServiceProviderConfig").json
    published.pop(SPC_EXTENSION)
    published["schemas"] = [urn for urn in published["schemas"] if urn != SPC_EXTENSION]
    return ServiceProviderConfig.model_validate(published)


def _check(app, provider: ScimProvider | None = None) -> list:
    client = WSGISCIMClient(app, base_url=BASE_URL, headers={"Authorization": f"Bearer {TOKEN}"},
                            **({"provider": provider} if provider is not None else {}))
    state = random.getstate()
    random.seed(7643)  # the checker draws generated values from `random`
    try:
        return check_server(client)
    finally:
        random.setstate(state)


@pytest.mark.parametrize("mode", ["lenient", "strict"])
def test_checker_finds_nothing_but_the_documented_extension(make_app, mode):
    app = make_app(SCIM_COMPATIBILITY=mode)
    results = _check(app, ScimProvider(config=_described_config(app)))

    problems = [result for result in results if result.status not in PASSED]
    assert [result.title for result in problems] == ["service_provider_config_endpoint"], [
        (result.title, result.reason) for result in problems]
    assert SPC_EXTENSION in problems[0].reason and "Extra inputs are not permitted" in problems[0].reason
    assert len(results) > 100  # discovery, then CRUD and PATCH checks of every resource type


def test_checker_finds_nothing_when_unknown_attributes_are_ignored(make_app):
    results = _check(make_app(), ScimProvider(policy=ScimPolicy(unknown=ScimPolicy.Unknown.ignore)))

    assert [(result.title, result.reason) for result in results if result.status not in PASSED] == []
    assert len(results) > 100
