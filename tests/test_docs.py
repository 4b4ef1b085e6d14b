"""docs/plugins.md describes every hook of scimflask/hookspecs.py under a heading of its own.

The hook specifications are read from the source with `ast`, so a new hook without a section in
the guide fails here. A section counts only if its heading names the hook: the overview table
mentions every hook too, and must not stand in for the description.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from scimflask import create_app, hookspecs

from .examples.test_plugin_guide import guide_module

ROOT = Path(__file__).resolve().parent.parent
HOOKSPECS = ROOT / "scimflask" / "hookspecs.py"
GUIDE = ROOT / "docs" / "plugins.md"
FIELDS = ("Called", "Arguments", "Returns", "Example")
ADMIN_TOKEN = "admin-token-0123456789abcdef"


def find_hookspecs(source: str) -> dict[str, tuple[str, ...]]:
    """Name -> parameter names of every function marked `@hookspec` or `@hookspec(...)`."""
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and any(_is_hookspec(d) for d in node.decorator_list):
            found[node.name] = tuple(a.arg for a in (*node.args.args, *node.args.kwonlyargs))
    return found


def _is_hookspec(decorator: ast.expr) -> bool:
    marker = decorator.func if isinstance(decorator, ast.Call) else decorator
    return isinstance(marker, ast.Name) and marker.id == "hookspec"


def sections(markdown: str) -> list[tuple[str, int, int]]:
    """(heading text, first line, end line) of every Markdown heading outside code fences; a
    section runs to the next heading of the same or a higher level."""
    lines = markdown.splitlines()
    headings: list[tuple[int, str, int]] = []
    fenced = False
    for number, line in enumerate(lines):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"(#{1,6})\s+(.*)", line)):
            headings.append((len(match.group(1)), match.group(2), number))
    found = []
    for index, (level, text, start) in enumerate(headings):
        end = next((later for other, _, later in headings[index + 1:] if other <= level), len(lines))
        found.append((text, start, end))
    return found


def _section_of(name: str, markdown: str) -> tuple[int, int] | None:
    for heading, start, end in sections(markdown):
        if re.search(rf"(?<!\w){name}(?!\w)", heading):
            return start, end
    return None


def undocumented(specs: dict[str, tuple[str, ...]], markdown: str) -> list[str]:
    """What the guide fails to say about `specs`: a missing section, field or parameter."""
    lines = markdown.splitlines()
    problems = []
    for name, parameters in specs.items():
        span = _section_of(name, markdown)
        if span is None:
            problems.append(f"{name}: no heading names it")
            continue
        body = "\n".join(lines[span[0]:span[1]])
        problems += [f"{name}: no **{field}:**" for field in FIELDS if f"**{field}:**" not in body]
        problems += [f"{name}: parameter `{p}` not described" for p in parameters if f"`{p}`" not in body]
    return problems


SPECS = find_hookspecs(HOOKSPECS.read_text(encoding="utf-8"))


def test_every_hookspec_is_documented():
    assert undocumented(SPECS, GUIDE.read_text(encoding="utf-8")) == []


def test_the_source_reader_finds_what_pluggy_registers():
    registered = {name for name, value in vars(hookspecs).items() if hasattr(value, f"{hookspecs.PROJECT}_spec")}
    assert set(SPECS) == registered and "scimflask_authorize_admin" in SPECS


@pytest.mark.parametrize("name", sorted(SPECS))
def test_a_deleted_section_is_reported(name):
    lines = GUIDE.read_text(encoding="utf-8").splitlines()
    span = _section_of(name, "\n".join(lines))
    assert span is not None
    without = "\n".join(lines[:span[0]] + lines[span[1]:])
    assert name in without  # still in the overview table, which does not count
    assert undocumented(SPECS, without) == [f"{name}: no heading names it"]


def test_a_parameter_left_out_of_its_section_is_reported():
    guide = GUIDE.read_text(encoding="utf-8")
    start, end = _section_of("scimflask_resource_changed", guide)
    lines = guide.splitlines()
    lines[start:end] = [line.replace("`event`", "the event") for line in lines[start:end]]
    assert undocumented(SPECS, "\n".join(lines)) == ["scimflask_resource_changed: parameter `event` not described"]


def test_headings_inside_code_fences_do_not_count():
    markdown = "# Guide\n\n```python\n# scimflask_authenticate\n```\n"
    assert [heading for heading, _, _ in sections(markdown)] == ["Guide"]


def test_the_guides_admin_hook_works_as_documented():
    module, _ = guide_module()
    app = create_app({"SCIM_STORAGE_URI": "memory://", "SCIM_PLUGINS": [module], "SECRET_KEY": "session-key",
                      "SCIM_ADMIN_TOKENS": (ADMIN_TOKEN,), "ACME_INTERNAL_KEY": "internal-key"})
    client = app.test_client()
    assert client.get("/scim-admin/tenants").status_code == 401
    with client.session_transaction() as session:
        session["role"] = "user"
    assert client.get("/scim-admin/tenants").status_code == 401
    token = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert client.get("/scim-admin/tenants", headers=token).status_code == 200
    with client.session_transaction() as session:
        session["role"] = "admin"
    assert client.get("/scim-admin/tenants").status_code == 200


def test_the_admin_hook_alone_switches_the_admin_api_on():
    module, _ = guide_module()
    app = create_app({"SCIM_STORAGE_URI": "memory://", "SCIM_PLUGINS": [module], "SECRET_KEY": "session-key"})
    client = app.test_client()
    with client.session_transaction() as session:
        session["role"] = "admin"
    assert client.get("/scim-admin/tenants").json == {"tenants": []}
