"""The layout rules of docs/architecture.md, enforced on the tree as it stands.

Every module's imports are read from its AST (module level and inside functions alike, so a
lazy import cannot hide an edge). The rules:

- services import only `services.kit` (and their own package); the kit imports no service;
  `services.datainit`, the dev data job rather than a service, may use the services' own data
  helpers (password hashing, the places loader) and nothing imports it;
- the harness layers point down only: chaos → scenarios → simulation → runs; `runs` imports
  nothing of the project but nothing of the services either;
- no import cycles between modules;
- no source file over 500 lines, no function over 80 lines (data tables excepted).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("services", "runs", "simulation", "scenarios", "chaos")
# A package may import those ranked strictly below it (and itself); services stand apart.
LAYER_RANK = {"runs": 0, "simulation": 1, "scenarios": 2, "chaos": 3}
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 80
# Data, not logic: generated or hand-kept tables that are long by nature.
DATA_FILES = frozenset({"services/datainit/data/generate_ai_data.py"})


def source_files() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((REPO_ROOT / package).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> set[str]:
    """Absolute module names `path` imports (`from a.b import c` yields a.b and a.b.c)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = (
        module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else module_name(path)
    )
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            found.add(prefix)
            found.update(f"{prefix}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in PACKAGES}


def forbidden(importer: str, imported: str) -> str | None:
    """Why the edge importer → imported breaks a rule, or None."""
    top, target = importer.split(".")[0], imported.split(".")[0]
    if top == "services":
        if target != "services":
            return "services import only the kit"
        own = importer.split(".")[1] if importer.count(".") else ""
        other = imported.split(".")[1] if imported.count(".") else ""
        if other == "datainit" and own != "datainit":
            return "nothing imports the data job"
        if own == "datainit":
            return None
        if other and other not in ("kit", own):
            return "services never import each other"
        if own == "kit" and other not in ("kit", ""):
            return "the kit imports no service"
        return None
    if target == "services" or target == top:
        return None
    if LAYER_RANK[target] >= LAYER_RANK[top]:
        return f"{top} may import only layers below it ({top} → {target} points up or sideways)"
    return None


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in source_files()}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for imported in imported_modules(path):
            # `from a import b` names a module a.b only when it exists; else b is an attribute.
            while imported not in modules and "." in imported:
                imported = imported.rsplit(".", 1)[0]
            if imported in modules and imported != name:
                edges.add(imported)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None (iterative DFS)."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    for root in sorted(graph):
        if state.get(root):
            continue
        stack: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        path = [root]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(child) == 1:
                return [*path[path.index(child) :], child]
            elif not state.get(child):
                state[child] = 1
                stack.append((child, iter(sorted(graph.get(child, ())))))
                path.append(child)
    return None


# Package __init__ files re-export their package's modules: importing a submodule runs the
# __init__, which imports the submodules back. Those edges are the package's own, not cycles.
def _without_init_edges(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    return {
        name: {e for e in edges if not name.startswith(e + ".") and not e.startswith(name + ".")}
        for name, edges in graph.items()
    }


def test_no_import_points_up_or_sideways() -> None:
    broken = sorted(
        f"{importer} imports {imported}: {why}"
        for importer, edges in import_graph().items()
        for imported in edges
        if (why := forbidden(importer, imported))
    )
    assert not broken, "\n".join(broken)


def test_no_import_cycles() -> None:
    cycle = find_cycle(_without_init_edges(import_graph()))
    assert cycle is None, " → ".join(cycle or [])


def test_no_source_file_over_500_lines() -> None:
    long = [
        f"{path.relative_to(REPO_ROOT)}: {lines} lines"
        for path in source_files()
        if str(path.relative_to(REPO_ROOT)) not in DATA_FILES
        and (lines := path.read_text(encoding="utf-8").count("\n")) > MAX_FILE_LINES
    ]
    assert not long, "\n".join(long)


def test_no_function_over_80_lines() -> None:
    long = []
    for path in source_files():
        if str(path.relative_to(REPO_ROOT)) in DATA_FILES:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long.append(
                        f"{path.relative_to(REPO_ROOT)}:{node.lineno} {node.name}: {length}"
                    )
    assert not long, "\n".join(long)


@pytest.mark.parametrize(
    ("importer", "imported", "allowed"),
    [
        ("chaos.runner", "scenarios.load.probe", True),
        ("scenarios.cli.main", "chaos.runner", False),
        ("simulation.capacity.model", "scenarios.load.runner", False),
        ("simulation.capacity.model", "runs.results", True),
        ("runs.results", "simulation.state", False),
        ("services.trip.routes", "services.kit.auth", True),
        ("services.trip.routes", "services.location.schemas", False),
        ("services.kit.app", "services.user.app", False),
        ("services.kit.app", "simulation.state", False),
        ("scenarios.bench.planner", "services.ai.planner", True),
        ("services.datainit.sample", "services.user.passwords", True),
        ("services.user.app", "services.datainit.sample", False),
    ],
)
def test_the_rules_themselves(importer: str, imported: str, allowed: bool) -> None:
    assert (forbidden(importer, imported) is None) is allowed


def test_a_cycle_is_found() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
