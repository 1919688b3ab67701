"""Fold ONNX nodes that qcc has no converter for, when every operand is a constant.

Exporters spell shape arithmetic with ops that never survive to run time once input shapes are
fixed (the PyTorch exporter's multi-head attention computes a split index with ``Mod`` on two
constants). Writing an IR op for each of them would add ops no backend ever sees, so a node whose
operands are all constants is evaluated here by the ONNX project's own reference implementation
(``onnx.reference``), and its results become constants.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import onnx
from onnx import helper
from onnx.reference import ReferenceEvaluator

from qcc.errors import ModelImportError


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
    return [np.asarray(r) for r in results]
