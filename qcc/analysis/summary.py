"""A short human-readable summary of a graph: interface, op histogram, parameters and MACs."""

from __future__ import annotations

import collections

from qcc.analysis.macs import graph_macs
from qcc.ir.core import Graph
from qcc.ir.printer import format_type


def graph_summary(graph: Graph) -> str:
    ops = collections.Counter(n.op for n in graph.nodes)
    params = sum(c.type.size for c in graph.constants)
    const_bytes = sum(c.data.nbytes for c in graph.constants if c.data is not None)
    lines = [
        f"graph @{graph.name}",
        "  inputs:  " + ", ".join(f"%{v.name}: {format_type(v.type)}" for v in graph.inputs),
        "  outputs: " + ", ".join(f"%{v.name}: {format_type(v.type)}" for v in graph.outputs),
        f"  nodes:   {len(graph.nodes)} ("
        + ", ".join(f"{op} x{n}" for op, n in sorted(ops.items(), key=lambda kv: (-kv[1], kv[0])))
        + ")",
        f"  constants: {len(graph.constants)}, {params:,} elements, {const_bytes:,} bytes",
        f"  MACs:    {graph_macs(graph):,}",
    ]
    return "\n".join(lines)
