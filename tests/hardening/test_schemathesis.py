"""schemathesis against the app in-process, driven by the app's own OpenAPI description.

Every generated request, valid or not, must get an answer the description allows: never a
5xx (other than the described 501/503), always a SCIM Error body for 4xx, and a body that
fits the response schema. Runs on the in-memory backend so it stays fast; the storage
behaviour itself is covered by the contract suites and test_bad_input.py on every backend.
"""

from __future__ import annotations

import json
import os

import schemathesis
from schemathesis import GenerationMode
from schemathesis.config import HealthCheck
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from scimflask import create_app
from scimflask.protocol.messages import ERROR as ERROR_SCHEMA

from ..conftest import TOKEN
from .fuzz_settings import examples

PHASES = os.environ.get("SCIMFLASK_FUZZ_PHASES", "examples,fuzzing").split(",")
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _app():
    return create_app({"SCIM_STORAGE_URI": "memory://", "SCIM_BEARER_TOKENS": (TOKEN,),
                       "SCIM_SECRET_KEY": "fuzz", "TESTING": True})


def _load(modes: list[GenerationMode]):
    schema = schemathesis.openapi.from_wsgi("/scim/v2/openapi.json", _app(), headers=AUTH,
                                            config=schemathesis.Config())
    schema.config.update(headers=AUTH, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
    schema.config.phases.update(phases=PHASES)
    schema.config.generation.update(modes=modes, max_examples=examples(5), deterministic=True,
                                    database="none")
    return schema


@schemathesis.check
def no_server_error(ctx, response, case):
    """5xx only where described as intended: 501 from /Me without a mapped User."""
    assert response.status_code < 500 or response.status_code == 501, (
        f"{case.method} {case.path} answered {response.status_code}")
    return None


@schemathesis.check
def scim_error_body(ctx, response, case):
    """Every 4xx/5xx answer is an RFC 7644 §3.12 Error whose status matches the HTTP status."""
    if response.status_code < 400:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"{response.status_code} answer is not JSON: {response.content[:200]!r}") from None
    assert isinstance(body, dict) and body.get("schemas") == [ERROR_SCHEMA], body
    assert body.get("status") == str(response.status_code), body
    assert response.headers.get("content-type", [""])[0].startswith("application/scim+json")
    return None


POSITIVE_CHECKS = [no_server_error, status_code_conformance, content_type_conformance,
                   response_headers_conformance, response_schema_conformance, scim_error_body]
# Invalid input is answered 4xx; what must hold is the same minus "the server accepted a value
# the description calls invalid" (it is lenient on purpose: see scimflask/openapi.py).
NEGATIVE_CHECKS = POSITIVE_CHECKS

positive = _load([GenerationMode.POSITIVE])
negative = _load([GenerationMode.NEGATIVE])


@positive.parametrize()
def test_valid_requests_get_described_answers(case):
    case.call_and_validate(headers=AUTH, checks=POSITIVE_CHECKS)


@negative.parametrize()
def test_invalid_requests_get_scim_errors(case):
    case.call_and_validate(headers=AUTH, checks=NEGATIVE_CHECKS)
