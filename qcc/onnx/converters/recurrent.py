"""Converter of the ONNX LSTM, unrolled over its static sequence length into ops qcc already
quantizes and lowers: one gemm projects every time step's input at once, and each step adds a
gemm of the previous hidden state, splits the gates, applies sigmoid/tanh tables and combines them
with element-wise products. A recurrent op of its own would need an integer state kept at one
scale across steps; unrolled, every step's state gets its own calibrated parameters.

Supported: forward, reverse and bidirectional, the default activations (sigmoid, tanh, tanh),
biases, initial states, peepholes, sequence_lens equal to the sequence length, both layouts
(layout=1, batch first, by transposes around the time-major unrolling); not: clip and
input_forget (each is a one-line error naming the node)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qcc.ir.core import Value
from qcc.onnx.converters import NodeContext, converter

DEFAULT_ACTIVATIONS = ("sigmoid", "tanh", "tanh")


def _check_supported(ctx: NodeContext, directions: int, steps: int) -> None:
    ctx.check_attr_in("input_forget", (0,), 0)
    if ctx.attr("clip") is not None:
        raise ctx.unsupported("attribute clip is not supported")
    activations = ctx.attr("activations")
    if activations is not None and tuple(a.lower() for a in activations) != DEFAULT_ACTIVATIONS * directions:
        raise ctx.unsupported(f"activations {list(activations)} are not supported (only Sigmoid, Tanh, Tanh)")
    lengths = ctx.static(4, "sequence_lens")
    if lengths is not None and np.any(np.asarray(lengths) != steps):
        raise ctx.unsupported(f"sequence_lens {np.asarray(lengths).tolist()} differ from the sequence length {steps}")


def _initial_state(ctx: NodeContext, state: Value | None, direction: int, batch: int, hidden: int, tag: str) -> Value | None:
    """An initial state [D, B, H] for one direction as [batch, hidden]; None when absent or a zero
    constant, so the first step skips the terms it would zero."""
    if state is None or (state.data is not None and not np.any(state.data)):
        return None
    one = ctx.emit("slice", [state], {"starts": [direction], "ends": [direction + 1], "axes": [0]}, name=f"{ctx.name}_{tag}{direction}")
    return ctx.emit("reshape", [one], {"shape": [batch, hidden]}, name=f"{ctx.name}_{tag}{direction}_2d")


def _unroll(ctx: NodeContext, rows: Value, states: tuple[Value | None, Value | None], d: int, reverse: bool, steps: int, batch: int,
            hidden: int) -> tuple[list[Value], Value, Value]:
    """One direction: (hidden state of every time step in time order, last hidden, last cell)."""
    w, r = ctx.static(1, "input weights W"), ctx.static(2, "recurrence weights R")
    b = ctx.static(3, "biases B")
    bias = (b[d, : 4 * hidden] + b[d, 4 * hidden :]) if b is not None else np.zeros(4 * hidden, w.dtype)  # type: ignore[union-attr]
    prefix = f"{ctx.name}_{'reverse' if reverse else 'forward'}"
    projected = ctx.emit("gemm", [rows, ctx.const(w[d], f"{prefix}_W"), ctx.const(bias, f"{prefix}_B")], {"trans_b": True}, name=f"{prefix}_x")  # type: ignore[index]
    recurrence = ctx.const(r[d], f"{prefix}_R")  # type: ignore[index]
    h, c = _initial_state(ctx, states[0], d, batch, hidden, "h0_"), _initial_state(ctx, states[1], d, batch, hidden, "c0_")
    p = ctx.static(7, "peephole weights P")
    peep = [ctx.const(p[d, k * hidden : (k + 1) * hidden], f"{prefix}_P{'iof'[k]}") for k in range(3)] if p is not None and np.any(p[d]) else None
    outputs: list[Value | None] = [None] * steps
    for t in (reversed(range(steps)) if reverse else range(steps)):
        at = f"{prefix}_t{t}"
        gates = ctx.emit("slice", [projected], {"starts": [t * batch], "ends": [(t + 1) * batch], "axes": [0]}, name=f"{at}_x")
        if h is not None:
            gates = ctx.emit("add", [gates, ctx.emit("gemm", [h, recurrence], {"trans_b": True}, name=f"{at}_hR")], name=f"{at}_gates")
        i, o, f, g = ctx.emit_multi("split", [gates], {"axis": 1, "sizes": [hidden] * 4}, names=[f"{at}_{k}" for k in "iofc"])
        if peep is not None and c is not None:  # input and forget gates look at the previous cell
            i, f = (ctx.emit("add", [v, ctx.emit("mul", [c, w], name=f"{v.name}_peep")], name=f"{v.name}_p") for v, w in ((i, peep[0]), (f, peep[2])))
        i, f = (ctx.emit("sigmoid", [v], name=f"{v.name}_sigmoid") for v in (i, f))
        g = ctx.emit("tanh", [g], name=f"{at}_c_tanh")
        new = ctx.emit("mul", [i, g], name=f"{at}_ig")
        c = new if c is None else ctx.emit("add", [ctx.emit("mul", [f, c], name=f"{at}_fc"), new], name=f"{at}_cell")
        if peep is not None:  # the output gate looks at the new cell
            o = ctx.emit("add", [o, ctx.emit("mul", [c, peep[1]], name=f"{at}_o_peep")], name=f"{at}_o_p")
        o = ctx.emit("sigmoid", [o], name=f"{o.name}_sigmoid")
        h = ctx.emit("mul", [o, ctx.emit("tanh", [c], name=f"{at}_cell_tanh")], name=f"{at}_hidden")
        outputs[t] = h
    assert h is not None and c is not None
    return [v for v in outputs if v is not None], h, c


def _stack(ctx: NodeContext, parts: Sequence[Value], axis: int, name: str) -> Value:
    return parts[0] if len(parts) == 1 else ctx.emit("concat", list(parts), {"axis": axis}, name=name)


@converter("LSTM")
def lstm(ctx: NodeContext) -> Sequence[Value]:
    """Outputs Y [T, D, B, H], Y_h and Y_c [D, B, H] as ONNX defines them (a reverse direction's
    outputs at their original time positions; batch first with layout=1)."""
    batch_first = ctx.check_attr_in("layout", (0, 1), 0) == 1
    x, states = ctx.input(0), (ctx.optional_input(5), ctx.optional_input(6))
    if batch_first:  # [B, T, I] and states [B, D, H] to time-major
        x = ctx.emit("transpose", [x], {"perm": [1, 0, 2]}, name=f"{ctx.name}_time_major")
        states = tuple(ctx.emit("transpose", [v], {"perm": [1, 0, 2]}, name=f"{v.name}_time_major") if v is not None else None for v in states)  # type: ignore[assignment]
    steps, batch, size = x.type.static_shape
    direction = ctx.check_attr_in("direction", ("forward", "reverse", "bidirectional"), "forward")
    reverses = {"forward": [False], "reverse": [True], "bidirectional": [False, True]}[direction]
    _check_supported(ctx, len(reverses), steps)
    hidden = int(ctx.require_attr("hidden_size"))
    rows = ctx.emit("reshape", [x], {"shape": [steps * batch, size]}, name=f"{ctx.name}_rows")
    ys, hs, cs = [], [], []
    for d, reverse in enumerate(reverses):
        outputs, h, c = _unroll(ctx, rows, states, d, reverse, steps, batch, hidden)
        tag = f"{ctx.name}_{'reverse' if reverse else 'forward'}"
        ys.append(ctx.emit("reshape", [_stack(ctx, outputs, 0, f"{tag}_Y")], {"shape": [steps, 1, batch, hidden]}, name=f"{tag}_Y4"))
        hs.append(ctx.emit("reshape", [h], {"shape": [1, batch, hidden]}, name=f"{tag}_Y_h"))
        cs.append(ctx.emit("reshape", [c], {"shape": [1, batch, hidden]}, name=f"{tag}_Y_c"))
    names = [ctx.proto.output[i] if ctx.output_used(i) else f"{ctx.name}_out{i}" for i in range(3)]
    if not batch_first:
        return [_stack(ctx, parts, axis, name) for parts, axis, name in zip((ys, hs, cs), (1, 0, 0), names)]
    stacked = [_stack(ctx, parts, axis, f"{name}_time_major") for parts, axis, name in zip((ys, hs, cs), (1, 0, 0), names)]
    return [ctx.emit("transpose", [v], {"perm": perm}, name=name) for v, perm, name in zip(stacked, ([2, 0, 1, 3], [1, 0, 2], [1, 0, 2]), names)]
