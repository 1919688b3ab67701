"""The kernel library (csrc/) is compiled once per compiler and flags, in a cache of its own: a
second model, even with an empty module cache, compiles only its own sources, for the build and
for the stack measurement."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qcc.backends.c import build, stack
from qcc.backends.c.emitter import emit_sources
from qcc.backends.c.footprint import program_stack
from qcc.backends.c.kernel_cache import prebuild_kernels
from qcc.backends.c.lowering import lower_graph
from qcc.backends.c.runtime import build_programs
from tests.quant.example_model import quantized

pytestmark = pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None, reason="needs a C compiler")


def _compile_and_measure(name: str) -> int:
    program = lower_graph(quantized(), name)
    sources = emit_sources(program)
    (model,) = build_programs([program])
    measured = program_stack(program, sources["model.c"], sources["model.h"])
    assert measured is not None and measured.bytes > 0
    return measured.bytes


def _record_compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The .c files every later compiler run gets (build and stack measurement)."""
    compiled: list[str] = []
    original = build.run_compiler

    def recording(cmd: list[str], cwd: Path, what: str) -> None:
        compiled.extend(Path(arg).name for arg in cmd if arg.endswith(".c"))
        original(cmd, cwd, what)

    monkeypatch.setattr(build, "run_compiler", recording)
    monkeypatch.setattr(stack, "run_compiler", recording)
    return compiled


def _only_the_models_own(compiled: list[str]) -> None:
    assert [name for name in compiled if build.is_kernel_file(name)] == []
    assert compiled.count("model.c") == 2  # the module's object and the stack's call graph
    assert {name for name in compiled if name != "model.c"} == {next(n for n in compiled if n.startswith("_qcc_c_"))}  # cffi's wrapper


def test_a_second_model_compiles_only_its_own_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QCC_KERNEL_CACHE_DIR", str(tmp_path / "kernels"))
    monkeypatch.setenv("QCC_CACHE_DIR", str(tmp_path / "first"))
    first_stack = _compile_and_measure("first")
    assert list((tmp_path / "kernels" / "objects").glob("qcc_*.o")) and list((tmp_path / "kernels" / "stack").glob("qcc_*.ci"))

    monkeypatch.setenv("QCC_CACHE_DIR", str(tmp_path / "second"))  # an empty module cache
    compiled = _record_compiles(monkeypatch)
    assert _compile_and_measure("second") == first_stack
    _only_the_models_own(compiled)


def test_a_prebuilt_library_leaves_the_first_model_only_its_own_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QCC_KERNEL_CACHE_DIR", str(tmp_path / "kernels"))
    monkeypatch.setenv("QCC_CACHE_DIR", str(tmp_path / "modules"))
    assert prebuild_kernels() > 0
    library = {p.name for p in build.csrc_dir().glob("*.c")}
    assert {p.name.split("-")[0] + ".c" for p in (tmp_path / "kernels" / "objects").glob("*.o")} == library
    compiled = _record_compiles(monkeypatch)
    _compile_and_measure("prebuilt")  # a name of its own: another test's module may be loaded already
    _only_the_models_own(compiled)
