"""The import graph of the library: acyclic, and no module imports from a layer above its own.

Imports inside functions count too (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib" / "seedexplain"

LAYERS = [
    {"constraints", "progress"},
    {"registry"},
    {"config"},
    {"words", "snr", "artifacts", "forward"},
    {"stats", "data", "linear", "beyond", "plots", "interactive"},
    {"synthetic", "models", "train", "converters"},
    {"attribution", "faithfulness", "probing", "attention_checks"},
    {"families", "results"},
    {"pipeline", "report", "prose"},
    {"sweeps", "scaling", "checks", "cli", "multiverse"},
]
"""Layer of every module (a package counts as one module): a module may import its own layer or lower ones."""


def _module_name(path: Path) -> str:
    relative = path.relative_to(LIB).with_suffix("")
    return relative.parts[0] if relative.parts[0] != "__init__" else "seedexplain"


def _imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in LIB.rglob("*.py"):
        name = _module_name(path)
        targets = graph.setdefault(name, set())
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("seedexplain."):
                targets.add(node.module.split(".")[1])
            elif isinstance(node, ast.ImportFrom) and node.module == "seedexplain":
                targets.update(alias.name for alias in node.names if alias.name != "__version__")
            elif isinstance(node, ast.Import):
                targets.update(a.name.split(".")[1] for a in node.names if a.name.startswith("seedexplain."))
        targets.discard(name)
    graph.pop("seedexplain", None)
    return graph


GRAPH = _imports()
LAYER = {module: i for i, layer in enumerate(LAYERS) for module in layer}


def test_every_module_has_a_layer():
    assert set(GRAPH) <= set(LAYER), f"modules without a layer: {sorted(set(GRAPH) - set(LAYER))}"


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_import_from_a_higher_layer(module):
    higher = sorted(t for t in GRAPH[module] if LAYER.get(t, -1) > LAYER[module])
    assert not higher, f"{module} (layer {LAYER[module]}) imports higher layers: {higher}"


def test_import_graph_is_acyclic():
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        if state.get(node) == 1:
            raise AssertionError(f"import cycle: {' -> '.join(path + [node])}")
        if state.get(node) == 2:
            return
        state[node] = 1
        for target in GRAPH.get(node, ()):
            visit(target, path + [node])
        state[node] = 2

    for module in GRAPH:
        visit(module, [])


def test_report_functions_never_reach_training_code():
    reach: set[str] = set()
    frontier = ["report", "prose"]
    while frontier:
        module = frontier.pop()
        for target in GRAPH.get(module, ()):
            if target not in reach:
                reach.add(target)
                frontier.append(target)
    assert not reach & {"pipeline", "train", "families", "models", "attribution"}, sorted(reach)
