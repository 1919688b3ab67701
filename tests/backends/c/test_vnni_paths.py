"""Every vector path of the int8 dot-product kernels gives the same bytes as the numpy reference.

qcc_simd.h picks the path at compile time (AVX-512 VNNI, AVX-VNNI, AVX2, portable C), so each
path is a separate build of the kernel library: ``QCC_EXTRA_CFLAGS`` turns features off after
``-march=native``. A path this CPU cannot run (or a compiler without the flag) is skipped; each
test first checks which path the flags really select, so no path is tested twice by accident.
The programs are the hypothesis convolution and fully connected cases of test_kernels.py plus
fixed ones at the edges: reductions that are not a multiple of 4, 16 or 64, zero points -128 and
127, weights at -127 and 127, pixel counts that leave partial vectors, a bias correction
(128 + zp) * sum w beyond int32 that only the wrap-around of int32 arithmetic makes exact, and
depthwise bands in the arena (a row wider than a band, several bands, dilation).
"""

from __future__ import annotations

import platform
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qcc.backends.c.build import BUILD_FLAGS, csrc_dir, find_compiler
from qcc.ir.ops import Tensor
from qcc.ir.types import DType
from tests.backends.c.harness import Case, act_type, check_cases, single_node
from tests.backends.c.test_kernels import SETTINGS, conv_case, gemm_case

# path name -> (flags after -march=native, the /proc/cpuinfo flag the CPU needs, QCC_VNNI, __AVX2__)
PATHS = {
    "avx512-vnni": ("", "avx512_vnni", 512, True),
    "avx-vnni": ("-mno-avx512vnni", "avx_vnni", 256, True),
    "avx2": ("-mno-avx512vnni -mno-avxvnni", "avx2", 0, True),
    "portable": ("-mno-avx512vnni -mno-avxvnni -mno-avx2", "", 0, False),
}


def _selected(flags: str) -> tuple[int, bool] | None:
    """(QCC_VNNI, __AVX2__ defined) as the compiler sees them with these flags; None if it refuses."""
    cmd = [*find_compiler(), *BUILD_FLAGS, "-march=native", *flags.split(), "-I", str(csrc_dir()), "-E", "-dM", "-x", "c", "-"]
    r = subprocess.run(cmd, input='#include "qcc_simd.h"\n', capture_output=True, text=True)
    if r.returncode != 0:
        return None
    vnni = re.search(r"#define QCC_VNNI (\d+)", r.stdout)
    return (int(vnni.group(1)) if vnni else -1, "#define __AVX2__ 1" in r.stdout)


def use_path(name: str, spec: tuple[str, str, int, bool], monkeypatch: pytest.MonkeyPatch) -> str:
    """Make this test's builds use the kernel path ``name`` (flags, CPU flag, expected QCC_VNNI, AVX2),
    or skip when this CPU or compiler cannot select it."""
    flags, cpu_flag, vnni, avx2 = spec
    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("the vector paths are x86-64 ones")
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    if cpu_flag and not re.search(rf"\b{cpu_flag}\b", cpuinfo):
        pytest.skip(f"this CPU has no {cpu_flag}")
    if _selected(flags) != (vnni, avx2):
        pytest.skip(f"the compiler does not select the {name} path with -march=native {flags}")
    monkeypatch.delenv("QCC_NO_NATIVE", raising=False)
    monkeypatch.setenv("QCC_EXTRA_CFLAGS", flags)
    return name


@pytest.fixture(params=list(PATHS))
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Builds in this test use the kernel path named by the parameter."""
    return use_path(request.param, PATHS[request.param], monkeypatch)


def _requant(rng: np.random.Generator, cout: int) -> dict[str, Tensor]:
    return {"multiplier": Tensor(rng.integers(1 << 30, 1 << 31, cout).astype(np.int32)),
            "shift": Tensor(rng.integers(-16, -8, cout).astype(np.int32))}


def _edge_weights(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Random weights with both ends of the symmetric int8 range forced in."""
    w = rng.integers(-127, 128, size=shape)
    flat = w.reshape(-1)
    flat[0], flat[-1] = -127, 127
    flat[1::7] = 127
    return w.astype(np.int8)


