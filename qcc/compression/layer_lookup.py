"""Finding the convolution a compression option names: users know a layer by its ONNX output name
(the node's name in printed IR) or by its weight's name, so both are accepted."""

from __future__ import annotations

from qcc.errors import PipelineError
from qcc.ir.core import Graph, Node


def find_conv(graph: Graph, name: str, pass_name: str) -> Node:
    """The conv whose result or weight is called ``name``; one-line error otherwise."""
    for node in graph.nodes:
        if node.name == name or (len(node.inputs) > 1 and node.inputs[1].name == name):
            if node.op != "conv":
                raise PipelineError(f"{pass_name}: layer '{name}' is a {node.op}, not a conv")
            return node
    convs = [n.name for n in graph.nodes if n.op == "conv"]
    shown = ", ".join(convs[:8]) + (", ..." if len(convs) > 8 else "")
    raise PipelineError(f"{pass_name}: no layer '{name}' (convs: {shown or 'none'})")
