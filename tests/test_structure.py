"""The module structure docs/architecture.md draws: no import circle in curate/, and the engine (config, dag,
partition, ops, executors, stages, dedup) never imports the report (report/ draws what the engine tells it)."""

from __future__ import annotations

import ast
from pathlib import Path

CURATE = Path(__file__).resolve().parents[1] / "curate"
ENGINE = ("curate.config", "curate.dag", "curate.partition", "curate.ops", "curate.executors", "curate.stages",
          "curate.ops.dedup")


def import_graph() -> dict[str, set[str]]:
    """curate's modules and the curate modules each imports (type-only imports and imports inside functions too)."""
    graph: dict[str, set[str]] = {}
    for path in CURATE.rglob("*.py"):
        module = ".".join(path.relative_to(CURATE.parent).with_suffix("").parts).removesuffix(".__init__")
        named: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("curate"):
                named |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
            elif isinstance(node, ast.Import):
                named |= {alias.name for alias in node.names if alias.name.startswith("curate")}
        graph[module] = named
    return {module: {name for name in named if name in graph and name != module} for module, named in graph.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_circle():
    assert cycles(import_graph()) == []


def test_a_circle_is_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_engine_does_not_import_the_report():
    graph = import_graph()
    assert [(module, name) for module, named in sorted(graph.items()) if module.startswith(ENGINE)
            for name in sorted(named) if name.startswith("curate.report")] == []
