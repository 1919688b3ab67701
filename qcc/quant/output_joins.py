"""Graph outputs that join differently-ranged tensors keep each part's precision
(docs/arithmetic.md §3.17).

A detector head concatenates boxes (0..640) with class scores (0..1) and returns the result. One
scale for the joined tensor would round every score to zero, so a concat whose result reaches a
graph output only through data movement (``OUTPUT_MOVEMENT_OPS``) keeps per-axis activation
parameters along the joined axis: each index carries the scale and zero point of the part it came
from. This module holds the graph analysis and the parameter algebra of that rule; the quantize
pass's concat/reshape/transpose lowerings apply it. Nothing here reads or writes integers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from qcc.arith.params import activation_params, params_range
from qcc.ir.core import Graph, Node
from qcc.ir.types import QuantParams

OUTPUT_MOVEMENT_OPS = frozenset({"concat", "reshape", "transpose"})
"""Ops that move integers without changing their meaning and can carry per-axis parameters."""


def output_bound_values(graph: Graph) -> frozenset[int]:
    """Ids of the values that reach the graph's outputs only through ``OUTPUT_MOVEMENT_OPS``: each
    is a graph output, or has users that are all such ops with output-bound results. Only those
    may hold per-axis activation parameters, since only the float boundary reads them."""
    outputs = {id(v) for v in graph.outputs}
    bound: set[int] = set()
    for node in reversed(graph.nodes):
        for value in node.results:
            if id(value) in outputs or (value.users and all(_forwards(user, bound) for user in value.users)):
                bound.add(id(value))
    for value in graph.inputs:
        if id(value) in outputs:
            bound.add(id(value))
    return frozenset(bound)


def _forwards(user: Node, bound: set[int]) -> bool:
    """Whether ``user`` passes its data movement on to output-bound results only. Reshape's shape
    operand and transpose have a single data operand; concat may take a value twice."""
    return user.op in OUTPUT_MOVEMENT_OPS and all(id(r) in bound for r in user.results)


# ---- per-axis parameter algebra -----------------------------------------------------------------


def entries(q: QuantParams, length: int) -> list[tuple[float, int]]:
    """(scale, zero point) of each of ``length`` indices along the parameters' axis (a per-tensor
    parameter set repeats its one entry)."""
    if q.axis is None:
        return [(q.scale_value(), q.zero_point_value())] * length
    return list(zip(q.scales(), q.zero_points()))


def from_entries(pairs: Sequence[tuple[float, int]], axis: int, bits: int) -> QuantParams:
    """Per-axis parameters from per-index entries, or per-tensor ones when all entries agree
    (the canonical form: per-axis only where the ranges really differ)."""
    if all(p == pairs[0] for p in pairs):
        return QuantParams(pairs[0][0], pairs[0][1], None, bits)
    return QuantParams(tuple(float(s) for s, _ in pairs), tuple(int(z) for _, z in pairs), axis, bits)


def entry_range(scale: float, zero_point: int, bits: int) -> tuple[float, float]:
    return params_range(QuantParams(scale, zero_point, None, bits))


def union_entries(columns: Sequence[Sequence[tuple[float, int]]], bits: int) -> list[tuple[float, int]]:
    """Per index, parameters covering the union of every part's range there: the entry of a part
    whose range already covers the others' (that part then needs no requantize), else parameters
    chosen for the union."""
    out = []
    for per_part in zip(*columns):
        ranges = [entry_range(s, z, bits) for s, z in per_part]
        lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
        covering = [p for p, r in zip(per_part, ranges) if r[0] <= lo and r[1] >= hi]
        if covering:
            out.append(covering[0])
            continue
        q = activation_params(lo, hi, bits)
        out.append((q.scale_value(), q.zero_point_value()))
    return out


def joined_params(parts: Sequence[QuantParams], extents: Sequence[int], axis: int, bits: int) -> QuantParams:
    """Parameters of a concat along ``axis`` that keeps each part's own: every index along the
    joined axis carries its part's entry. Parts must be per-tensor or per-axis along ``axis``."""
    pairs: list[tuple[float, int]] = []
    for q, extent in zip(parts, extents):
        pairs += entries(q, extent)
    return from_entries(pairs, axis, bits)


def common_axis(parts: Sequence[QuantParams]) -> int | None | str:
    """The one axis the per-axis parts share, None when every part is per-tensor, or "mixed" when
    per-axis parts disagree on their axis."""
    axes = {q.axis for q in parts if q.axis is not None}
    if not axes:
        return None
    return axes.pop() if len(axes) == 1 else "mixed"


def reshaped_axis(in_shape: Sequence[int], out_shape: Sequence[int], axis: int) -> int | None:
    """Where ``axis`` of ``in_shape`` lands after a reshape to ``out_shape`` when it survives as one
    whole axis (same length, same number of elements before it), else None."""
    before = math.prod(in_shape[:axis])
    for b, length in enumerate(out_shape):
        if math.prod(out_shape[:b]) == before and length == in_shape[axis]:
            return b
    return None


def transposed_axis(perm: Sequence[int], axis: int) -> int:
    """Where ``axis`` lands after a transpose with ``perm`` (result axis i is input axis perm[i])."""
    return list(perm).index(axis)


def per_tensor_union(q: QuantParams) -> QuantParams:
    """The single parameter set covering every entry's range: the fallback when an axis cannot be
    carried on."""
    pairs = entries(q, len(q.scale) if isinstance(q.scale, tuple) else 1)
    scale, zero_point = union_entries([[pair] for pair in pairs], q.bits)[0]
    return QuantParams(scale, zero_point, None, q.bits)
