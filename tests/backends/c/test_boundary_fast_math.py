"""The boundary quantize helper (csrc/qcc_boundary.c, docs/arithmetic.md §1.2) built the way
firmware is often built, with ``-Ofast`` / ``-ffast-math``: NaN, infinities and huge values still
give the defined result, byte for byte equal to the numpy reference (``quantize_real``).

Before the fix the NaN test was ``x != x``, which fast-math deletes: NaN then reached the
float -> int conversion (undefined) and was not counted.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcc.arith.fixedpoint import activation_range, quantize_real
from qcc.backends.c.build import build_executable, kernel_sources

HAVE_CC = shutil.which("cc") is not None or shutil.which("gcc") is not None
pytestmark = pytest.mark.skipif(not HAVE_CC, reason="needs a C compiler")

DRIVER = Path(__file__).parent / "drivers" / "boundary_main.c"
FLAG_SETS = (("-O2",), ("-Ofast",), ("-O2", "-ffast-math"))
SPECIAL = np.array([np.nan, -np.nan, np.inf, -np.inf, 3.4e38, -3.4e38, 1e30, -1e30, 1e-45, -0.0, 0.0], dtype=np.float32)
# NaN payloads the compiler never produces itself: a signalling NaN and a negative one with a payload
ODD_NANS = np.array([0x7F800001, 0xFFC00123], dtype=np.uint32).view(np.float32)


@pytest.fixture(scope="module", params=FLAG_SETS, ids=lambda flags: " ".join(flags))
def boundary(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("boundary")
    shutil.copy(DRIVER, work / DRIVER.name)
    kernels = kernel_sources(["qcc_boundary.c", "qcc_kernels.h", "qcc_arith.h"])
    return build_executable(work, [DRIVER.name], kernels, request.param, output="boundary")


def run_boundary(exe: Path, x: np.ndarray, scale: float, zp: int, bits: int) -> tuple[np.ndarray, int]:
    """The C helper's integers and NaN count for float32 values ``x``."""
    work = exe.parent
    np.ascontiguousarray(x, dtype=np.float32).tofile(work / "in.f32")
    r = subprocess.run([str(exe), "in.f32", "out.bin", str(x.size), float(np.float32(scale)).hex(), str(zp), str(bits)],
                       cwd=work, capture_output=True, text=True, check=True)
    return np.fromfile(work / "out.bin", np.int8 if bits <= 8 else np.int16), int(r.stdout)


def reference(x: np.ndarray, scale: float, zp: int, bits: int) -> tuple[np.ndarray, int]:
    """quantize_real on the numbers; NaN, which has no quantized value, written as zp and counted
    (what the C helper documents; the runtime then refuses the input)."""
    qmin, qmax = activation_range(bits)
    nan = np.isnan(x)
    q = np.full(x.shape, zp, dtype=np.int64)
    q[~nan] = quantize_real(x[~nan], np.float32(scale), zp, qmin, qmax)
    return q.astype(np.int8 if bits <= 8 else np.int16), int(nan.sum())


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    values=st.lists(st.floats(width=32, allow_nan=True, allow_infinity=True), min_size=1, max_size=64),
    scale=st.one_of(st.floats(2.0**-126, 1024.0, width=32), st.sampled_from([2.0**-126, 1.0 / 127, 0.1, 1.0])),
    zp=st.integers(-128, 127),
    bits=st.sampled_from([8, 16, 2, 3, 4, 5, 6, 7]),  # below 8: int8 storage on a narrower grid (§3.19)
)
def test_quantize_helper_equals_the_reference_under_fast_math(boundary: Path, values: list[float], scale: float, zp: int, bits: int) -> None:
    x = np.concatenate([SPECIAL, ODD_NANS, np.array(values, dtype=np.float32)])
    qmin, qmax = activation_range(bits)
    zp = int(np.clip(zp, qmin, qmax)) if bits <= 8 else 0
    got, nans = run_boundary(boundary, x, scale, zp, bits)
    want, want_nans = reference(x, scale, zp, bits)
    assert nans == want_nans
    assert got.tobytes() == want.tobytes()
