"""Recognize the statistics a normalization is built from, however the exporter wrote them: a mean
as ReduceMean or as ReduceSum times 1/N (or divided by N), a variance as the mean of squared
deviations or as E[x^2] - E[x]^2 (optionally clamped at zero), and 1/sqrt(var + eps) as Reciprocal
of Sqrt, 1 / Sqrt or Pow -0.5. Keep-dims reshapes in between are looked through."""

from __future__ import annotations

import math
from dataclasses import dataclass

from qcc.ir.core import Node, Value
from qcc.ir.rewrite import const_operand, uniform_constant


@dataclass(frozen=True)
class Statistic:
    """A statistic of ``source`` over ``axes``, computed by ``nodes``."""

    source: Value
    axes: tuple[int, ...]
    nodes: tuple[Node, ...]


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(d for d in shape if d != 1)


def through_reshapes(value: Value) -> tuple[Value, list[Node]]:
    """The value before any reshapes that only add or drop size-1 dims (keepdims spelled as a
    Reshape or Unsqueeze), and those reshapes."""
    nodes: list[Node] = []
    node = value.producer
    while node is not None and node.op == "reshape" and _squeezed(node.inputs[0].type.static_shape) == _squeezed(value.type.static_shape):
        nodes.append(node)
        value = node.inputs[0]
        node = value.producer
    return value, nodes


def scalar(value: Value) -> float | None:
    """The value of a constant whose elements are all equal, else None."""
    found = uniform_constant(value)
    return float(found) if found is not None else None


def _reduced_axes(node: Node) -> tuple[int, ...]:
    axes = tuple(node.attr("axes"))
    return axes if axes else tuple(range(node.inputs[0].type.rank))


def mean_of(value: Value) -> Statistic | None:
    """``value`` as the mean of a tensor over some axes: ReduceMean, or ReduceSum scaled by 1/N."""
    core, nodes = through_reshapes(value)
    node = core.producer
    if node is None:
        return None
    if node.op == "reduce_mean":
        return Statistic(node.inputs[0], _reduced_axes(node), (*nodes, node))
    found = const_operand(node) if node.op in ("mul", "div") else None
    if found is None or (factor := scalar(found[1])) is None or (node.op == "div" and found[0] != 1):
        return None
    total, more = through_reshapes(node.inputs[1 - found[0]])
    reduce = total.producer
    if reduce is None or reduce.op != "reduce_sum" or factor == 0.0:
        return None
    axes = _reduced_axes(reduce)
    count = math.prod(reduce.inputs[0].type.static_shape[a] for a in axes)
    per_element = factor if node.op == "mul" else 1.0 / factor
    if not math.isclose(per_element * count, 1.0, rel_tol=1e-6):
        return None
    return Statistic(reduce.inputs[0], axes, (*nodes, node, *more, reduce))


def square_of(value: Value) -> tuple[Value, Node] | None:
    """(x, node) for ``value`` = x * x or Pow(x, 2)."""
    node = value.producer
    if node is None:
        return None
    if node.op == "mul" and node.inputs[0] is node.inputs[1]:
        return node.inputs[0], node
    if node.op == "pow" and node.inputs[1].is_const and scalar(node.inputs[1]) == 2.0:
        return node.inputs[0], node
    return None


def centered(value: Value) -> Statistic | None:
    """``value`` = x - mean(x) over some axes: the deviation whose mean square is the variance."""
    node = value.producer
    if node is None or node.op != "sub":
        return None
    x, mean = node.inputs
    found = mean_of(mean)
    if found is None or found.source is not x:
        return None
    return Statistic(x, found.axes, (node, *found.nodes))


def _without_zero_clamp(value: Value) -> tuple[Value, list[Node]]:
    """Look through Max(v, 0) or Relu(v): the variance is never negative in exact arithmetic, and
    the layer_norm op clamps its own."""
    core, nodes = through_reshapes(value)
    node = core.producer
    if node is not None and node.op == "relu":
        inner, more = through_reshapes(node.inputs[0])
        return inner, [*nodes, node, *more]
    found = const_operand(node) if node is not None and node.op == "max" else None
    if found is not None and scalar(found[1]) == 0.0:
        inner, more = through_reshapes(node.inputs[1 - found[0]])  # type: ignore[union-attr]
        return inner, [*nodes, node, *more]  # type: ignore[list-item]
    return core, nodes


def variance_of(value: Value, x: Value, axes: tuple[int, ...]) -> tuple[Node, ...] | None:
    """The nodes computing ``value`` as the biased variance of ``x`` over ``axes``, else None."""
    core, nodes = _without_zero_clamp(value)
    mean_square = mean_of(core)
    if mean_square is not None and mean_square.axes == axes:  # mean((x - mean(x))^2)
        squared = square_of(mean_square.source)
        deviation = centered(squared[0]) if squared is not None else None
        if deviation is not None and deviation.source is x and deviation.axes == axes:
            return (*nodes, *mean_square.nodes, squared[1], *deviation.nodes)  # type: ignore[index]
        return None
    node = core.producer
    if node is None or node.op != "sub":  # mean(x^2) - mean(x)^2
        return None
    first, second = mean_of(node.inputs[0]), square_of(node.inputs[1])
    if first is None or second is None or first.axes != axes:
        return None
    x_squared, mean_x = square_of(first.source), mean_of(second[0])
    if x_squared is None or x_squared[0] is not x or mean_x is None or mean_x.source is not x or mean_x.axes != axes:
        return None
    return (*nodes, node, *first.nodes, x_squared[1], second[1], *mean_x.nodes)


@dataclass(frozen=True)
class InverseStd:
    """``1 / sqrt(variance + epsilon)`` or ``sqrt(variance + epsilon)``, and the nodes computing it."""

    variance: Value
    epsilon: float
    nodes: tuple[Node, ...]


def _plus_epsilon(value: Value) -> tuple[Value, float, list[Node]]:
    core, nodes = through_reshapes(value)
    node = core.producer
    found = const_operand(node) if node is not None and node.op == "add" else None
    if found is not None and (eps := scalar(found[1])) is not None and eps >= 0.0:
        return node.inputs[1 - found[0]], eps, [*nodes, node]  # type: ignore[union-attr,list-item]
    return core, 0.0, nodes


def std_of(value: Value) -> InverseStd | None:
    """``value`` = sqrt(v + eps)."""
    core, nodes = through_reshapes(value)
    node = core.producer
    if node is None or node.op != "sqrt":
        return None
    variance, eps, more = _plus_epsilon(node.inputs[0])
    return InverseStd(variance, eps, (*nodes, node, *more))


def inverse_std_of(value: Value) -> InverseStd | None:
    """``value`` = 1 / sqrt(v + eps) as Reciprocal(Sqrt), Div(1, Sqrt) or Pow(v + eps, -0.5)."""
    core, nodes = through_reshapes(value)
    node = core.producer
    if node is None:
        return None
    if node.op == "pow" and node.inputs[1].is_const and scalar(node.inputs[1]) == -0.5:
        variance, eps, more = _plus_epsilon(node.inputs[0])
        return InverseStd(variance, eps, (*nodes, node, *more))
    is_reciprocal = node.op == "reciprocal" or (node.op == "div" and node.inputs[0].is_const and scalar(node.inputs[0]) == 1.0)
    std = std_of(node.inputs[-1]) if is_reciprocal else None
    return InverseStd(std.variance, std.epsilon, (*nodes, node, *std.nodes)) if std is not None else None
