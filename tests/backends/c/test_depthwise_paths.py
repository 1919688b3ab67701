"""The int8 depthwise convolution and the int8 table lookup give the numpy reference's bytes on every
vector path.

qcc_depthwise.c (vpermb + vpdpbusd) and the vpermi2b table lookup compile only with AVX-512 VBMI;
``-mno-avx512vbmi`` builds the row kernels of qcc_conv.c with the rest of the AVX-512 VNNI code, and
the paths of test_vnni_paths.py cover AVX-VNNI, AVX2 and portable C. A path the CPU or compiler
cannot give is skipped. The fixed shapes sit at the vector path's edges: output widths that leave a
partial vector of 16 (1, 7, 15, 17, 33), kernels of 1 to 7 taps per row (a group of 4 taps padded
with zero weights, two groups), strides 1 to 4 and dilation (the permutation's reach, 15 * sw + 3 * dw
up to 63) and stride 5 (beyond it: the row kernel), asymmetric pads wider than the kernel's reach,
channel multipliers, several bands of rows, a batch of 2, both ends of the input zero point and of
the weights, and 4-bit weights.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qcc.ir.ops import Tensor
from qcc.ir.types import DType, QuantParams, TensorType
from tests.backends.c.harness import Case, act_type, check_cases, single_node
from tests.backends.c.test_kernels import SETTINGS
from tests.backends.c.test_vnni_paths import PATHS, use_path

VECTOR_PATHS = {  # name -> (flags after -march=native, the /proc/cpuinfo flag the CPU needs, QCC_VNNI, __AVX2__)
    "avx512-vbmi": ("", "avx512vbmi", 512, True),
    "avx512-no-vbmi": ("-mno-avx512vbmi", "avx512_vnni", 512, True),
    **{name: PATHS[name] for name in ("avx-vnni", "avx2", "portable")},
}
FOUR_BIT = QuantParams(1.0, 0, None, 4)


@pytest.fixture(params=list(VECTOR_PATHS))
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Builds in this test use the kernel path named by the parameter."""
    return use_path(request.param, VECTOR_PATHS[request.param], monkeypatch)


def depthwise_case(rng: np.random.Generator, *, cin: int, mult: int, kernel: tuple[int, int], stride: tuple[int, int],
                   dilation: tuple[int, int], pads: tuple[int, int, int, int], size: tuple[int, int], batch: int = 1,
                   zp: int | None = None, four_bit: bool = False, with_bias: bool = True) -> Case:
    """One depthwise q.conv with random data, extremes of input and weights forced in."""
    zp = int(rng.integers(-128, 128)) if zp is None else zp
    cout = cin * mult
    wmax = 7 if four_bit else 127
    w = rng.integers(-wmax - (1 if four_bit else 0), wmax + 1, size=(cout, 1, *kernel))
    w.reshape(-1)[0], w.reshape(-1)[-1] = -wmax, wmax
    x = rng.integers(-128, 128, size=(batch, cin, *size)).astype(np.int8)
    x.reshape(-1)[: min(2, x.size)] = (-128, 127)[: min(2, x.size)]
    attrs: dict[str, Any] = dict(strides=list(stride), pads=list(pads), dilations=list(dilation), group=cin, in_zp=zp,
                                 rounding=str(rng.choice(["double", "single"])), acc_bits=32, out_zp=int(rng.integers(-20, 20)),
                                 qmin=-128, qmax=127, dtype=DType.I8,
                                 multiplier=Tensor(rng.integers(1 << 30, 1 << 31, cout).astype(np.int32)),
                                 shift=Tensor(rng.integers(-14, -6, cout).astype(np.int32)))
    inputs: list[tuple[str, Any]] = [("x", (act_type(DType.I8, x.shape, zp), x)), ("w", w.astype(np.int8))]
    if with_bias:
        inputs.append(("b", rng.integers(-20000, 20000, cout).astype(np.int32)))
    g, feeds = single_node("q.conv", inputs, attrs)
    if four_bit:
        weight = g.nodes[0].inputs[1]
        weight.type = TensorType(weight.type.dtype, weight.type.shape, FOUR_BIT)
    label = f"depthwise {cin}x{mult} b{batch} k{kernel} s{stride} d{dilation} p{pads} {size} zp{zp}{' w4' if four_bit else ''}"
    return Case(g, feeds, label)


