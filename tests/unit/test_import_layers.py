"""The import graph read from the code (every ``import`` in voicebot/, inside functions too): no circles,
``dialog/`` below ``call/`` and ``web/``, product packages free of tooling (docs/architecture.md, "Layers")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "voicebot"
TOOLING = ("voicebot.designer", "voicebot.caller", "voicebot.training", "voicebot.demo")
# May import tooling: the command line, and the composition root, which mounts the demo back office.
ENTRY_POINTS = {"voicebot.cli": TOOLING, "voicebot.__main__": TOOLING, "voicebot.app": ("voicebot.demo",)}

Graph = dict[str, set[str]]


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The voicebot modules one import statement loads (``from pkg import mod`` names ``pkg.mod``)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in known}
    base = node.module or ""
    if node.level:
        anchor = module.split(".") if is_package else module.split(".")[:-1]
        anchor = anchor[: len(anchor) - node.level + 1]
        base = ".".join(anchor + ([node.module] if node.module else []))
    found = {f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known}
    if base in known and len(found) < len(node.names):
        found.add(base)
    return found


def import_graph(root: Path = PACKAGE) -> Graph:
    """Module -> the voicebot modules it imports anywhere in its code."""
    files = {_module_name(path, root): path for path in sorted(root.rglob("*.py"))}
    known = set(files)
    graph: Graph = {}
    for module, path in files.items():
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                edges |= _imported(node, module, path.name == "__init__.py", known)
        graph[module] = edges - {module}
    return graph


def circles(graph: Graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
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
    return sorted(found)


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


@pytest.fixture(scope="module")
def graph() -> Graph:
    found = import_graph()
    assert "voicebot.app" in found["voicebot.cli"]  # the real package was read
    return found


def test_the_graph_sees_every_kind_of_import(tmp_path: Path) -> None:
    files = {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg import b, CONSTANT\nimport json\n",
        "pkg/b.py": "def later():\n    import pkg.sub.c\n",
        "pkg/sub/__init__.py": "from . import c\n",
        "pkg/sub/c.py": "from ..a import name\nfrom .. import b\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(tmp_path / "pkg")
    assert graph == {"pkg": set(), "pkg.a": {"pkg", "pkg.b"}, "pkg.b": {"pkg.sub.c"},
                     "pkg.sub": {"pkg.sub.c"}, "pkg.sub.c": {"pkg.a", "pkg.b"}}
    assert circles(graph) == [["pkg.a", "pkg.b", "pkg.sub.c"]]


def test_no_import_circle(graph: Graph) -> None:
    assert circles(graph) == []


def test_dialog_imports_neither_call_nor_web(graph: Graph) -> None:
    upward = {(module, target) for module, targets in graph.items() if _within(module, ("voicebot.dialog",))
              for target in targets if _within(target, ("voicebot.call", "voicebot.web"))}
    assert upward == set()


def test_product_packages_import_no_tooling(graph: Graph) -> None:
    wrong = {(module, target) for module, targets in graph.items() if not _within(module, TOOLING)
             for target in targets
             if _within(target, TOOLING) and not _within(target, ENTRY_POINTS.get(module, ()))}
    assert wrong == set()
