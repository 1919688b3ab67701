"""Test harness of the C backend: single-node integer graphs, built many to one module, run by the
C kernels and by the numpy integer reference, compared with ``np.array_equal``.

A case whose reference run raises ``OverflowError`` breaks a precondition the quantize pass would
have proven (an accumulator that does not fit, a left shift that overflows), and one that raises
``IRError`` is refused by the reference itself (a pool window made of padding only): neither is a
valid program, so it is dropped rather than compared; the tests check that most drawn cases are
valid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from hypothesis import strategies as st

from qcc.backends.c import lower_graph
from qcc.backends.c.runtime import build_programs
from qcc.arith.fixedpoint import INT32_MAX
from qcc.backends.numpy_int.executor import run_integer
from qcc.errors import IRError
from qcc.ir import verify
from qcc.ir.core import Graph, Value
from qcc.ir.ops import Tensor
from qcc.ir.types import DType, QuantParams, TensorType

ROUNDINGS = ("double", "single")


@dataclass
class Case:
    """One single-node graph with integer inputs and outputs, and the data to run it on."""

    graph: Graph
    feeds: dict[str, np.ndarray]
    label: str
    force_generic: bool = False
    kernels: list[str] = field(default_factory=list)


def act_type(dtype: DType, shape: Sequence[int], zp: int = 0, scale: float = 0.05) -> TensorType:
    bits = 8 if dtype is DType.I8 else 16
    return TensorType(dtype, tuple(shape), QuantParams(scale, zp if bits == 8 else 0, None, bits))


def random_acts(rng: np.random.Generator, dtype: DType, shape: Sequence[int]) -> np.ndarray:
    """Random activations with the extremes forced in (int16 activations are symmetric)."""
    lo, hi = (-128, 127) if dtype is DType.I8 else (-32767, 32767)
    a = rng.integers(lo, hi + 1, size=tuple(shape))
    flat = a.reshape(-1)
    if flat.size >= 2:
        flat[0], flat[-1] = lo, hi
    return a.astype(dtype.numpy)


def single_node(op: str, inputs: Sequence[tuple[str, Any]], attrs: dict[str, Any], *, result_quant: QuantParams | None = None,
                results: int = 1) -> tuple[Graph, dict[str, np.ndarray]]:
    """A graph whose inputs are ``("x", (TensorType, array))`` graph inputs or ``("w", array)``
    constants, one node, and its results as the graph's (integer) outputs."""
    g = Graph("case")
    values: list[Value] = []
    feeds: dict[str, np.ndarray] = {}
    for name, spec in inputs:
        if isinstance(spec, tuple):
            ttype, data = spec
            v = g.add_input(name, ttype)
            feeds[v.name] = data
        else:
            v = g.add_const(spec, name)
        values.append(v)
    node = g.add_node(op, values, attrs, names="y" if results == 1 else [f"y{i}" for i in range(results)])
    for r in node.results:
        q = result_quant if result_quant is not None else values[0].type.quant
        r.type = TensorType(r.type.dtype, r.type.shape, q if r.type.dtype in (DType.I8, DType.I16) else None)
    g.outputs = list(node.results)
    verify(g)
    return g, feeds


def check_cases(cases: Sequence[Case], min_valid: float = 0.5) -> list[str]:
    """Build every valid case into one module, run, and assert byte equality with the reference.
    Returns the kernels that ran (for tests that must cover a variant)."""
    valid: list[tuple[Case, dict[str, np.ndarray]]] = []
    for case in cases:
        try:
            valid.append((case, run_integer(case.graph, case.feeds)))
        except (OverflowError, IRError):  # the reference refuses the program (e.g. a pool window of padding only)
            continue
    assert len(valid) >= min_valid * len(cases), f"only {len(valid)} of {len(cases)} drawn cases are valid programs"
    programs = [lower_graph(c.graph, f"case{i}", force_generic=c.force_generic) for i, (c, _) in enumerate(valid)]
    models = build_programs(programs) if programs else []
    kernels: list[str] = []
    for (case, reference), program, model in zip(valid, programs, models):
        outs = model.run([case.feeds[io.float_name] for io in program.inputs])
        kernels += [s.kernel for s in program.steps]
        for io, got in zip(program.outputs, outs):
            want = reference[io.float_name]
            assert got.dtype == want.dtype and got.shape == want.shape, case.label
            if not np.array_equal(got, want):
                bad = int(np.count_nonzero(got != want))
                raise AssertionError(f"{case.label} [{', '.join(s.kernel for s in program.steps)}]: {bad} of {want.size} elements differ "
                                     f"(first: got {got.reshape(-1)[np.argmax((got != want).reshape(-1))]}, "
                                     f"want {want.reshape(-1)[np.argmax((got != want).reshape(-1))]})")
    return kernels


# ---- strategies ----------------------------------------------------------------------------------


@st.composite
def multipliers(draw: Any) -> int:
    """Q31 multipliers: the edges (2^30, 2^31 - 1, just below 0x7FFF0000, 0) and random ones."""
    return draw(st.one_of(
        st.sampled_from([1 << 30, (1 << 31) - 1, 0x7FFF0000 - 1, 0x7FFF0000, 0x7FFF8000, (1 << 30) + 1]),
        st.integers(1 << 30, (1 << 31) - 1),
        st.just(0),
    ))


def max_left_shift(bound: int) -> int:
    """The largest shift > 0 the double rule allows for |acc| <= bound (left_shift_fits)."""
    s = 0
    while s < 30 and (bound << (s + 1)) <= INT32_MAX:
        s += 1
    return s


@st.composite
def requant_params(draw: Any, acc_bound: int, acc_bits: int = 32, rounding: str | None = None) -> dict[str, Any]:
    """(multiplier, shift, rounding) valid for accumulators bounded by ``acc_bound``: shifts > 0
    only as far as the double rule's left shift allows; the int64 rule's shift <= 7."""
    rounding = rounding or draw(st.sampled_from(ROUNDINGS))
    if acc_bits == 64:
        hi = 7
    elif rounding == "double":
        hi = max_left_shift(acc_bound)
    else:
        hi = 30
    shift = draw(st.one_of(st.integers(-31, min(hi, 30)), st.sampled_from([-31, min(hi, 30), 0, -1])))
    return {"multiplier": draw(multipliers()), "shift": shift, "rounding": rounding}


def per_channel(draw: Any, channels: int, acc_bound: int, acc_bits: int, rounding: str) -> tuple[Tensor, Tensor]:
    ms, ss = [], []
    for _ in range(channels):
        p = draw(requant_params(acc_bound, acc_bits, rounding))
        ms.append(p["multiplier"])
        ss.append(p["shift"])
    return Tensor(np.array(ms, np.int32)), Tensor(np.array(ss, np.int32))


@st.composite
def output_stage(draw: Any, dtype: DType) -> dict[str, Any]:
    """out_zp and clamp bounds (sometimes narrowed like a fused ReLU)."""
    if dtype is DType.I8:
        zp = draw(st.integers(-128, 127))
        lo, hi = -128, 127
    else:
        zp, lo, hi = 0, -32767, 32767
    if draw(st.booleans()):
        lo = draw(st.integers(lo, zp if dtype is DType.I8 else 0))
        hi = draw(st.integers(max(lo, zp), hi))
    return {"out_zp": zp, "qmin": lo, "qmax": hi, "dtype": dtype}
