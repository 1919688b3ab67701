"""4-bit weights packed two per byte (csrc/qcc_int4.h, backends/c/packing.py, docs/arithmetic.md §3.1).

The layout: weight i is the low nibble of byte i // 2 when i is even, the high nibble when odd, in
4-bit two's complement, the last high nibble 0 for an odd count. Checked here: the packing against
hand-written bytes and as a round trip; every kernel that takes weights (GEMM and generic
convolution at int8 and int16, depthwise in bands and in rows, transposed convolution, fully
connected fast and generic) fed packed weights gives the numpy reference's bytes, on every vector
path (AVX-512 VNNI, AVX-VNNI, AVX2, portable), with odd weight counts (a final half byte) and the
nibble extremes -8 and 7; a W4A8 model stores half the weight bytes of W8A8 and runs byte-equal.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qcc.backends.c import lower_graph
from qcc.backends.c.emitter import model_c
from qcc.backends.c.footprint import LP64, constant_objects
from qcc.backends.c.packing import pack_int4, unpack_int4
from qcc.backends.c.steps import CBackendError
from qcc.ir.core import Graph, Value
from qcc.ir.ops import Tensor
from qcc.ir.types import DType, QuantParams, TensorType
from tests.backends.c.harness import Case, act_type, check_cases, single_node
from tests.backends.c.test_kernels import SETTINGS, conv_case, gemm_case
from tests.backends.c.test_vnni_paths import path  # noqa: F401  (the per-path build fixture, used by name)

FOUR_BIT = QuantParams(1.0, 0, None, 4)


def test_packing_puts_even_weights_in_the_low_nibble_and_pads_an_odd_count() -> None:
    packed = pack_int4(np.array([1, -1, -8, 7, 3]), "w")
    assert packed.view(np.uint8).tolist() == [0xF1, 0x78, 0x03]
    assert unpack_int4(packed, 5).tolist() == [1, -1, -8, 7, 3]


@given(st.lists(st.integers(-8, 7), max_size=70))
def test_unpacking_inverts_packing(values: list[int]) -> None:
    packed = pack_int4(np.array(values, np.int64), "w")
    assert packed.size == (len(values) + 1) // 2
    assert unpack_int4(packed, len(values)).tolist() == values


def test_a_weight_outside_four_bits_is_one_error_naming_the_node() -> None:
    with pytest.raises(CBackendError, match=r"node 'conv3': a 4-bit weight holds -9 \.\. 7, outside -8 \.\. 7"):
        pack_int4(np.array([-9, 7]), "node 'conv3'")


# ---- kernels -------------------------------------------------------------------------------------


def weight_of(graph: Graph) -> Value:
    return graph.nodes[0].inputs[1]


def as_four_bit(case: Case) -> Case:
    """The same program with its weight constant typed as 4-bit, which the C backend packs."""
    w = weight_of(case.graph)
    w.type = TensorType(w.type.dtype, w.type.shape, FOUR_BIT)
    case.label += " packed-w4"
    return case


def fits_four_bits(case: Case) -> bool:
    w = weight_of(case.graph).const_array
    return bool(w.size == 0 or (w.min() >= -8 and w.max() <= 7))


def four_bit_cases() -> st.SearchStrategy[Case]:
    drawn = st.one_of(conv_case(), conv_case(transposed=True), gemm_case())
    return drawn.filter(fits_four_bits).map(as_four_bit)


def nibble_weights(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Random 4-bit weights with both nibble extremes (-8: the sign bit alone) forced in."""
    w = rng.integers(-8, 8, size=shape)
    flat = w.reshape(-1)
    flat[0], flat[-1] = -8, 7
    flat[1::5] = -8
    return w.astype(np.int8)


def _requant(rng: np.random.Generator, cout: int) -> dict[str, Tensor]:
    return {"multiplier": Tensor(rng.integers(1 << 30, 1 << 31, cout).astype(np.int32)),
            "shift": Tensor(rng.integers(-12, -4, cout).astype(np.int32))}


