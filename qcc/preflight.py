"""The pre-flight check: before calibration or any PTQ pass reads data, find every node that the
integer op set, the chosen target or the C backend cannot run, and refuse them all in one line.

It runs the quantize pass's own lowering rules on the float graph with placeholder ranges
(``Lowerer(preflight=True)``), so what it refuses is exactly what ``quantize`` would refuse, not a
second list of rules that could drift; for ``qcc compile`` it then asks the C backend, through the
integer op table, about every integer node the lowering produced. Only structural refusals count
(``NoLowering``: an op without a lowering, unsupported attributes, a feature the target lacks);
what depends on the real ranges (accumulator and bias widths) is left to the real run.
"""

from __future__ import annotations

from collections.abc import Callable

from qcc.backends.c.lowering import c_refusal
from qcc.errors import PipelineError
from qcc.ir.core import Graph, Node
from qcc.quant.lowering import Lowerer, Settings
from qcc.quant.scheme import scheme_for_target
from qcc.targets import DEFAULT_TARGET, Target, get_target

Refusal = tuple[str, str, str]  # (node name, op, reason)


def unsupported_nodes(graph: Graph, target: Target | None = None, *, c_backend: bool = True) -> list[Refusal]:
    """Every node of a float graph that cannot be quantized (and, with ``c_backend``, compiled to C)
    for the graph's scheme, or the target's defaults when the graph has none yet."""
    target = target or get_target(graph.scheme.target if graph.scheme is not None else DEFAULT_TARGET)
    scheme = graph.scheme if graph.scheme is not None else scheme_for_target(target)
    lowerer = Lowerer(graph, Settings.from_scheme(scheme, graph), preflight=True)
    quantized = lowerer.run()
    refusals = [(node.name, node.op, _reason(node, message)) for node, message in lowerer.refusals]
    if c_backend:
        refused = {name for name, _, _ in refusals}
        for node in quantized.nodes:
            if node.op in ("quantize", "dequantize") or node.name in refused:
                continue
            reason = c_refusal(node)
            if reason is not None:
                refusals.append((node.name, node.op, f"{reason} (C backend)"))
    return refusals


def check_graph(graph: Graph, target: Target | None = None, *, c_backend: bool = True) -> None:
    """Raise one error naming every node that cannot be lowered (nothing if all can)."""
    refusals = unsupported_nodes(graph, target, c_backend=c_backend)
    if refusals:
        listed = "; ".join(f"'{name}' ({op}): {reason}" for name, op, reason in refusals)
        noun = "node" if len(refusals) == 1 else "nodes"
        raise PipelineError(f"{len(refusals)} {noun} cannot be lowered to integers, found before any data was read: {listed}")


def preflight_hook(target: Target | None, *, c_backend: bool) -> Callable[[Graph], None]:
    """A ``PassContext.preflight`` for a pipeline that ends in quantize (and, for compile, in C)."""
    return lambda graph: check_graph(graph, target, c_backend=c_backend)


def _reason(node: Node, message: str) -> str:
    """The reason alone: rules phrase errors as "node 'x' (op): reason"."""
    prefix = f"node '{node.name}' ({node.op})"
    if message.startswith(prefix):
        return message[len(prefix):].lstrip(": ").strip() or "no integer lowering"
    return message
