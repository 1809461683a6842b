"""The layers of ``lab/`` hold: every import goes down (or sideways), none goes round in a cycle.

Read from the source with :mod:`ast`, so imports inside functions count too. The layers are
the README's table ("Architecture: the layers of lab/").
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = (  # bottom first
    ("lab.cancellation", "lab.memo"),
    ("lab.meters",),
    ("lab.datasets",),
    ("lab.models",),
    ("lab.techniques",),
    ("lab.io",),
    ("lab.runtimes",),
    ("lab.evaluation",),
    ("lab.decide",),
    ("lab.teach",),
    ("lab.__main__", "lab"),  # the CLI and the package's public API sit on top
)
# The imports that go up, on request: apply(..., runtime="onnxruntime") (images, tokens).
EXCEPTIONS = {
    ("lab.techniques.apply", "lab.runtimes.export"),
    ("lab.techniques.apply", "lab.runtimes.onnx_dynamic"),
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in (ROOT / "lab").rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The lab modules ``name`` imports (TYPE_CHECKING blocks left out)."""
    tree = ast.parse(path.read_text())
    skipped = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.dump(block.test)
        for node in ast.walk(block)
    }
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            candidates = [f"{base}.{alias.name}" for alias in node.names]
            modules = [c for c in candidates if c in MODULES]
            found.update(modules or ([base] if base in MODULES else []))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in MODULES)
    found.discard(name)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(module: str) -> int:
    best = None
    for level, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (level, len(prefix))
    assert best is not None, f"{module} is in no layer: add it to LAYERS and the README"
    return best[0]


def test_every_module_is_in_a_layer():
    for module in MODULES:
        _layer(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down(module):
    upward = [
        target
        for target in GRAPH[module]
        if _layer(target) > _layer(module) and (module, target) not in EXCEPTIONS
    ]
    assert not upward, f"{module} (layer {_layer(module)}) imports from above: {upward}"


def test_no_import_cycles():
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module], _ = 1, path.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                cycle = path[path.index(target) :] + [target]
                raise AssertionError("import cycle: " + " → ".join(cycle))
            if target not in state:
                visit(target)
        state[module], _ = 2, path.pop()

    for module in sorted(MODULES):
        if module not in state and module != "lab":  # the package's lazy API imports all
            visit(module)


def test_lab_never_imports_widgets_and_widgets_use_no_private_lab_names():
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                names += [a.name for a in node.names]
                assert not any(n.split(".")[0] == "widgets" for n in names), name
    for path in (ROOT / "widgets").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lab"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.name} imports private lab names {private}"


def test_the_short_names_are_the_layered_modules():
    import importlib

    import lab

    for short, layered in lab.MOVED.items():
        assert importlib.import_module(short) is importlib.import_module(layered), short
        module = importlib.import_module(layered)
        assert module.__spec__.name == layered  # the alias leaves its spec alone
