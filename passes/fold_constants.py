"""fold-constants: evaluate nodes whose operands are all constants."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qcc.interp.interpreter import evaluate
from qcc.ir.core import Graph
from qcc.ir.rewrite import remove_dead_code
from qcc.pipeline import Pass, PassContext, PassResult, register_pass


@register_pass
@dataclass(frozen=True)
class FoldConstants(Pass):
    """Replace every node whose operands are all constants by the constant it computes.

    Uses the float interpreter's kernels, so folding means exactly what running would mean. The
    importer already folds as it goes; this pass catches what other rewrites expose (a weight
    transposed by a layout pass, a scale multiplied into a constant). Quantized (q.*) nodes are
    left alone: their results carry quantization parameters a float kernel cannot produce."""

    name = "fold-constants"

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        folded = 0
        for node in list(graph.nodes):
            if node.op.startswith("q.") or node.op in ("quantize", "dequantize"):
                continue
            if not node.inputs or not all(v.is_const for v in node.inputs):
                continue
            arrays = evaluate(node.op, [v.const_array for v in node.inputs], node.attrs)
            consts = []
            for result, array in zip(node.results, arrays):
                const = graph.add_const(np.asarray(array, dtype=result.type.dtype.numpy), result.name)
                graph.replace_all_uses_with(result, const)
                consts.append((const, result.name))
            graph.remove_node(node)
            for const, name in consts:  # the constant takes over the folded result's name
                graph.rename(const, name)
            folded += 1
        if folded:
            remove_dead_code(graph)
        return PassResult(graph, folded > 0)
