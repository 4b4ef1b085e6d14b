"""The shape of the code base, checked from its source with `ast`.

- No import cycle inside `scimflask/`, counting imports made inside functions too (a lazy
  import that only survives a cycle is still a cycle).
- Storage plugins use only the public contract of core, and `scimflask.protocol` imports no
  HTTP framework.
- No module over 700 lines and no function over 60 lines in `scimflask/` or `plugins/`.
- `setup.cfg` lists every package, since `find:` cannot see the plugins' second root.
"""

from __future__ import annotations

import ast
import configparser
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "scimflask"
PLUGINS = ROOT / "plugins"

# What a storage plugin may import from core: the storage contract, the values crossing it, the
# filter AST and its reference evaluator, the catalog's types, the conformance kit, and
# `hookimpl` to register itself.
PLUGIN_CONTRACT = ("scimflask.storage", "scimflask.model", "scimflask.filter", "scimflask.schema",
                   "scimflask.testing", "scimflask.hookspecs")
PLUGIN_ROOT_NAMES = {"hookimpl"}

MAX_MODULE_LINES = 700
MAX_FUNCTION_LINES = 60


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(root: Path, base: Path) -> dict[str, Path]:
    return {_module_name(path, base): path for path in sorted(root.rglob("*.py"))}


def _imports(path: Path, name: str, known: set[str]) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(imported module, names taken from it) for every import statement in the file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = tuple(alias.name for alias in node.names)
            # `from pkg import module` imports the module itself.
            submodules = [f"{target}.{n}" for n in names if f"{target}.{n}" in known]
            if submodules:
                for module in submodules:
                    yield module, ()
            else:
                yield target, names


def _core_graph() -> dict[str, set[str]]:
    modules = _modules(CORE, ROOT)
    known = set(modules)
    return {name: {target for target, _ in _imports(path, name, known) if target in known and target != name}
            for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_inside_scimflask():
    assert _cycles(_core_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_protocol_package_is_free_of_http():
    # Parsing, PATCH, paging, projection and the Bulk runner are pure: the HTTP layer lives in
    # views/ and server/.
    modules = {**_modules(CORE / "protocol", ROOT), "scimflask.bulk": CORE / "bulk.py"}
    found = [f"{name} imports {target}" for name, path in modules.items()
             for target, _ in _imports(path, name, set(modules))
             if target.split(".")[0] in ("flask", "werkzeug", "gunicorn")]
    assert found == []


def _plugin_imports_outside_the_contract() -> list[str]:
    core = set(_modules(CORE, ROOT))
    problems = []
    for name, path in _modules(PLUGINS, PLUGINS).items():
        for target, names in _imports(path, name, core):
            if target != "scimflask" and not target.startswith("scimflask."):
                continue
            if target == "scimflask" and set(names) <= PLUGIN_ROOT_NAMES:
                continue
            if any(target == allowed or target.startswith(allowed + ".") for allowed in PLUGIN_CONTRACT):
                continue
            problems.append(f"{path.relative_to(ROOT)} imports {target}")
    return problems


def test_plugins_use_only_the_public_contract():
    assert _plugin_imports_outside_the_contract() == []


def _long_code() -> list[str]:
    problems = []
    for path in sorted([*CORE.rglob("*.py"), *PLUGINS.rglob("*.py")]):
        source = path.read_text()
        lines = source.count("\n")
        if lines > MAX_MODULE_LINES:
            problems.append(f"{path.relative_to(ROOT)}: {lines} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    problems.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}(): {length} lines")
    return problems


def test_no_long_modules_or_functions():
    assert _long_code() == []


def test_setup_cfg_lists_every_package():
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    listed = set(parser["options"]["packages"].split())
    found = {_module_name(init, ROOT) for init in CORE.rglob("__init__.py")}
    found |= {_module_name(init, PLUGINS) for init in PLUGINS.rglob("__init__.py")}
    assert listed == found


@pytest.mark.parametrize("name", ["scimflask.views.bulk", "scimflask.state"])
def test_the_import_graph_sees_lazy_imports(name):
    # Imports inside functions count: the graph of a module is not empty just because it defers.
    assert _core_graph()[name]
