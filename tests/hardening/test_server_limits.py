"""What a client gets when the HTTP server itself refuses a request: SCIM error JSON.

Each server runs in a subprocess on a free port and gets raw bytes over a socket (the test
client cannot send a request a real server would refuse). "Wired" servers use
`scimflask.server.limits` the way tests/hardening/server_apps.py does; the `scimflask serve`
tests run the same checks against the CLI, which uses those pieces itself.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scimflask.protocol.messages import ERROR as ERROR_SCHEMA
from scimflask.server.limits import MAX_HEADER_FIELD_LENGTH, MAX_URI_LENGTH, RequestLimits

from ..conftest import TOKEN, ScimClient

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PREFIX = "/scim/v2"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_listening(process: subprocess.Popen, port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {process.stderr.read()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start listening")


def _start(command: list[str]):
    port = _free_port()
    env = {**os.environ, "SCIM_STORAGE_URI": "memory://", "SCIM_BEARER_TOKENS": TOKEN,
           "SCIM_SECRET_KEY": "limits-test", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([part.format(port=port) for part in command], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    _wait_until_listening(process, port)
    return process, port


@pytest.fixture(scope="module", params=[
    pytest.param([sys.executable, "-m", "tests.hardening.server_apps", "{port}"], id="werkzeug-wired"),
    pytest.param([str(BIN / "gunicorn"), "-b", "127.0.0.1:{port}", "-w", "1",
                  "-k", "scimflask.server.worker.ScimThreadWorker",
                  "tests.hardening.server_apps:limited_app()"], id="gunicorn-wired"),
    pytest.param([str(BIN / "scimflask"), "serve", "--port", "{port}", "--dev"], id="cli-werkzeug"),
    pytest.param([str(BIN / "scimflask"), "serve", "--port", "{port}"], id="cli-gunicorn"),
])
def server(request):
    process, port = _start(request.param)
    yield port
    # The whole session: gunicorn's workers, werkzeug's reloader and the process it serves from.
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _exchange(port: int, raw: bytes) -> tuple[int, dict, bytes]:
    """Send raw bytes, read the answer until the server closes or the body is complete."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(raw)
        except OSError:
            pass  # the server may refuse before reading everything; its answer is still there
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            data += chunk
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep and b"content-length:" in head.lower():
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                if len(body) >= length:
                    break
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, body


def _get(target: str, extra_headers: str = "") -> bytes:
    return (f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"{extra_headers}Connection: close\r\n\r\n").encode("latin-1")


def _assert_scim_error(answer: tuple[int, dict, bytes], status: int) -> dict:
    code, headers, body = answer
    assert code == status, (code, body[:300])
    assert headers.get("content-type", "").startswith("application/scim+json"), headers
    # Whoever refused (the app, its middleware or the HTTP server), the answer names the request.
    assert re.fullmatch(r"[0-9a-f]{13,}-[0-9a-f]+", headers.get("x-request-id", "")), headers  # a generated id
    document = json.loads(body)
    assert document["schemas"] == [ERROR_SCHEMA] and document["status"] == str(status), document
    return document


@pytest.fixture
def refusing_server(server):
    """The server, for tests of refusals (every launcher answers them in SCIM JSON)."""
    return server


def _long_filter(length: int) -> str:
    return f"{PREFIX}/Users?filter=userName%20eq%20%22{'a' * length}%22"


def test_normal_request_passes(server):
    code, headers, body = _exchange(server, _get(f"{PREFIX}/ServiceProviderConfig"))
    assert code == 200 and json.loads(body)["schemas"]


def test_url_just_over_the_app_limit_is_414(refusing_server):
    document = _assert_scim_error(_exchange(refusing_server, _get(_long_filter(MAX_URI_LENGTH))), 414)
    assert "/.search" in document["detail"]


def test_url_over_every_server_limit_is_414(refusing_server):
    _assert_scim_error(_exchange(refusing_server, _get(_long_filter(70_000))), 414)


def test_header_just_over_the_app_limit_is_431(refusing_server):
    _assert_scim_error(_exchange(refusing_server, _get(f"{PREFIX}/Users", f"X-Big: {'b' * MAX_HEADER_FIELD_LENGTH}\r\n")),
                       431)


def test_header_over_every_server_limit_is_431(refusing_server):
    _assert_scim_error(_exchange(refusing_server, _get(f"{PREFIX}/Users", f"X-Big: {'b' * 70_000}\r\n")), 431)


def test_too_many_headers_is_431(refusing_server):
    many = "".join(f"X-H{i}: v\r\n" for i in range(120))
    _assert_scim_error(_exchange(refusing_server, _get(f"{PREFIX}/Users", many)), 431)


def test_garbage_request_line_is_400(refusing_server):
    _assert_scim_error(_exchange(refusing_server, b"NOT A REQUEST LINE AT ALL\r\n\r\n"), 400)


# -- the middleware alone, in-process ---------------------------------------------------------

@pytest.fixture
def limited_client(app):
    app.wsgi_app = RequestLimits(app.wsgi_app, prefix=PREFIX, max_uri_length=200, max_header_field_length=100,
                                 max_header_bytes=1000)
    return ScimClient(app)


@pytest.mark.parametrize("backend", ["memory"], indirect=True)
def test_middleware_refuses_long_target_and_headers(limited_client):
    assert limited_client.get("/Users?filter=" + "x" * 300).json["status"] == "414"
    assert limited_client.get("/Users", headers={"X-Big": "y" * 200}).json["status"] == "431"
    many = {f"X-H{i}": "v" * 50 for i in range(30)}
    assert limited_client.get("/Users", headers=many).json["status"] == "431"
    assert limited_client.get("/Users").status_code == 200


@pytest.mark.parametrize("backend", ["memory"], indirect=True)
def test_middleware_leaves_host_paths_alone(app, limited_client):
    @app.route("/host")
    def host():
        return "host page"

    answer = limited_client.client.get("/host?q=" + "x" * 300)
    assert answer.status_code == 200 and answer.data == b"host page"
