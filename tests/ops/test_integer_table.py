"""The integer op table (qcc.ops.integer) is the one list of integer ops: every op in it has all
its pieces (quantize lowering, reference kernel, C lowering or a stated refusal), and no piece
exists for an op it does not declare. A toy op added through ``qcc.integer_ops.add_integer_op``
quantizes, runs in the reference and compiles to C, byte-equal."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pytest

import qcc.backends.c  # noqa: F401  (registers the C rules)
import qcc.quant  # noqa: F401  (registers the lowerings)
from qcc.backends.c import lower_graph
from qcc.backends.c.rules_compute import lower_requantize
from qcc.backends.c.runtime import build_programs
from qcc.backends.c.steps import RULES as C_RULES
from qcc.backends.c.verify import verify_samples
from qcc.backends.numpy_int.executor import run_integer
from qcc.backends.numpy_int.kernels import INT_KERNELS, qrequantize
from qcc.integer_ops import add_integer_op
from qcc.interp.kernels import KERNELS
from qcc.ir import parse
from qcc.ir.ops import all_ops, define_op, get_op
from qcc.ir.types import TensorType
from qcc.ops.integer import INTEGER_OPS, IntegerOp, integer_op
from qcc.pipeline import PassContext, run_pipeline
from qcc.quant.lowering import RULES as LOWERINGS
from qcc.quant.lowering import Lowerer, int_dtype

PLAIN_PATH_FLOAT_OPS = {"cast"}  # lowered by the integer-data path (rules_integer), not by op name


@pytest.mark.parametrize("name", sorted(INTEGER_OPS))
def test_every_declared_op_has_its_pieces(name: str) -> None:
    op = INTEGER_OPS[name]
    get_op(name)  # an op of the IR
    if op.kind in ("compute", "boundary"):
        assert name in INT_KERNELS, f"{name}: no reference kernel"
    else:
        assert name in KERNELS, f"{name}: its float kernel is what the reference runs on integers"
    if op.kind != "boundary":
        assert (name in C_RULES) == (op.c_refusal is None), f"{name}: a C lowering xor a stated refusal"
    for float_op in op.lowered_from:
        if op.kind == "plain" or float_op in PLAIN_PATH_FLOAT_OPS:
            continue
        assert float_op in LOWERINGS, f"{name} is lowered from '{float_op}', which has no quantize rule"


def test_no_piece_exists_for_an_undeclared_op() -> None:
    declared = set(INTEGER_OPS)
    assert set(INT_KERNELS) <= declared, sorted(set(INT_KERNELS) - declared)
    assert set(C_RULES) <= declared, sorted(set(C_RULES) - declared)
    q_ops = {name for name in all_ops() if name.startswith("q.")}
    assert q_ops <= declared, sorted(q_ops - declared)
    lowered = {f for op in INTEGER_OPS.values() for f in op.lowered_from}
    assert set(LOWERINGS) <= lowered, f"quantize rules for float ops the table never mentions: {sorted(set(LOWERINGS) - lowered)}"


# ---- a toy op through the single entry point --------------------------------------------------


@pytest.fixture
def toy_op() -> Any:
    """Float op `toy_double` (y = 2x) and its integer op `q.toy_double`, which computes a requantize
    with M = 2 * s_in / s_out (so it reuses the requantize kernels: the point is the wiring)."""

    @define_op("toy_double", ["x"])
    def _toy(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
        """y = 2x (a test op)."""
        return [types[0]]

    @define_op("q.toy_double", ["x"], get_op("q.requantize").attrs)
    def _qtoy(types: Sequence[TensorType], attrs: Mapping[str, Any]) -> list[TensorType]:
        """2x on integers (a test op)."""
        return get_op("q.requantize").infer(types, attrs)

    KERNELS.register("toy_double")(lambda xs, attrs: [2 * xs[0]])

    def lower(lw: Lowerer, node: Any) -> None:
        x = lw.operand(node.inputs[0], 8)
        out = lw.qparams(node.result, 8)
        m, s = lw.multiplier(2 * float(x.type.quant.scale) / float(out.scale), bound=255)
        attrs = dict(in_zp=int(x.type.quant.zero_point), multiplier=m, shift=s, out_zp=int(out.zero_point),
                     qmin=-128, qmax=127, rounding=lw.rounding, dtype=int_dtype(8))
        lw.result(node.result, lw.add("q.toy_double", [x], attrs, name=node.result.name, quant=out))

    added = add_integer_op(IntegerOp("q.toy_double", "compute", "2x", ("toy_double",)), lower=lower, reference=qrequantize, c_rule=lower_requantize)
    yield added
    added.remove()
    from qcc.ir import ops as ir_ops

    for name in ("toy_double", "q.toy_double"):
        ir_ops._REGISTRY.pop(name)
    KERNELS.pop("toy_double")


def test_a_toy_op_added_through_the_table_quantizes_runs_and_compiles(toy_op: Any, tmp_path: Path) -> None:
    text = "graph @toy(%x: f32[1,16]) -> (%y: f32[1,16]) {\n  %y = toy_double(%x) : f32[1,16]\n  return %y\n}\n"
    rng = np.random.default_rng(0)
    samples = [{"x": rng.uniform(-1, 1, (1, 16)).astype(np.float32)} for _ in range(4)]
    quantized = run_pipeline(parse(text), "calibrate,quantize", PassContext(calibration=samples))
    assert [n.op for n in quantized.nodes] == ["quantize", "q.toy_double", "dequantize"]
    y = run_integer(quantized, samples[0])["y"]
    assert np.max(np.abs(y - 2 * samples[0]["x"])) < 0.02
    program = lower_graph(quantized, "toy")
    (model,) = build_programs([program])
    assert verify_samples(program, model, samples).samples == 4
    assert toy_op.op.name in INTEGER_OPS


def test_a_piece_registered_twice_is_refused_and_leaves_no_trace(toy_op: Any) -> None:
    with pytest.raises(ValueError, match="already registered"):
        add_integer_op(IntegerOp("q.toy_other", "compute", "", ("toy_double",)), lower=lambda lw, n: None, reference=qrequantize, c_rule=lower_requantize)
    assert "q.toy_other" not in INTEGER_OPS and "q.toy_other" not in INT_KERNELS
