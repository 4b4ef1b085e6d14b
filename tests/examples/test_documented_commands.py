"""Every shell command the documentation shows runs as written, from a clone.

The commands are the lines of the fenced `sh` blocks of README.md, docs/*.md and each example's
README. They run from a copy of the repository's files (what a clone has), in the fresh
virtualenv that the README's own first command creates. A documented command that no test here
runs fails `test_every_documented_command_is_run`, so a new or changed command cannot slip by.

Run as written, except:
- servers (`scimflask serve`, `flask run`, `gunicorn`) run until they answer a request, then
  are stopped;
- the README's test command and the quick benchmark are what `.ci/run` runs; rather than nest
  a whole test run inside this one, the test checks that `.ci/run` runs them verbatim;
- long runs are shortened with options the commands already take: the fuzzing example count,
  the load harness's seconds, the full benchmark's backends, directory size and duration;
- `examples/standalone/postgresql.env` names a production database host: after the file is
  sourced, the test database takes its place;
- `<token id>` in the embedding example is the id the command before it printed.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
             *sorted((ROOT / "examples").glob("*/README.md"))]
POSTGRES_URL = os.environ.get("SCIMFLASK_TEST_POSTGRES_URL")
INSTALL_TIMEOUT = 600
SERVER_TIMEOUT = 90


# -- the documentation's commands ------------------------------------------------------------

def blocks(document: Path) -> list[list[str]]:
    """The commands of each `sh` block: continuation lines joined, trailing comments dropped."""
    found = []
    for block in re.findall(r"```(?:sh|bash|shell)\n(.*?)```", document.read_text(encoding="utf-8"), re.S):
        commands = []
        for line in block.replace("\\\n", "").splitlines():
            line = re.sub(r"\s{2,}#.*$", "", line).strip()
            if line and not line.startswith("#"):
                commands.append(line)
        found.append(commands)
    return found


def block(document: str, index: int) -> list[str]:
    return blocks(ROOT / document)[index]


# Which test runs each documented block: (document, block index) -> test name.
RUN_BY = {
    ("README.md", 0): "test_readme_quickstart_serves_and_answers",
    ("README.md", 1): "test_ci_runs_the_readme_test_command",
    ("README.md", 2): "test_readme_quickstart_serves_and_answers",
    ("README.md", 3): "test_readme_testing_commands",
    ("docs/plugins.md", 0): "test_plugin_test_commands",
    ("docs/plugins.md", 1): "test_plugin_is_picked_up_and_serves",
    ("examples/custom_plugin/README.md", 0): "test_plugin_is_picked_up_and_serves",
    ("examples/custom_plugin/README.md", 1): "test_plugin_test_commands",
    ("examples/embed_existing_app/README.md", 0): "test_embedding_example",
    ("examples/embed_existing_app/README.md", 1): "test_embedding_example",
    ("examples/standalone/README.md", 0): "test_standalone_sqlite",
    ("examples/standalone/README.md", 1): "test_standalone_postgresql",
}
# Blocks whose commands, if edited, must be looked at again: the text this file was written for.
EXPECTED = {
    ("README.md", 0): ["python3 -m venv .venv && .venv/bin/pip install -e '.[server]' && .venv/bin/scimflask serve"],
    ("README.md", 2): ["curl -H \"Authorization: Bearer $TOKEN\" "
                       "'http://127.0.0.1:8000/scim/v2/Users?filter=userName%20eq%20%22nobody%22'"],
}


def test_every_documented_command_is_run():
    documented = {(str(doc.relative_to(ROOT)), index)
                  for doc in DOCUMENTS for index, commands in enumerate(blocks(doc)) if commands}
    assert documented == set(RUN_BY), "a documented shell block has no test here (or a test lost its block)"
    for key, commands in EXPECTED.items():
        assert block(*key) == commands


def test_the_block_reader_joins_continuations_and_drops_comments(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("```sh\n# a comment\npython -c \"a; \\\nb\"   # why\n\nls\n```\n```python\nx\n```\n")
    assert blocks(doc) == [['python -c "a; b"', "ls"]]


# -- running them ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """The repository's tracked files in a new directory, as a clone would have them."""
    target = tmp_path_factory.mktemp("clone") / "scimflask"
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=False)
    if listed.returncode == 0 and listed.stdout:
        for name in filter(None, listed.stdout.decode().split("\0")):
            source = ROOT / name
            if source.is_file():
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)
    else:  # a source archive: everything but what a build leaves behind
        shutil.copytree(ROOT, target, ignore=shutil.ignore_patterns(
            ".venv", "__pycache__", "*.egg-info", ".pytest_cache", "results", "*.db"))
    return target


