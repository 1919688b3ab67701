"""Fold ONNX nodes that qcc has no converter for, when every operand is a constant.

Exporters spell shape arithmetic with ops that never survive to run time once input shapes are
fixed (the PyTorch exporter's multi-head attention computes a split index with ``Mod`` on two
constants). Writing an IR op for each of them would add ops no backend ever sees, so a node whose
operands are all constants is evaluated here by the ONNX project's own reference implementation
(``onnx.reference``), and its results become constants.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
from onnx import helper
from onnx.reference import ReferenceEvaluator

from qcc.errors import ModelImportError, UnsupportedOpError
from qcc.onnx.converters import dtype_from_onnx

# Ops whose result is not a function of their operands: folding them would bake one random draw in.
RANDOM_OPS = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli"})


def can_fold(proto: onnx.NodeProto) -> bool:
    """A standard ONNX op whose result depends only on its operands."""
    return proto.domain in ("", "ai.onnx") and onnx.defs.has(proto.op_type) and proto.op_type not in RANDOM_OPS


def fold_constant_node(proto: onnx.NodeProto, operands: Sequence[np.ndarray | None], opset: int, where: str) -> list[np.ndarray]:
    """The results of ``proto`` on constant ``operands`` (None for an omitted optional input)."""
    names = [name if array is not None else "" for name, array in zip(proto.input, operands)]
    feeds = {name: array for name, array in zip(names, operands) if name and array is not None}
    node = helper.make_node(proto.op_type, names, list(proto.output), domain=proto.domain)
    node.attribute.extend(proto.attribute)
    try:
        evaluator = ReferenceEvaluator(node, opsets={"": opset})
        results = evaluator.run(None, feeds)
    except Exception as e:  # noqa: BLE001  (onnx.reference raises many kinds; all mean "cannot fold")
        raise ModelImportError(f"{where}: folding it on constant operands failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    arrays = [np.asarray(r) for r in results]
    for array in arrays:
        try:
            elem_type = helper.np_dtype_to_tensor_dtype(array.dtype)
        except (KeyError, TypeError, ValueError):
            raise UnsupportedOpError(f"{where}: folding it gives {array.dtype} data, which qcc does not support") from None
        dtype_from_onnx(elem_type, where)
    return arrays