def edge_conv_cases() -> list[Case]:
    rng = np.random.default_rng(11)
    cases = []
    shapes = [  # (cin, cout, kernel, stride, pad, size): K = cin * k * k
        (9, 6, 1, 1, 0, 10),    # 1x1, K 9: a partial group of 4 channels; 100 pixels: partial vectors
        (13, 5, 1, 1, 0, 9),    # 1x1, K 13
        (64, 8, 1, 1, 0, 11),   # 1x1, K 64: whole vectors; 121 pixels
        (3, 16, 3, 2, 1, 17),   # K 27 with borders and stride 2
        (5, 7, 3, 1, 1, 8),     # K 45
        (23, 9, 3, 1, 0, 6),    # K 207: not a multiple of 4, 16 or 64
        (16, 12, 3, 1, 1, 13),  # K 144
    ]
    for i, (cin, cout, k, stride, pad, size) in enumerate(shapes):
        for zp in (-128, 127):
            x = rng.integers(-128, 128, size=(1, cin, size, size)).astype(np.int8)
            x.reshape(-1)[:2] = (-128, 127)
            w = _edge_weights(rng, (cout, cin, k, k))
            attrs = dict(strides=[stride, stride], pads=[pad] * 4, dilations=[1, 1], group=1, in_zp=zp, rounding="double",
                         acc_bits=32, out_zp=int(rng.integers(-20, 20)), qmin=-128, qmax=127, dtype=DType.I8, **_requant(rng, cout))
            bias = rng.integers(-5000, 5000, cout).astype(np.int32)
            inputs = [("x", (act_type(DType.I8, x.shape, zp), x)), ("w", w)] + ([("b", bias)] if i % 2 else [])
            g, feeds = single_node("q.conv", inputs, attrs)
            cases.append(Case(g, feeds, f"conv {cin}->{cout} k{k} s{stride} {size}x{size} zp{zp}"))
    return cases