def environment(venv: Path | None = None, **extra: str) -> dict[str, str]:
    """This environment without the test run's own settings, the venv's bin first on PATH."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SCIM_", "PYTEST_", "VIRTUAL_ENV", "FLASK_")) and k != "PYTHONPATH"}
    if venv is not None:
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(venv)
    env.update(extra)
    return env


def run(commands: list[str], cwd: Path, env: dict[str, str], timeout: float = INSTALL_TIMEOUT) -> str:
    """Run commands as one bash script that stops at the first failure; what it printed on stdout."""
    script = "set -euo pipefail\n" + "\n".join(commands)
    done = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"{commands} failed ({done.returncode}):\n{(done.stdout + done.stderr)[-4000:]}"
    return done.stdout


class Server:
    """A documented command that serves until stopped: its own process group, its output read
    line by line, always stopped."""

    def __init__(self, commands: list[str], cwd: Path, env: dict[str, str]) -> None:
        script = "set -euo pipefail\n" + "\n".join(commands)
        self.process = subprocess.Popen(["bash", "-c", script], cwd=cwd, env=env, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    break
                continue
            self.output.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        pytest.fail(f"no line matching {pattern!r}; output:\n{''.join(self.output)[-4000:]}")

    def text(self) -> str:
        while not self.lines.empty():
            self.output.append(self.lines.get_nowait())
        return "".join(self.output)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@contextmanager
def serving(commands: list[str], cwd: Path, env: dict[str, str]) -> Iterator[Server]:
    server = Server(commands, cwd, env)
    try:
        yield server
    finally:
        server.stop()


def get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    deadline = time.monotonic() + SERVER_TIMEOUT
    while True:
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def venv_of(clone: Path) -> Path:
    venv = clone / ".venv"
    if not (venv / "bin" / "scimflask").exists():
        pytest.fail("the README's first command did not create .venv (see the quickstart test)")
    return venv


# -- README.md -----------------------------------------------------------------------------

def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    (command,) = block("README.md", 1)
    assert command in ci.splitlines()
    assert ".venv/bin/python benchmarks/run.py --quick" in ci


def test_readme_quickstart_serves_and_answers(clone):
    (serve,) = block("README.md", 0)
    (curl,) = block("README.md", 2)
    env = environment()
    with serving([serve], clone, env) as server:
        token = server.wait_for(r"Secret Token: (\S+)", INSTALL_TIMEOUT).group(1)
        assert get("http://127.0.0.1:8000/healthz")[0] == 200
        body = json.loads(run([curl], clone, environment(TOKEN=token), timeout=60))
        assert body["totalResults"] == 0 and body["Resources"] == []
        # The worker writes the access line after the response has gone: wait for it.
        server.wait_for(r"GET /scim/v2/Users\?filter=\S+ 200 ", 30)
        output = server.text()
    assert "Traceback" not in output
    assert "development server" not in output.lower()
    assert re.search(r"using the SQLite file /\S+/scim\.db", output)


def test_readme_testing_commands():
    shortened = {
        "SCIMFLASK_FUZZ_EXAMPLES=5000": "SCIMFLASK_FUZZ_EXAMPLES=10",
        "--seconds 60": "--seconds 5",
    }
    commands = []
    for command in block("README.md", 3):
        if command.endswith("benchmarks/run.py --quick"):
            continue  # .ci/run runs it as written (test_ci_runs_the_readme_test_command)
        if command.endswith("benchmarks/run.py"):
            command += " --backends memory --users 300 --duration 0.2"
        if "tests.load.harness --backend postgres" in command and not POSTGRES_URL:
            continue  # needs the PostgreSQL service; CI sets its URL
        for long, short in shortened.items():
            command = command.replace(long, short)
        commands.append(command)
    run(commands, ROOT, {**os.environ, "SCIMFLASK_TEST_BACKENDS": "memory"})


# -- plugins ---------------------------------------------------------------------------------

def _serve_and_stop(commands: list[str], cwd: Path, env: dict[str, str]) -> str:
    """Run the block as one script, its last command a server: wait for its Tenant URL, check it
    answers, stop it; everything the block printed."""
    with serving(commands, cwd, env) as server:
        server.wait_for(r"Tenant URL:\s+http://127\.0\.0\.1:8000/scim/v2", INSTALL_TIMEOUT)
        assert get("http://127.0.0.1:8000/healthz")[0] == 200
        return server.text()


def test_plugin_is_picked_up_and_serves(clone):
    env = environment(venv_of(clone))
    guide = _serve_and_stop(block("docs/plugins.md", 1), clone, env)
    assert "JsonDirectoryStorage" in guide
    _serve_and_stop(block("examples/custom_plugin/README.md", 0), clone, env)


def test_plugin_test_commands(clone):
    env = environment(venv_of(clone))
    output = run(block("examples/custom_plugin/README.md", 1), clone, env)
    assert re.search(r"\d+ passed", output)
    # The guide's commands, in the plugin's own directory (the package the guide builds).
    output = run(block("docs/plugins.md", 0), clone / "examples" / "custom_plugin", env)
    assert re.search(r"\d+ passed", output)


# -- examples --------------------------------------------------------------------------------

def test_embedding_example(clone):
    first, second = block("examples/embed_existing_app/README.md", 0), block("examples/embed_existing_app/README.md", 1)
    *setup, run_app = first
    env = environment()
    with serving(first, clone, env) as server:
        token = server.wait_for(r"Secret Token:\s+(\S+)", INSTALL_TIMEOUT).group(1)
        server.wait_for(r"Running on http://127\.0\.0\.1:5000", SERVER_TIMEOUT)
        status, body = get("http://127.0.0.1:5000/scim/v2/Users", token)
        assert status == 200, body
    assert run_app == "flask --app hostapp run" and setup[0] == "cd examples/embed_existing_app"
    app_dir = clone / "examples" / "embed_existing_app"
    activate = ". .venv/bin/activate"
    env = environment(FLASK_SECRET_KEY="change-me")
    created = run([activate, second[0]], app_dir, env)
    token_id = re.search(r"Token id:\s+(\S+)", created).group(1)
    listed = run([activate, second[1]], app_dir, env)
    assert token_id in listed
    run([activate, second[2].replace("<token id>", token_id)], app_dir, env)
    assert token_id not in run([activate, second[1]], app_dir, env)
    assert "token" in run([activate, second[3]], app_dir, env)


def test_standalone_sqlite(clone):
    _serve_and_stop(block("examples/standalone/README.md", 0), clone, environment(venv_of(clone)))


@pytest.mark.skipif(not POSTGRES_URL, reason="SCIMFLASK_TEST_POSTGRES_URL is not set (CI sets it; see .ci/run)")
def test_standalone_postgresql(clone):
    source, create, gunicorn = block("examples/standalone/README.md", 1)
    assert source == "set -a; . examples/standalone/postgresql.env; set +a"
    env = environment(venv_of(clone))
    run(["pip install -q -e '.[postgresql,server]'"], clone, env)  # what postgresql.env asks for
    local = [source, f"export SCIM_STORAGE_URI={POSTGRES_URL} SCIMFLASK_BIND=127.0.0.1:8000 "
                     "SCIM_PUBLIC_BASE_URL=http://127.0.0.1:8000 SCIM_DEFAULT_TENANT=docs-standalone"]
    created = run([*local, create], clone, env)
    token = re.search(r"Secret Token:\s+(\S+)", created).group(1)
    with serving([*local, gunicorn], clone, env):
        status, body = get("http://127.0.0.1:8000/scim/v2/Users?count=1", token)
        assert status == 200, body
