"""Imports point one way (docs/design.md, "Layout"): a module imports only from its own layer or the
layers below it, no pass imports another pass, no backend imports a pass, no function-local
import hides a cycle, and no module reaches into another's private (underscore) names. The layers, lowest first; a module's layer is its longest matching prefix."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"qcc": ROOT / "qcc", "qcc.passes": ROOT / "passes", "qcc.backends": ROOT / "backends"}

LAYERS: list[tuple[str, ...]] = [
    ("qcc.errors", "qcc.registry", "qcc.fileio", "qcc.targets"),
    ("qcc.ir",),
    ("qcc.arith", "qcc.limits"),
    ("qcc.ops",),
    ("qcc.interp", "qcc.analysis", "qcc.canonical"),
    ("qcc.onnx", "qcc.calibration", "qcc.data"),
    ("qcc.pipeline",),
    ("qcc.quant", "qcc.backends.numpy_int"),
    ("qcc.ptq", "qcc.analysis.sensitivity", "qcc.analysis.distribute", "qcc.analysis.precision_search", "qcc.compression"),
    ("qcc.passes", "qcc.backends.c", "qcc.backends"),
    ("qcc.model_io", "qcc.recipes", "qcc.accuracy", "qcc.analysis.report"),
    ("qcc.compile", "qcc.preflight", "qcc.integer_ops"),
    ("qcc.cli", "qcc"),
]

# The CLI imports its subcommands' machinery lazily so `qcc --help` starts fast; that is not a cycle.
LAZY_IMPORTS_ALLOWED = {"qcc.cli"}


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package, directory in PACKAGES.items():
        for path in directory.rglob("*.py"):
            rel = path.relative_to(directory).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            found[".".join([package, *parts])] = path
    return found


MODULES = _modules()


def layer_of(module: str) -> int:
    best, layer = -1, len(LAYERS) - 1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, layer = len(prefix), index
    return layer


def _imports(path: Path) -> list[tuple[str, bool, int]]:
    """(imported module, inside a function?, line) for every qcc import in a file."""
    tree = ast.parse(path.read_text(), str(path))
    out: list[tuple[str, bool, int]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.ImportFrom) and child.module and child.level == 0 and child.module.startswith("qcc"):
                for alias in child.names:
                    full = f"{child.module}.{alias.name}"
                    out.append((full if full in MODULES else child.module, in_function, child.lineno))
                    if alias.name.startswith("_"):
                        out.append((f"private name {full}", in_function, child.lineno))
            elif isinstance(child, ast.Import):
                out.extend((a.name, in_function, child.lineno) for a in child.names if a.name.startswith("qcc"))
            if isinstance(child, ast.If) and isinstance(child.test, ast.Name) and child.test.id == "TYPE_CHECKING":
                continue  # annotations only: no import at run time
            visit(child, nested)

    visit(tree, False)
    return out


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module: str) -> None:
    path = MODULES[module]
    problems = []
    for target, in_function, line in _imports(path):
        where = f"{path.relative_to(ROOT)}:{line}: {module} imports {target}"
        if target.startswith("private name "):
            problems.append(f"{path.relative_to(ROOT)}:{line}: {module} imports the {target}; make it public or keep it home")
            continue
        if in_function and module not in LAZY_IMPORTS_ALLOWED:
            problems.append(f"{where} inside a function")
        if layer_of(target) > layer_of(module):
            problems.append(f"{where}, a higher layer")
        if module.startswith("qcc.passes.") and target.startswith("qcc.passes.") and target != module:
            problems.append(f"{where}: passes import no other pass")
        if module.startswith("qcc.backends.") and target.startswith("qcc.passes"):
            problems.append(f"{where}: backends import no pass")
    assert not problems, "\n".join(problems)


def test_every_module_is_in_a_layer() -> None:
    assert MODULES, "no modules found"
    assert all(0 <= layer_of(m) < len(LAYERS) for m in MODULES)
