"""Small random graphs for the PTQ property tests: chains of convolutions (full, depthwise, grouped)
or gemms joined by ReLU / ReLU6 / nothing, fused into the layer or as separate nodes, with per-channel
weight scales spread over orders of magnitude (what batch-norm folding does to real models)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qcc.interp.interpreter import run
from qcc.ir import parse, print_graph, verify
from qcc.ir.core import Graph
from qcc.ir.types import DType, TensorType


@dataclass(frozen=True)
class LayerSpec:
    kind: str  # "conv" (3x3 pad 1), "pw" (1x1), "dw" (3x3 depthwise pad 1), "group2" (1x1, 2 groups)
    out: int  # output channels (ignored for dw)
    act: str  # "none", "relu", "relu6"
    fused: bool  # activation as the layer's act_min/act_max (else a separate node)
    bias: bool


def copy_graph(graph: Graph) -> Graph:
    text, blobs = print_graph(graph)
    return parse(text, blobs)


def conv_chain(rng: np.random.Generator, c_in: int, layers: list[LayerSpec], size: int = 4, spread: float = 3.0) -> Graph:
    """x [1, c_in, size, size] through the layers; the last value is the output."""
    g = Graph("chain")
    v = g.add_input("x", TensorType(DType.F32, (1, c_in, size, size)))
    c = c_in
    for i, spec in enumerate(layers):
        if spec.kind == "dw":
            out, group, k, pad = c, c, 3, 1
        elif spec.kind == "group2" and c % 2 == 0 and spec.out % 2 == 0:
            out, group, k, pad = spec.out, 2, 1, 0
        elif spec.kind == "conv":
            out, group, k, pad = spec.out, 1, 3, 1
        else:
            out, group, k, pad = spec.out, 1, 1, 0
        w = rng.standard_normal((out, c // group, k, k)) * np.exp(rng.uniform(-spread, spread, (out, 1, 1, 1)))
        operands = [v, g.add_const(w.astype(np.float32), f"w{i}")]
        if spec.bias:
            operands.append(g.add_const(rng.standard_normal(out).astype(np.float32), f"b{i}"))
        attrs = {"strides": [1, 1], "pads": [pad] * 4, "dilations": [1, 1], "group": group}
        if spec.fused and spec.act != "none":
            attrs["act_min"] = 0.0
            if spec.act == "relu6":
                attrs["act_max"] = 6.0
        v = g.add_node("conv", operands, attrs, names=f"c{i}").result
        if not spec.fused and spec.act == "relu":
            v = g.add_node("relu", [v], names=f"r{i}").result
        elif not spec.fused and spec.act == "relu6":
            v = g.add_node("clip", [v], {"min": 0.0, "max": 6.0}, names=f"r{i}").result
        c = out
    g.outputs = [v]
    verify(g)
    return g


def gemm_chain(rng: np.random.Generator, sizes: list[int], acts: list[str], spread: float = 3.0) -> Graph:
    """a [1, sizes[0]] through gemms (alternating trans_b) with the given activations between."""
    g = Graph("mlp")
    v = g.add_input("a", TensorType(DType.F32, (1, sizes[0])))
    for i, (k, n) in enumerate(zip(sizes, sizes[1:])):
        trans_b = i % 2 == 0
        w = rng.standard_normal((n, k)) * np.exp(rng.uniform(-spread, spread, (n, 1)))
        b = w if trans_b else w.T
        attrs = {"trans_b": trans_b}
        act = acts[i] if i < len(acts) else "none"
        if act == "relu":
            attrs["act_min"] = 0.0
        v = g.add_node("gemm", [v, g.add_const(np.ascontiguousarray(b).astype(np.float32), f"B{i}"), g.add_const(rng.standard_normal(n).astype(np.float32), f"C{i}")], attrs, names=f"g{i}").result
    g.outputs = [v]
    verify(g)
    return g


def outputs(graph: Graph, xs: np.ndarray) -> np.ndarray:
    name = graph.inputs[0].name
    return np.concatenate([next(iter(run(graph, {name: x[None]}).values())) for x in xs])


def samples(graph: Graph, n: int, rng: np.random.Generator, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    shape = graph.inputs[0].type.shape
    return rng.uniform(low, high, (n, *shape[1:])).astype(np.float32)
