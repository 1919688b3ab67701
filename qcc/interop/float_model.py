"""The float model of a QDQ export: what AIMET's workflow ships next to its encodings file.

Activation QuantizeLinear/DequantizeLinear pairs are removed and every dequantized initializer
(weights, biases) becomes its real values, so the float model carries qcc's learned weights (CLE,
AdaRound, bias correction) exactly: quantizing them with the file's parameters gives qcc's integers.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper


def _dequantized(inits: dict[str, onnx.TensorProto], node: onnx.NodeProto) -> np.ndarray:
    data = numpy_helper.to_array(inits[node.input[0]]).astype(np.float64)
    scale = numpy_helper.to_array(inits[node.input[1]]).astype(np.float64)
    zp = numpy_helper.to_array(inits[node.input[2]]).astype(np.float64) if len(node.input) > 2 and node.input[2] else np.zeros_like(scale)
    axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
    if scale.ndim == 1 and data.ndim > 0:
        shape = [1] * data.ndim
        shape[axis] = -1
        scale, zp = scale.reshape(shape), zp.reshape(shape)
    return ((data - zp) * scale).astype(np.float32)


def strip_qdq(qdq: onnx.ModelProto) -> onnx.ModelProto:
    """A float copy of ``qdq`` without quantization nodes (graph inputs and outputs keep their names)."""
    graph = qdq.graph
    inits = {t.name: t for t in graph.initializer}
    outputs = {o.name for o in graph.output}
    rename: dict[str, str] = {}  # tensor -> the tensor that replaces it
    floats: list[onnx.TensorProto] = []
    producers = {out: n for n in graph.node for out in n.output}
    for node in graph.node:
        if node.op_type != "DequantizeLinear":
            continue
        source = node.input[0]
        if source in inits:  # a weight or bias: its real values, under the weight's own name
            floats.append(numpy_helper.from_array(_dequantized(inits, node), source))
            rename[node.output[0]] = source
        elif source in producers and producers[source].op_type == "QuantizeLinear":
            rename[node.output[0]] = producers[source].input[0]

    def resolve(name: str) -> str:
        while name in rename:
            name = rename[name]
        return name

    # an output that was a DequantizeLinear result: the float tensor behind it takes the output's name
    alias = {resolve(o): o for o in outputs if resolve(o) != o}
    kept = [n for n in graph.node if n.op_type not in ("QuantizeLinear", "DequantizeLinear")]
    nodes = []
    for n in kept:
        new = onnx.NodeProto()
        new.CopyFrom(n)
        new.input[:] = [resolve(i) if i else i for i in n.input]
        new.input[:] = [alias.get(i, i) for i in new.input]
        new.output[:] = [alias.get(o, o) for o in n.output]
        nodes.append(new)
    used = {i for n in nodes for i in n.input}
    float_names = {t.name for t in floats}
    initializers = [t for t in floats if t.name in used] + [t for name, t in inits.items() if name in used and name not in float_names]
    out = helper.make_graph(nodes, graph.name, list(graph.input), list(graph.output), initializers)
    model = helper.make_model(out, opset_imports=list(qdq.opset_import), producer_name="qcc")
    model.ir_version = qdq.ir_version
    onnx.checker.check_model(model)
    return model