def edge_direct_cases() -> list[Case]:
    """Convolutions larger than 1x1 with 3 or a multiple of 4 channels per group, which the VNNI
    builds compute from a band of interleaved input rows (one phase per stride offset) instead of
    a panel (qcc_conv_direct.c): dilation, asymmetric pads, kernels that are not square, groups, a
    1-D convolution, strides 2 and 3 (with dilation, odd sizes, pads larger than the stride), an
    RGB stem (7x7 stride 2, one zero channel), an image tall enough for several bands, one so wide
    that no band fits the scratch (the panel path runs), and 7 channels (not c4 order: panel)."""
    rng = np.random.default_rng(14)
    cases = []
    shapes = [  # (cin, cout, kernel, stride, dilation, pads [top, left, bottom, right], groups, input size)
        (8, 6, (3, 3), 1, 2, [2, 2, 2, 2], 1, (12, 10)),
        (4, 9, (5, 3), 1, 1, [0, 2, 1, 0], 1, (9, 11)),
        (16, 8, (3, 3), 1, 1, [1, 1, 1, 1], 2, (8, 8)),
        (64, 8, (3, 3), 1, 1, [1, 1, 1, 1], 1, (60, 40)),
        (4, 4, (3, 3), 1, 1, [1, 1, 1, 1], 1, (3, 600)),
        (12, 5, (5,), 1, 1, [2, 2], 1, (37,)),
        (7, 6, (3, 3), 1, 1, [1, 1, 1, 1], 1, (10, 9)),
        (8, 6, (3, 3), 2, 1, [1, 1, 1, 1], 1, (13, 16)),
        (4, 5, (3, 2), 3, 2, [3, 0, 2, 1], 1, (17, 14)),
        (3, 16, (7, 7), 2, 1, [3, 3, 3, 3], 1, (30, 33)),
        (3, 4, (3, 3), 1, 1, [1, 1, 1, 1], 1, (6, 7)),
    ]
    for cin, cout, kernel, stride, dil, pads, groups, size in shapes:
        zp = int(rng.integers(-128, 128))
        x = rng.integers(-128, 128, size=(1, cin, *size)).astype(np.int8)
        w = _edge_weights(rng, (cout, cin // groups, *kernel))
        attrs = dict(strides=[stride] * len(size), pads=pads, dilations=[dil] * len(size), group=groups, in_zp=zp, rounding="double",
                     acc_bits=32, out_zp=int(rng.integers(-20, 20)), qmin=-128, qmax=127, dtype=DType.I8, **_requant(rng, cout))
        bias = rng.integers(-5000, 5000, cout).astype(np.int32)
        g, feeds = single_node("q.conv", [("x", (act_type(DType.I8, x.shape, zp), x)), ("w", w), ("b", bias)], attrs)
        cases.append(Case(g, feeds, f"conv {cin}->{cout} k{kernel} s{stride} d{dil} pads{pads} g{groups} {size}"))
    return cases


def edge_strided_pointwise_cases() -> list[Case]:
    """1x1 convolutions with a stride, whose VNNI panel takes every stride-th input column
    (qcc_vnni.h): odd and even widths at stride 2 (the vector loop must not read past the last
    column), stride 3, 6 channels (a partial group of 4), end pads only (padding taps: the general
    panel runs), and a 3-D one at stride 1 (one contiguous run per channel)."""
    rng = np.random.default_rng(15)
    cases = []
    for cin, cout, stride, pads, size in [(8, 5, 2, [0, 0, 0, 0], (15, 37)), (6, 7, 2, [0, 0, 0, 0], (10, 34)),
                                          (12, 4, 3, [0, 0, 0, 0], (11, 50)), (8, 4, 1, [0, 0, 1, 2], (5, 6)),
                                          (9, 5, 1, [0] * 6, (4, 5, 2))]:
        zp = int(rng.integers(-128, 128))
        x = rng.integers(-128, 128, size=(1, cin, *size)).astype(np.int8)
        w = _edge_weights(rng, (cout, cin) + (1,) * len(size))
        attrs = dict(strides=[stride] * len(size), pads=pads, dilations=[1] * len(size), group=1, in_zp=zp, rounding="double", acc_bits=32,
                     out_zp=0, qmin=-128, qmax=127, dtype=DType.I8, **_requant(rng, cout))
        g, feeds = single_node("q.conv", [("x", (act_type(DType.I8, x.shape, zp), x)), ("w", w)], attrs)
        cases.append(Case(g, feeds, f"conv {cin}->{cout} k1 s{stride} pads{pads} {size}"))
    return cases


def edge_depthwise_cases() -> list[Case]:
    """The stride-1 depthwise kernel's bands in the arena: one row wider than a whole band
    (2100 columns), several bands over a tall image, dilation 2, a channel multiplier of 2."""
    rng = np.random.default_rng(13)
    cases = []
    for cin, mult, k, dil, (h, w) in [(3, 1, 3, 1, (5, 2100)), (4, 2, 3, 2, (40, 30)), (2, 1, 5, 1, (9, 300))]:
        zp = int(rng.integers(-128, 128))
        x = rng.integers(-128, 128, size=(1, cin, h, w)).astype(np.int8)
        wt = _edge_weights(rng, (cin * mult, 1, k, k))
        pad = dil * (k // 2)
        attrs = dict(strides=[1, 1], pads=[pad] * 4, dilations=[dil, dil], group=cin, in_zp=zp, rounding="double", acc_bits=32,
                     out_zp=0, qmin=-128, qmax=127, dtype=DType.I8, **_requant(rng, cin * mult))
        g, feeds = single_node("q.conv", [("x", (act_type(DType.I8, x.shape, zp), x)), ("w", wt)], attrs)
        cases.append(Case(g, feeds, f"depthwise {cin}x{mult} k{k} d{dil} {h}x{w}"))
    return cases


def edge_fc_cases() -> list[Case]:
    rng = np.random.default_rng(12)
    cases = []
    for k in (1, 15, 17, 63, 64, 65, 130, 200):
        for zp in (-128, 127):
            m, n = 1 + k % 3, 1 + k % 7
            a = rng.integers(-128, 128, size=(m, k)).astype(np.int8)
            w = _edge_weights(rng, (n, k))
            attrs = dict(trans_a=False, trans_b=True, in_zp=zp, rounding="single", acc_bits=32, out_zp=3, qmin=-128, qmax=127,
                         **_requant(rng, n))
            g, feeds = single_node("q.gemm", [("a", (act_type(DType.I8, a.shape, zp), a)), ("w", w)], attrs)
            cases.append(Case(g, feeds, f"fc m{m} k{k} n{n} zp{zp}"))
    return cases


def wrapping_correction_case() -> Case:
    """x == zp everywhere, so the true sum is the bias alone, while (128 + zp) * sum w is about
    2.3e9: the folded bias and the partial sums wrap, the result must not."""
    k, n, zp = 70000, 4, 127
    a = np.full((1, k), zp, np.int8)
    w = np.full((n, k), 127, np.int8)
    bias = np.array([1000, -1000, 0, 123456], np.int32)
    attrs = dict(trans_a=False, trans_b=True, in_zp=zp, rounding="double", acc_bits=32, out_zp=0, qmin=-128, qmax=127,
                 multiplier=Tensor(np.full(n, 1 << 30, np.int32)), shift=Tensor(np.full(n, -10, np.int32)))
    g, feeds = single_node("q.gemm", [("a", (act_type(DType.I8, a.shape, zp), a)), ("w", w), ("b", bias)], attrs)
    return Case(g, feeds, "fc k70000 with a correction beyond int32")


def test_edge_programs_on_every_path(path: str) -> None:
    cases = edge_conv_cases() + edge_direct_cases() + edge_strided_pointwise_cases() + edge_depthwise_cases() + edge_fc_cases() + [wrapping_correction_case()]
    kernels = set(check_cases(cases, min_valid=1.0))
    assert {"qcc_conv_gemm_s8", "qcc_conv_depthwise_s8", "qcc_fc_s8"} <= kernels, kernels


@pytest.mark.slow  # the native path runs these in test_kernels.py by default; this rebuilds them per path
@SETTINGS
@given(st.lists(st.one_of(conv_case(), gemm_case()), min_size=10, max_size=10))
def test_random_programs_on_every_path(path: str, cases: list[Case]) -> None:
    check_cases(cases)
