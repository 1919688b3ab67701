"""The kernel library and generated C under UndefinedBehaviorSanitizer and AddressSanitizer.

Each program is emitted as the standalone check ``qcc compile`` writes (main.c, model.c, model.h),
built with the kernel library by ``cc -fsanitize=undefined,address -fno-sanitize-recover=all``,
run on its inputs from files, and its outputs compared byte for byte with the numpy integer
reference. Any sanitizer report aborts the program, which fails the test with the report.

Programs: the hypothesis kernel cases of ``test_kernels`` (every op family) and the example model
on its test images. The default run takes a few cases; ``-m slow`` runs many more.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from qcc.backends.c import lower_graph
from qcc.backends.c.build import build_executable, kernel_sources
from qcc.backends.c.emitter import emit_sources
from qcc.backends.numpy_int.executor import run_integer
from qcc.cli import main
from qcc.errors import IRError
from qcc.model_io import load_graph
from tests.backends.c import test_kernels as kernel_cases
from tests.backends.c.harness import Case
from tests.quant.example_model import CALIB, MODEL, TEST

HAVE_CC = shutil.which("cc") is not None or shutil.which("gcc") is not None
pytestmark = pytest.mark.skipif(not HAVE_CC, reason="needs a C compiler")

SANITIZE = ("-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=undefined,address", "-fno-sanitize-recover=all")
# leak checking needs ptrace, which containers often forbid; the harness frees what it allocates anyway
SANITIZER_ENV = {"ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0", "UBSAN_OPTIONS": "print_stacktrace=1"}
EVERY_FAMILY = st.one_of(
    kernel_cases.conv_case(), kernel_cases.conv_case(transposed=True), kernel_cases.gemm_case(), kernel_cases.matmul_case(),
    kernel_cases.add_case(), kernel_cases.mul_case(), kernel_cases.requantize_case(), kernel_cases.lut_case(),
    kernel_cases.clip_case(), kernel_cases.prelu_case(), kernel_cases.pool_case(), kernel_cases.reduce_case(),
    kernel_cases.special_case(), kernel_cases.movement_case(),
)


def run_sanitized(exe: Path, args: Sequence[str]) -> None:
    """Run a sanitized program; a sanitizer report (or any failure) fails the test with it."""
    r = subprocess.run([str(exe), *args], cwd=exe.parent, capture_output=True, text=True, env={**os.environ, **SANITIZER_ENV})
    assert r.returncode == 0 and "runtime error" not in r.stderr and "Sanitizer" not in r.stderr, r.stderr[-4000:]


def check_case_sanitized(case: Case, work: Path) -> bool:
    """Build one kernel case as a sanitized standalone program and compare it with the reference.
    False when the reference refuses the drawn program (see harness.check_cases)."""
    try:
        reference = run_integer(case.graph, case.feeds)
    except (OverflowError, IRError):
        return False
    program = lower_graph(case.graph, "case", force_generic=case.force_generic)
    work.mkdir()
    for name, text in emit_sources(program).items():
        (work / name).write_text(text)
    exe = build_executable(work, ["main.c", "model.c"], kernel_sources(program.files), SANITIZE, output="model")
    ins = [f"in{k}.bin" for k in range(len(program.inputs))]
    outs = [f"out{k}.bin" for k in range(len(program.outputs))]
    for name, io in zip(ins, program.inputs):
        np.ascontiguousarray(case.feeds[io.float_name], dtype=io.dtype.numpy).tofile(work / name)
    run_sanitized(exe, ins + outs)
    for name, io in zip(outs, program.outputs):
        want = np.ascontiguousarray(reference[io.float_name])
        assert (work / name).read_bytes() == want.tobytes(), f"{case.label} [{', '.join(s.kernel for s in program.steps)}]"
    return True


def check_cases_sanitized(cases: Sequence[Case], work: Path) -> None:
    valid = sum(check_case_sanitized(case, work / f"case{i}") for i, case in enumerate(cases))
    assert valid >= len(cases) // 2, f"only {valid} of {len(cases)} drawn cases are valid programs"


@settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(cases=st.lists(EVERY_FAMILY, min_size=6, max_size=6), seed=st.integers(0, 2**32 - 1))
def test_kernel_cases_are_clean_under_sanitizers(tmp_path_factory: pytest.TempPathFactory, cases: list[Case], seed: int) -> None:
    check_cases_sanitized(cases, tmp_path_factory.mktemp(f"san{seed}"))


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(cases=st.lists(EVERY_FAMILY, min_size=8, max_size=8), seed=st.integers(0, 2**32 - 1))
def test_many_kernel_cases_are_clean_under_sanitizers(tmp_path_factory: pytest.TempPathFactory, cases: list[Case], seed: int) -> None:
    check_cases_sanitized(cases, tmp_path_factory.mktemp(f"san{seed}"))


def test_example_model_is_clean_under_sanitizers(tmp_path: Path) -> None:
    out = tmp_path / "digits"
    assert main(["compile", str(MODEL), "--calib", str(CALIB), "-o", str(out)]) == 0
    kernels = kernel_sources(sorted(p.name for p in out.glob("qcc_*.[ch]")))
    exe = build_executable(out, ["main.c", "model.c"], kernels, SANITIZE, output="model_sanitized")
    graph = load_graph(out / "model.qir")
    (name,) = [v.name for v in graph.inputs]
    images = np.load(TEST)["input"][:4]
    for i in range(len(images)):
        x = images[i : i + 1].astype(np.float32)
        x.tofile(out / "in.f32")
        run_sanitized(exe, ["-f", "in.f32", "out.f32"])  # float mode: the boundary helpers too
        (want,) = run_integer(graph, {name: x}).values()
        assert (out / "out.f32").read_bytes() == np.ascontiguousarray(want, dtype=np.float32).tobytes()