def conv_program(rng: np.random.Generator, dtype: DType, cin: int, cout: int, groups: int, k: int, stride: int, size: int,
                 *, force_generic: bool = False) -> Case:
    zp = int(rng.integers(-128, 128)) if dtype is DType.I8 else 0
    lo, hi = (-128, 127) if dtype is DType.I8 else (-32767, 32767)
    x = rng.integers(lo, hi + 1, size=(1, cin, size, size)).astype(dtype.numpy)
    w = nibble_weights(rng, (cout, cin // groups, k, k))
    attrs: dict[str, Any] = dict(strides=[stride, stride], pads=[k // 2] * 4, dilations=[1, 1], group=groups, in_zp=zp,
                                 rounding="single", acc_bits=32 if dtype is DType.I8 else 64, out_zp=0, qmin=lo, qmax=hi,
                                 dtype=dtype, **_requant(rng, cout))
    bias = rng.integers(-3000, 3000, cout).astype(np.int32)
    g, feeds = single_node("q.conv", [("x", (act_type(dtype, x.shape, zp), x)), ("w", w), ("b", bias)], attrs)
    label = f"{dtype.value} conv {cin}->{cout} g{groups} k{k} s{stride} {size}x{size} ({w.size} weights)"
    return as_four_bit(Case(g, feeds, label, force_generic=force_generic))


def fc_program(rng: np.random.Generator, dtype: DType, m: int, k: int, n: int, *, force_generic: bool = False) -> Case:
    zp = int(rng.integers(-128, 128)) if dtype is DType.I8 else 0
    lo, hi = (-128, 127) if dtype is DType.I8 else (-32767, 32767)
    a = rng.integers(lo, hi + 1, size=(m, k)).astype(dtype.numpy)
    w = nibble_weights(rng, (n, k))
    attrs: dict[str, Any] = dict(trans_a=False, trans_b=True, in_zp=zp, rounding="double", acc_bits=32 if dtype is DType.I8 else 64,
                                 out_zp=0, qmin=lo, qmax=hi, dtype=dtype, **_requant(rng, n))
    g, feeds = single_node("q.gemm", [("a", (act_type(dtype, a.shape, zp), a)), ("w", w)], attrs)
    return as_four_bit(Case(g, feeds, f"{dtype.value} fc m{m} k{k} n{n}", force_generic=force_generic))


def edge_programs() -> list[Case]:
    """Every weight-reading kernel once or more, with odd weight counts (a final half byte)."""
    rng = np.random.default_rng(4)
    i8, i16 = DType.I8, DType.I16
    return [
        conv_program(rng, i8, 9, 6, 1, 1, 1, 10),      # GEMM, 1x1, K 9: 54 weights, rows padded to 16
        conv_program(rng, i8, 23, 9, 1, 3, 1, 6),      # GEMM, K 207 (odd): rows of 208
        conv_program(rng, i8, 16, 12, 1, 3, 2, 13),    # GEMM, K 144, stride 2
        conv_program(rng, i8, 6, 4, 2, 3, 1, 7),       # grouped GEMM
        conv_program(rng, i8, 3, 3, 3, 3, 1, 40),      # depthwise in bands: 27 weights (odd)
        conv_program(rng, i8, 5, 10, 5, 3, 2, 9),      # depthwise rows (stride 2), multiplier 2: 90 weights
        conv_program(rng, i8, 7, 7, 7, 5, 1, 12),      # depthwise 5x5 in bands: 175 weights (odd)
        conv_program(rng, i8, 5, 3, 1, 3, 1, 6, force_generic=True),   # generic int8: 135 weights (odd)
        conv_program(rng, i16, 8, 5, 1, 3, 1, 9),      # int16 GEMM (int64 accumulators)
        conv_program(rng, i16, 3, 5, 1, 3, 2, 7, force_generic=True),  # generic int16
        fc_program(rng, i8, 2, 65, 7),                 # fast fc: k_stride 80
        fc_program(rng, i8, 1, 200, 3),
        fc_program(rng, i8, 3, 15, 5, force_generic=True),   # generic: 75 weights (odd)
        fc_program(rng, i16, 2, 33, 5),                # int16 fc (generic, int64)
    ]


def transposed_program() -> Case:
    rng = np.random.default_rng(5)
    x = rng.integers(-128, 128, size=(1, 3, 4, 5)).astype(np.int8)
    w = nibble_weights(rng, (3, 5, 3, 3))  # 135 weights (odd)
    attrs: dict[str, Any] = dict(strides=[2, 2], pads=[1, 1, 1, 1], dilations=[1, 1], group=1, in_zp=-3, output_padding=[0, 0],
                                 rounding="double", acc_bits=32, out_zp=1, qmin=-128, qmax=127, dtype=DType.I8, **_requant(rng, 5))
    g, feeds = single_node("q.conv_transpose", [("x", (act_type(DType.I8, x.shape, -3), x)), ("w", w)], attrs)
    return as_four_bit(Case(g, feeds, "conv_transpose 3->5 k3 s2"))


def weight_object_bytes(case: Case) -> int:
    """Bytes of weight data in the objects model.c defines for the case's one node: a weight array
    longer than STRING_THRESHOLD is one string literal (unsigned char) whose object also holds the
    terminating NUL, not counted here, so that an array that crosses the threshold when packed
    compares like one that does not."""
    program = lower_graph(case.graph, "case", force_generic=case.force_generic)
    weights = [o for o in constant_objects(model_c(program)).objects if "_weight" in o.name]
    return sum(o.nbytes(LP64) - (o.ctype == "unsigned char") for o in weights)


def test_four_bit_weights_take_half_the_bytes_of_the_same_weights_at_eight_bits() -> None:
    for case in edge_programs() + [transposed_program()]:
        packed = weight_object_bytes(case)
        w = weight_of(case.graph)
        w.type = TensorType(w.type.dtype, w.type.shape, None)
        unpacked = weight_object_bytes(case)
        assert packed == (unpacked + 1) // 2, case.label


@pytest.mark.usefixtures("path")
def test_every_kernel_reads_packed_weights_like_the_reference() -> None:
    kernels = set(check_cases(edge_programs() + [transposed_program()], min_valid=1.0))
    assert {"qcc_conv_gemm_s8", "qcc_conv_gemm_s16", "qcc_conv_depthwise_s8", "qcc_conv_s8", "qcc_conv_s16", "qcc_conv_transpose_s8",
            "qcc_fc_s8", "qcc_fc_generic_s8", "qcc_fc_generic_s16"} <= kernels, kernels


@SETTINGS
@given(st.lists(four_bit_cases(), min_size=10, max_size=10))
def test_random_programs_with_packed_weights(cases: list[Case]) -> None:
    check_cases(cases)


@pytest.mark.slow  # the native path runs the test above by default; this rebuilds it per path
@pytest.mark.usefixtures("path")
@SETTINGS
@given(st.lists(four_bit_cases(), min_size=10, max_size=10))
def test_random_programs_with_packed_weights_on_every_path(cases: list[Case]) -> None:
    check_cases(cases)
