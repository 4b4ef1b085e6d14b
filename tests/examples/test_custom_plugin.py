"""examples/custom_plugin: pip-installed next to scimflask, found by URL scheme, conformant.

The package is copied to a temporary directory (so build metadata never lands in the source
tree) and installed editable into a throwaway virtualenv that sees this environment's
packages, the way a plugin author's users would install it next to scimflask.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from scimflask import create_app
from scimflask.errors import ConfigurationError

PLUGIN_SOURCE = Path(__file__).resolve().parents[2] / "examples" / "custom_plugin"


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SCIMFLASK_DISABLE_PLUGIN_AUTOLOAD"}
    env.pop("PYTHONPATH", None)
    return env


@pytest.fixture(scope="module")
def plugin(tmp_path_factory) -> tuple[Path, Path]:
    """(python of a fresh virtualenv with scimflask-jsondir installed, the installed source)."""
    base = tmp_path_factory.mktemp("custom_plugin")
    source = base / "scimflask-jsondir"
    shutil.copytree(PLUGIN_SOURCE, source,
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", ".pytest_cache", "build"))
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True, timeout=30).stdout.strip()
    # Like --system-site-packages, but for this (virtual) environment: scimflask, pip and
    # setuptools come from here, so nothing is downloaded.
    parent = sysconfig.get_paths()["purelib"]
    Path(purelib, "_scimflask_test_parent.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--editable", str(source)],
                   check=True, capture_output=True, timeout=180, env=_environment())
    return python, source


def test_without_the_plugin_the_scheme_is_unknown(tmp_path):
    with pytest.raises(ConfigurationError, match="unknown storage scheme 'jsondir'"):
        create_app({"SCIM_STORAGE_URI": f"jsondir://{tmp_path}/store"})


def test_installed_plugin_is_chosen_by_url_scheme(plugin, tmp_path):
    python, source = plugin
    script = textwrap.dedent(f"""
        import json, pathlib
        from scimflask import create_app
        import scimflask_jsondir

        app = create_app({{"SCIM_STORAGE_URI": "jsondir://{tmp_path}/store", "SCIM_BEARER_TOKENS": "t0ken"}})
        storage = app.extensions["scim"].storage
        client = app.test_client()
        headers = {{"Authorization": "Bearer t0ken"}}
        USER = "urn:ietf:params:scim:schemas:core:2.0:User"
        created = client.post("/scim/v2/Users", json={{"schemas": [USER], "userName": "ann@example.com"}}, headers=headers)
        found = client.get('/scim/v2/Users?filter=userName eq "ANN@example.com"', headers=headers)
        tenant_file = pathlib.Path("{tmp_path}/store/tenants/tenant-default.json")
        print(json.dumps({{
            "storage": type(storage).__module__ + "." + type(storage).__name__,
            "module": scimflask_jsondir.__file__,
            "created": created.status_code,
            "found": [r["id"] for r in found.get_json()["Resources"]],
            "id": created.get_json()["id"],
            "on_disk": list(json.loads(tenant_file.read_text())["User"]),
        }}))
    """)
    result = subprocess.run([str(python), "-c", script], capture_output=True, text=True, timeout=60,
                            env=_environment(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["storage"] == "scimflask_jsondir.storage.JsonDirectoryStorage"
    assert Path(report["module"]).is_relative_to(source)
    assert report["created"] == 201
    assert report["found"] == [report["id"]] == report["on_disk"]


def test_plugin_passes_the_conformance_kit(plugin):
    python, source = plugin
    result = subprocess.run([str(python), "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(source)],
                            capture_output=True, text=True, timeout=300, env=_environment(), cwd=source)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    counts = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|error)", summary)}
    # The plugin pages by keyset, so only the optional operations capabilities (tenant records,
    # provisioning log, counters), which it does not offer, and the index checks of a backend
    # that scans (indexed_filters is False) may skip, and nothing may fail.
    assert counts.get("passed", 0) >= 90 and set(counts) <= {"passed", "skipped"}, summary
    reasons = re.findall(r"^SKIPPED \[\d+\] [^:]+:\d+: (.*)$", result.stdout, flags=re.MULTILINE)
    assert len(reasons) == counts.get("skipped", 0) or counts.get("skipped", 0) == sum(
        int(n) for n in re.findall(r"^SKIPPED \[(\d+)\]", result.stdout, flags=re.MULTILINE)), result.stdout[-3000:]
    optional = ("TenantSupport", "ProvisioningLogSupport", "CounterSupport", "(indexed_filters is False)")
    assert all(reason.endswith(optional) for reason in reasons), reasons