def edge_depthwise_cases() -> list[Case]:
    rng = np.random.default_rng(21)
    shapes = [  # cin, mult, kernel, stride, dilation, pads (top, left, bottom, right), size
        (3, 1, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), (9, 17)),      # 17 columns: one whole vector and one lane
        (5, 1, (3, 3), (2, 2), (1, 1), (1, 1, 1, 1), (30, 31)),     # stride 2, 16 output columns
        (4, 2, (3, 3), (2, 2), (1, 1), (0, 0, 1, 1), (33, 66)),     # asymmetric pads, multiplier 2, 33 output columns
        (2, 1, (5, 5), (1, 1), (1, 1), (2, 2, 2, 2), (14, 14)),     # 5 taps per row: two groups, 14 columns (the classifier)
        (2, 1, (5, 5), (2, 2), (1, 1), (2, 2, 2, 2), (28, 28)),     # 5x5 stride 2
        (3, 1, (7, 7), (1, 1), (1, 1), (3, 3, 3, 3), (11, 7)),      # 7 taps: a group of 4 and one of 3
        (2, 3, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0), (4, 15)),      # 1x1 depthwise: 3 zero weights per lane
        (2, 1, (3, 3), (1, 1), (2, 2), (2, 2, 2, 2), (40, 30)),     # dilation 2
        (1, 1, (3, 3), (3, 3), (1, 1), (1, 1, 1, 1), (20, 50)),     # stride 3
        (2, 1, (3, 3), (4, 1), (1, 4), (4, 4, 4, 4), (23, 23)),     # 15 * 1 + 3 * 4 = 27 reach, row stride 4
        (2, 1, (2, 2), (4, 4), (1, 1), (0, 0, 1, 1), (9, 70)),      # stride 4: reach 63, the last one the vector path takes
        (2, 1, (3, 3), (5, 5), (1, 1), (1, 1, 1, 1), (12, 40)),     # stride 5: the row kernel on every path
        (1, 1, (3, 3), (1, 1), (1, 1), (3, 4, 2, 5), (5, 6)),       # pads beyond the kernel's reach: rows of padding only
        (2, 1, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), (3, 1)),       # one column
        (3, 1, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), (200, 130)),   # several bands of rows
        (2, 1, (1, 3), (1, 2), (1, 1), (0, 1, 0, 1), (1, 45)),      # a 1-D convolution (height 1)
    ]
    cases = [depthwise_case(rng, cin=c, mult=m, kernel=k, stride=s, dilation=d, pads=p, size=sz) for c, m, k, s, d, p, sz in shapes]
    cases.append(depthwise_case(rng, cin=3, mult=1, kernel=(3, 3), stride=(2, 2), dilation=(1, 1), pads=(1, 1, 1, 1), size=(15, 15),
                                batch=2, zp=-128, with_bias=False))
    cases.append(depthwise_case(rng, cin=3, mult=1, kernel=(3, 3), stride=(1, 1), dilation=(1, 1), pads=(1, 1, 1, 1), size=(15, 19),
                                zp=127))
    cases.append(depthwise_case(rng, cin=4, mult=1, kernel=(5, 5), stride=(2, 2), dilation=(1, 1), pads=(2, 2, 2, 2), size=(19, 37),
                                four_bit=True))
    return cases


def lut_cases() -> list[Case]:
    """Every int8 value through a random table, in counts around the vector width of 64."""
    rng = np.random.default_rng(22)
    cases = []
    for count in (1, 63, 64, 65, 256, 1000):
        x = np.resize(np.arange(-128, 128, dtype=np.int8), count)
        rng.shuffle(x)
        table = rng.integers(-128, 128, 256).astype(np.int8)
        g, feeds = single_node("q.lut", [("x", (act_type(DType.I8, (1, count)), x.reshape(1, count)))],
                               {"table": Tensor(table), "dtype": DType.I8})
        cases.append(Case(g, feeds, f"q.lut i8 count {count}"))
    return cases


def test_depthwise_and_table_edges_on_every_path(path: str) -> None:
    kernels = check_cases(edge_depthwise_cases() + lut_cases(), min_valid=1.0)
    assert {"qcc_conv_depthwise_s8", "qcc_lut_s8"} <= set(kernels), kernels


@st.composite
def random_depthwise_case(draw: Any) -> Case:
    """Any depthwise shape the int8 kernel takes: kernel 1-6 per axis, stride 1-3, dilation 1-2."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kernel = (draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    pads = tuple(draw(st.integers(0, (k - 1) * d)) for k, d in (*zip(kernel, dilation), *zip(kernel, dilation)))
    span = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    size = tuple(draw(st.integers(max(1, s - pads[i] - pads[i + 2]), 40)) for i, s in enumerate(span))
    return depthwise_case(rng, cin=draw(st.integers(1, 5)), mult=draw(st.integers(1, 2)), kernel=kernel, stride=stride,
                          dilation=dilation, pads=pads, size=size, batch=draw(st.integers(1, 2)),  # type: ignore[arg-type]
                          four_bit=draw(st.booleans()), with_bias=draw(st.booleans()))


@pytest.mark.slow
@SETTINGS
@given(st.lists(random_depthwise_case(), min_size=12, max_size=12))
def test_random_depthwise_on_every_path(path: str, cases: list[Case]) -> None:
    check_cases(cases)
