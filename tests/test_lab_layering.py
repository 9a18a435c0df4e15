"""The lab's modules import one another one way: experiments and profiles on top, probes below
(the probe entry point dispatches to mode modules through a table, by name), nothing in a
circle. Imports inside functions count: they are dependencies too."""

from __future__ import annotations

import ast
from pathlib import Path

LAB = Path(__file__).resolve().parents[1] / "llmcache" / "lab"
PROBES = (
    "process_probe",
    "loops",
    "first_call",
    "app_server",
    "langgraph_server",
    "fake_capacity",
    "sdk_under_test",
    "soak",
    "soak_worker",
)


def _imports() -> dict[str, set[str]]:
    """Module -> the lab modules it imports (statically, anywhere in it)."""
    modules = {p.stem for p in LAB.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in LAB.glob("*.py"):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    found.add(node.module.split(".")[0])
                else:
                    found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "llmcache.lab."
            ):
                found.add(node.module.split(".")[2])
        graph[path.stem] = (found & modules) - {path.stem, "__init__"}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_the_lab_has_no_import_circle() -> None:
    assert _cycle(_imports()) is None


def test_probes_never_import_the_experiments_above_them() -> None:
    graph = _imports()
    for probe in PROBES:
        assert not graph[probe] & {"experiments", "cli", "notebook", "report", "tables"}, probe


def test_the_check_finds_a_circle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
