"""dce: dead-code elimination."""

from __future__ import annotations

from dataclasses import dataclass

from qcc.ir.core import Graph
from qcc.ir.rewrite import remove_dead_code
from qcc.pipeline import Pass, PassContext, PassResult, register_pass


@register_pass
@dataclass(frozen=True)
class DeadCodeElimination(Pass):
    """Remove nodes whose results are never used and constants nobody reads.

    Other rewrites leave producers behind when they reroute uses; this sweeps them up so every
    later pass, and the memory planner, sees only live values."""

    name = "dce"

    def run(self, graph: Graph, ctx: PassContext) -> PassResult:
        return PassResult(graph, remove_dead_code(graph) > 0)
