"""The server backends the load tests and drills run on, and how long they run.

A backend runs only when its URL is in the environment (CI sets both); otherwise its tests
skip and say why. `SCIMFLASK_LOAD_SECONDS` lengthens the CI-sized load test.
"""

from __future__ import annotations

import os

import pytest

from .harness import URL_VARIABLES


def _backend(name: str, mark: pytest.MarkDecorator):
    variable = URL_VARIABLES[name]
    return pytest.param(name, id=name, marks=[
        mark, pytest.mark.skipif(not os.environ.get(variable), reason=f"{variable} is not set (CI sets it; see .ci/run)")])


SERVER_BACKENDS = [_backend("postgres", pytest.mark.postgres), _backend("redis", pytest.mark.redis)]


@pytest.fixture(params=SERVER_BACKENDS)
def storage_url(request) -> str:
    return os.environ[URL_VARIABLES[request.param]]


@pytest.fixture
def report(capsys, request):
    """Print a figures line to the terminal even under pytest's output capture."""

    def emit(line: str) -> None:
        with capsys.disabled():
            print(f"\n{request.node.name}: {line}")

    return emit
