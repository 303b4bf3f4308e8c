"""The import graph of ``mtfas``: no cycles (lazy imports count), and the layers hold.

The graph is read from the sources with :mod:`ast` (nothing is imported): an edge for
every ``import`` / ``from ... import`` anywhere in a module (inside functions too) and for
every module named as a value of a dict literal assigned at any level (lazy export
tables such as ``mtfas.__getattr__``'s ``_LAZY``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mtfas"


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path) -> set[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            for alias in node.names:
                full = f"{base}.{alias.name}"
                targets.add(full if full in MODULES else base)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
            # A lazy export table: {"Name": "mtfas.module", ...} (``mtfas.__getattr__``).
            targets.update(
                v.value
                for v in node.value.values
                if isinstance(v, ast.Constant)
                and isinstance(v.value, str)
                and v.value.startswith("mtfas.")
                and v.value in MODULES
            )
    resolved = {_resolve(t) for t in targets if t == "mtfas" or t.startswith("mtfas.")}
    return {t for t in resolved if t and t != module}


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for w in GRAPH.get(todo.pop(), ()):
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return seen


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_lazy_and_function_level_imports():
    assert "mtfas.systems" in GRAPH["mtfas"]  # the lazy export table
    assert "mtfas.pipelines.folds" in GRAPH["mtfas.cli.cli"]


def test_no_import_cycle_in_mtfas():
    assert _cycles(GRAPH) == []


@pytest.mark.parametrize(
    "package,forbidden",
    [
        ("mtfas.pipelines", ("mtfas.cli",)),
        ("mtfas.reporting", ("mtfas.cli", "mtfas.pipelines", "mtfas.systems")),
        ("mtfas.inference", ("mtfas.systems", "mtfas.cli", "mtfas.datamodules")),
        ("mtfas.protocols", ("mtfas.datamodules", "mtfas.systems", "mtfas.cli")),
        ("mtfas.metrics", ("mtfas.systems", "mtfas.datamodules", "mtfas.cli")),
        ("mtfas.models", ("mtfas.systems", "mtfas.datamodules", "mtfas.cli")),
    ],
)
def test_layers(package, forbidden):
    members = [m for m in GRAPH if m == package or m.startswith(package + ".")]
    assert members
    reached = set().union(*(_reachable(m) for m in members))
    bad = sorted(m for m in reached for f in forbidden if m == f or m.startswith(f + "."))
    assert bad == [], f"{package} reaches {bad}"
